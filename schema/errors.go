package schema

import (
	"errors"
	"fmt"

	"github.com/kestrel-sec/kestrel/value"
)

// Errors that errors.Is matches. The typed errors below wrap them with the
// path, ID or value concerned.
var (
	// ErrInvalidPath: a field path that is empty, has an empty segment
	// ("a..b"), a character outside [A-Za-z0-9_@-], or is too long; also an
	// invalid event type name.
	ErrInvalidPath = errors.New("schema: invalid path")
	// ErrDuplicateField: the path is already registered.
	ErrDuplicateField = errors.New("schema: duplicate field")
	// ErrDuplicateEventType: the event type name is already registered.
	ErrDuplicateEventType = errors.New("schema: duplicate event type")
	// ErrPathConflict: the path is a group (a prefix of a field) and cannot
	// be a field, or one of its prefixes is already a field.
	ErrPathConflict = errors.New("schema: path is both a field and a group")
	// ErrDuplicateNamespace: the dynamic namespace prefix is already
	// declared.
	ErrDuplicateNamespace = errors.New("schema: duplicate dynamic namespace")
	// ErrFull: no more IDs of that kind can be handed out.
	ErrFull = errors.New("schema: registry full")
	// ErrUnknownField: a field ID or path that the registry does not hold.
	ErrUnknownField = errors.New("schema: unknown field")
	// ErrUnknownEventType: an event type ID or name the registry does not hold.
	ErrUnknownEventType = errors.New("schema: unknown event type")
	// ErrTypeMismatch: a value whose kind the field's FieldDataType does not
	// accept, even after the coercions listed on FieldDataType.Coerce.
	ErrTypeMismatch = errors.New("schema: type mismatch")
	// ErrMissingType: an event without an event type.
	ErrMissingType = errors.New("schema: event has no type")
	// ErrDuplicateEventField: an event that sets the same field twice.
	ErrDuplicateEventField = errors.New("schema: field set twice in one event")
	// ErrInvalidEvent: an event line that is not a valid event (SyntaxError).
	ErrInvalidEvent = errors.New("schema: invalid event")
	// ErrInvalidFile: a schema File entry whose id is out of place or whose
	// type is unknown.
	ErrInvalidFile = errors.New("schema: invalid schema file")
)

// PathError reports a registration or lookup problem with one path or name.
type PathError struct {
	Path string
	Err  error // one of the sentinels above
	// Detail says more, for example which group or field it conflicts with.
	Detail string
}

// Error describes the sentinel and the path.
func (e *PathError) Error() string {
	msg := fmt.Sprintf("%v %q", e.Err, e.Path)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the sentinel.
func (e *PathError) Unwrap() error { return e.Err }

// TypeError reports a value that a field's declared type does not accept.
type TypeError struct {
	Field FieldID
	Path  string // empty when the registry was not consulted
	Want  FieldDataType
	Got   value.Value
}

// Error describes the field, the value and the type expected.
func (e *TypeError) Error() string {
	name := e.Path
	if name == "" {
		name = fmt.Sprintf("#%d", e.Field)
	}
	return fmt.Sprintf("schema: type mismatch: field %s (id %d) is %v, got %v %s", name, e.Field, e.Want, e.Got.Kind(), truncate(string(e.Got.AppendJSON(nil)), 64))
}

// Unwrap returns ErrTypeMismatch.
func (e *TypeError) Unwrap() error { return ErrTypeMismatch }

// FieldError reports a problem with one field of an event being built.
type FieldError struct {
	Field FieldID
	Path  string
	Err   error // ErrUnknownField or ErrDuplicateEventField
}

// Error describes the field and what is wrong with it.
func (e *FieldError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%v: %q", e.Err, e.Path)
	}
	return fmt.Sprintf("%v: id %d", e.Err, e.Field)
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// SyntaxError reports an event line that is not a valid event; Reason names
// the key (for example "fields.7") and the offending value.
type SyntaxError struct {
	Reason string
	Err    error // an underlying cause, such as a *value.DecodeError
}

// Error describes why the line is not a valid event.
func (e *SyntaxError) Error() string { return "schema: invalid event: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidEvent) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrInvalidEvent }

// Unwrap returns the underlying cause, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("0x%02x", c)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
