package schema

import (
	"github.com/kestrel-sec/kestrel/value"
	"strconv"
)

// Builder builds Events and validates them: an event must have a type and
// may set each field once; given a Registry, every field must be registered
// and its value must fit the field's FieldDataType (after the coercions
// FieldDataType.Coerce lists).
//
// Methods chain and the first error sticks, so a build reads as one
// expression and is checked once, at Build. A Builder is reusable (Reset)
// and allocates nothing per event while the event has at most InlineFields
// fields. It is not safe for concurrent use.
type Builder struct {
	reg *Registry
	ev  Event
	err error
}

// NewBuilder returns a Builder that validates against reg; reg may be nil,
// and then fields are not checked against a schema.
func NewBuilder(reg *Registry) *Builder { return &Builder{reg: reg} }

// Reset starts a new event.
func (b *Builder) Reset() *Builder {
	b.ev.Reset()
	b.err = nil
	return b
}

// ID sets the event_id.
func (b *Builder) ID(id uint64) *Builder { b.ev.ID = id; return b }

// Type sets the event type.
func (b *Builder) Type(t EventTypeID) *Builder {
	if b.err == nil && b.reg != nil {
		if _, ok := b.reg.EventTypeName(t); !ok && t != 0 {
			b.err = &PathError{Path: "#" + strconv.Itoa(int(t)), Err: ErrUnknownEventType}
		}
	}
	b.ev.Type = t
	return b
}

// TypeName sets the event type by its registered name; it needs a Registry.
func (b *Builder) TypeName(name string) *Builder {
	var t EventTypeID
	ok := false
	if b.reg != nil {
		t, ok = b.reg.EventTypeID(name)
	}
	if !ok && b.err == nil {
		b.err = &PathError{Path: name, Err: ErrUnknownEventType}
	}
	b.ev.Type = t
	return b
}

// Mono sets the monotonic timestamp.
func (b *Builder) Mono(ts TimestampMono) *Builder { b.ev.TsMono = ts; return b }

// Wall sets the wall-clock timestamp.
func (b *Builder) Wall(ts TimestampWall) *Builder { b.ev.TsWall = ts; return b }

// Entity sets the entity key.
func (b *Builder) Entity(k EntityKey) *Builder { b.ev.Entity = k; return b }

// Field sets field id to v.
func (b *Builder) Field(id FieldID, v value.Value) *Builder {
	if b.err != nil {
		return b
	}
	path := ""
	if b.reg != nil {
		def, ok := b.reg.Field(id)
		if !ok {
			b.err = &FieldError{Field: id, Err: ErrUnknownField}
			return b
		}
		path = def.Path
		cv, err := def.DataType.Coerce(v)
		if err != nil {
			te := err.(*TypeError)
			te.Field, te.Path = id, path
			b.err = te
			return b
		}
		v = cv
	} else if id == 0 {
		b.err = &FieldError{Field: id, Err: ErrUnknownField}
		return b
	}
	if !b.ev.insert(Field{ID: id, Value: v}) {
		b.err = &FieldError{Field: id, Path: path, Err: ErrDuplicateEventField}
	}
	return b
}

// Path sets the field registered at path to v; it needs a Registry.
func (b *Builder) Path(path string, v value.Value) *Builder {
	if b.err != nil {
		return b
	}
	var id FieldID
	ok := false
	if b.reg != nil {
		id, ok = b.reg.FieldID(path)
	}
	if !ok {
		b.err = &FieldError{Path: path, Err: ErrUnknownField}
		return b
	}
	return b.Field(id, v)
}

// Err returns the first error so far, without finishing the event.
func (b *Builder) Err() error {
	if b.err == nil && b.ev.Type == 0 {
		return ErrMissingType
	}
	return b.err
}

// Build returns the event built so far, or the first error. The returned
// Event owns its fields (a spilled field slice is copied), so the Builder can
// be Reset and reused at once.
func (b *Builder) Build() (Event, error) {
	var ev Event
	if err := b.BuildInto(&ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// BuildInto copies the event built so far into dst (reusing dst's field
// storage), or returns the first error and leaves dst unchanged.
func (b *Builder) BuildInto(dst *Event) error {
	if err := b.Err(); err != nil {
		return err
	}
	dst.CopyFrom(&b.ev)
	return nil
}
