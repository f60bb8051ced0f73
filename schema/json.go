package schema

import (
	"encoding/json"
	"strconv"

	"github.com/bytedance/sonic/ast"

	"github.com/kestrel-sec/kestrel/value"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// AppendJSON appends e's wire form (one line, without the newline) to dst:
//
//	{"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1000000000,"entity_key":0,"fields":{"1":{"String":"/bin/ls"}}}
//
// Fields are written in ID order.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = strconv.AppendUint(dst, e.ID, 10)
	dst = append(dst, `,"event_type_id":`...)
	dst = strconv.AppendUint(dst, uint64(e.Type), 10)
	dst = append(dst, `,"ts_mono_ns":`...)
	dst = strconv.AppendUint(dst, uint64(e.TsMono), 10)
	dst = append(dst, `,"ts_wall_ns":`...)
	dst = strconv.AppendUint(dst, uint64(e.TsWall), 10)
	dst = append(dst, `,"entity_key":`...)
	dst = e.Entity.AppendDecimal(dst)
	dst = append(dst, `,"fields":{`...)
	for i, f := range e.Fields() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, uint64(f.ID), 10)
		dst = append(dst, `":`...)
		dst = f.Value.AppendJSON(dst)
	}
	return append(dst, "}}"...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e *Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler with a Decoder (no registry).
func (e *Event) UnmarshalJSON(data []byte) error {
	var d Decoder
	return d.Decode(data, e)
}

// DefaultMaxFields is the Decoder's default bound on fields per event.
const DefaultMaxFields = 1024

// Decoder decodes event lines with sonic, without building maps: a visitor
// walks the line once and writes straight into the Event. Both shapes of the
// fields member are read: an object keyed by decimal FieldID, and the Rust
// original's array of [id, value] pairs. Variant names may be written as
// "String" or "string".
//
// Every key of the line is required, unknown keys are errors, and a field
// may appear once. The zero Decoder is ready to use; it is not safe for
// concurrent use. Strings in decoded Events are carved from the Decoder's
// arena, never from the input line, so the caller may reuse the line buffer.
type Decoder struct {
	// Registry, when set, makes unknown field IDs and values of the wrong
	// type errors (after FieldDataType.Coerce), and coerces values.
	Registry *Registry
	// MaxFields bounds the fields of one event; 0 means DefaultMaxFields.
	MaxFields int
	// MaxDepth bounds Array nesting in a value; 0 means value.MaxDepth.
	MaxDepth int
	// NoFastPath sends every line through sonic. By default a line in the
	// canonical form recorders write (the keys in order, no white space,
	// Null, I64, U64, Bool and String values) is read by a hand-written
	// scanner about four times faster, which gives the same event (a
	// fuzzer checks both paths against each other); anything else, every
	// error included, goes through sonic. For tests and benchmarks.
	NoFastPath bool

	arena value.Arena
	opts  ast.VisitorOptions
	v     eventVisitor
	fast  fastLine
}

// Decode parses one event line into dst (which is Reset first). On error
// dst holds an unspecified partial event and the error, a *SyntaxError
// matching ErrInvalidEvent, names the key and value at fault.
func (d *Decoder) Decode(line []byte, dst *Event) error {
	return d.DecodeString(unsafeconv.String(line), dst)
}

// DecodeString is Decode for a string.
func (d *Decoder) DecodeString(line string, dst *Event) error {
	if !d.NoFastPath {
		f := &d.fast
		f.reg, f.maxFields, f.arena = d.Registry, d.MaxFields, &d.arena
		if f.maxFields <= 0 {
			f.maxFields = DefaultMaxFields
		}
		if f.decode(unsafeconv.Bytes(line), dst) {
			return nil
		}
	}
	return d.decodeSlow(line, dst)
}

// decodeSlow decodes line with sonic.
func (d *Decoder) decodeSlow(line string, dst *Event) error {
	dst.Reset()
	if err := value.Validate(line); err != nil {
		return &SyntaxError{Reason: trimValuePrefix(err.Error()), Err: err}
	}
	v := &d.v
	*v = eventVisitor{d: d, ev: dst, vb: v.vb}
	v.vb.MaxDepth = d.MaxDepth
	d.opts.OnlyNumber = true
	if err := ast.Preorder(line, v, &d.opts); err != nil {
		if se, ok := err.(*SyntaxError); ok {
			return se
		}
		return &SyntaxError{Reason: "malformed JSON: " + err.Error(), Err: err}
	}
	if v.state != stDone {
		return &SyntaxError{Reason: "incomplete event"}
	}
	for i, k := range topKeys {
		if v.seen&(1<<i) == 0 {
			return &SyntaxError{Reason: "missing key " + strconv.Quote(k)}
		}
	}
	if dst.Type == 0 {
		return &SyntaxError{Reason: "event_type_id 0: an event needs a type", Err: ErrMissingType}
	}
	return nil
}

func trimValuePrefix(s string) string {
	const p = "value: invalid JSON: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

var topKeys = [...]string{"event_id", "event_type_id", "ts_mono_ns", "ts_wall_ns", "entity_key", "fields"}

const (
	keyEventID = iota
	keyType
	keyMono
	keyWall
	keyEntity
	keyFields
)

type visitState uint8

const (
	stTop        visitState = iota // before the event's {
	stKey                          // expecting a top-level key or }
	stNumber                       // expecting the number for key
	stFieldsOpen                   // expecting { or [ of fields
	stFieldKey                     // object shape: expecting a field id key or }
	stPairOpen                     // array shape: expecting [ of a pair or ]
	stPairID                       // array shape: expecting the pair's id
	stFieldValue                   // forwarding to the value builder
	stPairClose                    // array shape: expecting ] of a pair
	stDone
)

type eventVisitor struct {
	d       *Decoder
	ev      *Event
	vb      value.Builder
	state   visitState
	key     int // index into topKeys
	seen    uint8
	pairs   bool    // fields in the array-of-pairs shape
	fieldID FieldID // field whose value is being read
	nFields int
}

func (v *eventVisitor) errorf(format string, args ...any) error {
	return &SyntaxError{Reason: sprintf(format, args...)}
}

func (v *eventVisitor) fieldName() string {
	if v.pairs {
		return "fields[" + strconv.FormatUint(uint64(v.fieldID), 10) + "]"
	}
	return "fields." + strconv.FormatUint(uint64(v.fieldID), 10)
}

// unexpected describes a token that does not fit the current state.
func (v *eventVisitor) unexpected(got string) error {
	switch v.state {
	case stTop:
		return v.errorf("expected an event object, got %s", got)
	case stNumber:
		return v.errorf("%s: expected an unsigned integer, got %s", topKeys[v.key], got)
	case stFieldsOpen:
		return v.errorf("fields: expected an object keyed by field id or an array of [id, value] pairs, got %s", got)
	case stPairOpen:
		return v.errorf("fields: expected an [id, value] pair, got %s", got)
	case stPairID:
		return v.errorf("fields: expected a field id as a pair's first element, got %s", got)
	case stPairClose:
		return v.errorf("%s: a pair has exactly two elements, got more: %s", v.fieldName(), got)
	}
	return v.errorf("unexpected %s", got)
}

// forward hands a callback to the value builder and stores the field when
// the value is complete.
func (v *eventVisitor) forward(err error) error {
	if err != nil {
		return &SyntaxError{Reason: v.fieldName() + ": " + trimValuePrefix(err.Error()), Err: err}
	}
	if !v.vb.Done() {
		return nil
	}
	val := v.vb.Value()
	if reg := v.d.Registry; reg != nil {
		def, ok := reg.Field(v.fieldID)
		if !ok {
			return &SyntaxError{Reason: v.fieldName() + ": field id is not registered", Err: ErrUnknownField}
		}
		cv, err := def.DataType.Coerce(val)
		if err != nil {
			te := err.(*TypeError)
			te.Field, te.Path = v.fieldID, def.Path
			return &SyntaxError{Reason: v.fieldName() + ": " + te.Error(), Err: te}
		}
		val = cv
	}
	if !v.ev.insert(Field{ID: v.fieldID, Value: val}) {
		return &SyntaxError{Reason: v.fieldName() + ": field appears twice", Err: ErrDuplicateEventField}
	}
	if v.pairs {
		v.state = stPairClose
	} else {
		v.state = stFieldKey
	}
	return nil
}

func (v *eventVisitor) startField(text string) error {
	id, err := strconv.ParseUint(text, 10, 32)
	if err != nil || id == 0 {
		return v.errorf("fields: key %s is not a field id (a decimal integer 1..4294967295)", strconv.Quote(text))
	}
	max := v.d.MaxFields
	if max <= 0 {
		max = DefaultMaxFields
	}
	if v.nFields++; v.nFields > max {
		return v.errorf("fields: more than %d fields", max)
	}
	v.fieldID = FieldID(id)
	v.vb.Reset(&v.d.arena)
	v.state = stFieldValue
	return nil
}

// OnNull implements ast.Visitor.
func (v *eventVisitor) OnNull() error {
	if v.state == stFieldValue {
		return v.forward(v.vb.OnNull())
	}
	return v.unexpected("null")
}

// OnBool implements ast.Visitor.
func (v *eventVisitor) OnBool(b bool) error {
	if v.state == stFieldValue {
		return v.forward(v.vb.OnBool(b))
	}
	return v.unexpected(strconv.FormatBool(b))
}

// OnString implements ast.Visitor.
func (v *eventVisitor) OnString(s string) error {
	if v.state == stFieldValue {
		return v.forward(v.vb.OnString(s))
	}
	return v.unexpected("string " + strconv.Quote(truncate(s, 32)))
}

// OnInt64 implements ast.Visitor (numbers arrive as text: OnlyNumber).
func (v *eventVisitor) OnInt64(i int64, n json.Number) error { return v.onNumber(i, 0, n) }

// OnFloat64 implements ast.Visitor (numbers arrive as text: OnlyNumber).
func (v *eventVisitor) OnFloat64(f float64, n json.Number) error { return v.onNumber(0, f, n) }

func (v *eventVisitor) onNumber(i int64, f float64, n json.Number) error {
	text := string(n)
	switch v.state {
	case stFieldValue:
		return v.forward(v.vb.OnFloat64(f, n))
	case stPairID:
		return v.startField(text)
	case stNumber:
	default:
		return v.unexpected("number " + text)
	}
	v.state = stKey
	if v.key == keyEntity {
		k, err := ParseEntityKey(text)
		if err != nil {
			return err
		}
		v.ev.Entity = k
		return nil
	}
	bitSize := 64
	if v.key == keyType {
		bitSize = 16
	}
	u, err := strconv.ParseUint(text, 10, bitSize)
	if err != nil {
		what := "is not an unsigned integer"
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			what = "overflows uint" + strconv.Itoa(bitSize)
		}
		return v.errorf("%s %s %s", topKeys[v.key], text, what)
	}
	switch v.key {
	case keyEventID:
		v.ev.ID = u
	case keyType:
		v.ev.Type = EventTypeID(u)
	case keyMono:
		v.ev.TsMono = TimestampMono(u)
	case keyWall:
		v.ev.TsWall = TimestampWall(u)
	}
	return nil
}

// OnObjectBegin implements ast.Visitor.
func (v *eventVisitor) OnObjectBegin(c int) error {
	switch v.state {
	case stTop:
		v.state = stKey
		return nil
	case stFieldsOpen:
		v.state = stFieldKey
		return nil
	case stFieldValue:
		return v.forward(v.vb.OnObjectBegin(c))
	}
	return v.unexpected("an object")
}

// OnObjectKey implements ast.Visitor.
func (v *eventVisitor) OnObjectKey(key string) error {
	switch v.state {
	case stKey:
		for i, k := range topKeys {
			if k == key {
				if v.seen&(1<<i) != 0 {
					return v.errorf("key %q appears twice", key)
				}
				v.seen |= 1 << i
				v.key = i
				if i == keyFields {
					v.state = stFieldsOpen
				} else {
					v.state = stNumber
				}
				return nil
			}
		}
		return v.errorf("unknown key %s (want event_id, event_type_id, ts_mono_ns, ts_wall_ns, entity_key, fields)", strconv.Quote(truncate(key, 32)))
	case stFieldKey:
		return v.startField(key)
	case stFieldValue:
		return v.forward(v.vb.OnObjectKey(key))
	}
	return v.unexpected("key " + strconv.Quote(truncate(key, 32)))
}

// OnObjectEnd implements ast.Visitor.
func (v *eventVisitor) OnObjectEnd() error {
	switch v.state {
	case stKey:
		v.state = stDone
		return nil
	case stFieldKey:
		v.state = stKey
		return nil
	case stFieldValue:
		return v.forward(v.vb.OnObjectEnd())
	}
	return v.unexpected("}")
}

// OnArrayBegin implements ast.Visitor.
func (v *eventVisitor) OnArrayBegin(c int) error {
	switch v.state {
	case stFieldsOpen:
		v.pairs = true
		v.state = stPairOpen
		return nil
	case stPairOpen:
		v.state = stPairID
		return nil
	case stFieldValue:
		return v.forward(v.vb.OnArrayBegin(c))
	}
	return v.unexpected("an array")
}

// OnArrayEnd implements ast.Visitor.
func (v *eventVisitor) OnArrayEnd() error {
	switch v.state {
	case stPairOpen:
		v.state = stKey
		return nil
	case stPairClose:
		v.state = stPairOpen
		return nil
	case stPairID:
		return v.errorf("fields: empty pair: expected [id, value]")
	case stFieldValue:
		return v.forward(v.vb.OnArrayEnd())
	}
	return v.unexpected("]")
}
