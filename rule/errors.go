package rule

import (
	"errors"
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/schema"
)

// Errors that errors.Is matches. Every error from parsing, resolving and
// loading is an *Error (or a join of them) wrapping one of these, with the
// file, line, column and offending token where they are known.
var (
	// ErrSyntax: rule text that is not valid EQL.
	ErrSyntax = errors.New("rule: syntax error")
	// ErrUnknownField: a field path the schema does not hold. It is
	// schema.ErrUnknownField, so either name matches.
	ErrUnknownField = schema.ErrUnknownField
	// ErrUnknownEventType: an event name that matches no registered event
	// type. It is schema.ErrUnknownEventType.
	ErrUnknownEventType = schema.ErrUnknownEventType
	// ErrTypeMismatch: a literal or operator the field's declared type does
	// not allow (a string compared with a numeric field, a wildcard on a
	// number, ...). It is schema.ErrTypeMismatch.
	ErrTypeMismatch = schema.ErrTypeMismatch
	// ErrUnsupported: something valid in the original Kestrel or in Elastic
	// EQL that this implementation does not run: Lua and Wasm rule packages,
	// pipes, missing-event steps, unknown functions.
	ErrUnsupported = errors.New("rule: unsupported")
	// ErrLimit: a rule beyond one of the bounds (MaxSteps, MaxRuns,
	// MaxDepth, MaxSourceBytes, ...).
	ErrLimit = errors.New("rule: limit exceeded")
	// ErrManifest: a rule package's manifest.json that is missing, not
	// valid JSON, or lacks a required member.
	ErrManifest = errors.New("rule: bad manifest")
	// ErrDuplicateRule: two packages with the same rule_id.
	ErrDuplicateRule = errors.New("rule: duplicate rule_id")
	// ErrSchemaFile: a schema file that cannot be read or registered.
	ErrSchemaFile = errors.New("rule: bad schema file")
)

// Error is a problem at one place of a rule package: a file and, for rule
// text, the 1-based line and column (counted in characters) of the offending
// token. It unwraps to one of the sentinels above.
type Error struct {
	// File is the file at fault ("rules/revshell/rule.eql"); empty for
	// text parsed without a name.
	File string
	// Line and Col locate the token, 1-based; 0 when unknown.
	Line, Col int
	// Token is the offending token as written; empty at end of input or
	// where no token applies.
	Token string
	// Msg says what is wrong.
	Msg string
	// Err is the sentinel (ErrSyntax, ErrUnknownField, ...).
	Err error
}

// Error returns "file:line:col: msg (at "token")".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Col))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	if e.Token != "" {
		b.WriteString(" (at ")
		tok := e.Token
		if len(tok) > 40 {
			tok = tok[:40] + "..."
		}
		b.WriteString(strconv.Quote(tok))
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// UnsupportedError reports a rule package this implementation does not run,
// by rule id and file: a Lua predicate or a Wasm module. It matches
// ErrUnsupported.
type UnsupportedError struct {
	// Dir is the package folder.
	Dir string
	// RuleID is the manifest's rule_id (empty when the manifest could not
	// be read).
	RuleID string
	// File is the rule file found ("predicate.lua", "rule.wasm",
	// "rule.wat").
	File string
	// Kind is the kind of rule the file holds.
	Kind Kind
}

// Error returns "dir: rule ID: predicate.lua: Lua rules are not supported".
func (e *UnsupportedError) Error() string {
	var b strings.Builder
	b.WriteString(e.Dir)
	if e.RuleID != "" {
		b.WriteString(": rule ")
		b.WriteString(e.RuleID)
	}
	b.WriteString(": ")
	b.WriteString(e.File)
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	b.WriteString(" rules are not supported (only rule.eql)")
	return b.String()
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
