package schema

import (
	"encoding/json"
	"strconv"

	"github.com/bytedance/sonic/ast"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// AppendJSON appends e's wire form (one line, without the newline) to dst:
//
//	{"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1000000000,"entity_key":0,"fields":{"1":{"String":"/bin/ls"}}}
//
// Fields are written in ID order.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(e.appendHead(dst), `,"fields":{`...)
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

// AppendJSONPairs is AppendJSON with the fields as the Rust original's
// array of [id, value] pairs, the form its logs also use:
//
//	{"event_id":1,...,"fields":[[1,{"String":"/bin/ls"}]]}
//
// Decode reads both.
func (e *Event) AppendJSONPairs(dst []byte) []byte {
	dst = append(e.appendHead(dst), `,"fields":[`...)
	for i, f := range e.Fields() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = strconv.AppendUint(dst, uint64(f.ID), 10)
		dst = append(dst, ',')
		dst = f.Value.AppendJSON(dst)
		dst = append(dst, ']')
	}
	return append(dst, "]}"...)
}

// appendHead appends the wire form's opening brace and every member but
// the fields.
func (e *Event) appendHead(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = strconv.AppendUint(dst, e.ID, 10)
	dst = append(dst, `,"event_type_id":`...)
	dst = strconv.AppendUint(dst, uint64(e.Type), 10)
	dst = append(dst, `,"ts_mono_ns":`...)
	dst = strconv.AppendUint(dst, uint64(e.TsMono), 10)
	dst = append(dst, `,"ts_wall_ns":`...)
	dst = strconv.AppendUint(dst, uint64(e.TsWall), 10)
	dst = append(dst, `,"entity_key":`...)
	return e.Entity.AppendDecimal(dst)
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
// may appear once.
//
// Events written by hand: given a Registry (without one the wire form
// above is the only one read), the decoder also reads what a person writes. The type may be named, "event_type":"process", in place
// of "event_type_id"; a field may be keyed by its path,
// "fields":{"process.name":{"String":"bash"}}, as well as by its ID; and a
// value may be plain JSON where the field's declared type says what it
// is: "process.pid":42 (an I64 field), "user.name":"root",
// "process.code_signature.trusted":true, "process.args":["a","b"] (an
// Array field). A plain string "Null" is the tagged Null (write
// {"String":"Null"} for the text); a plain null is Null too. A plain
// number goes into an I64, U64 or F64 field as that type, and into an Any
// or Array field as an I64, else a U64, else an F64; a plain array holds
// scalars only. Errors name the field by the key as written. A path the
// Registry does not hold is an error, except under one of its dynamic
// namespaces: there the value is read and dropped, and counted (Skipped).
// A field registered under a namespace (FieldDef.Dynamic) is read by path
// only: its ID, written by another process, may name another path there,
// so keyed by ID it is an error (ErrUnknownField).
// The zero Decoder is ready to use; it is not safe for
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

	arena   valuejson.Arena
	skipped uint64
	opts    ast.VisitorOptions
	v       eventVisitor
	fast    fastLine
}

// Skipped returns how many fields this Decoder has dropped since it was
// made: fields named by a path that the Registry does not hold but that
// lies under one of its dynamic namespaces (see Namespace). No rule
// resolved against the Registry reads such a field (resolving registers
// the paths a rule names), so dropping it loses nothing detection sees;
// registering every path the data brings instead would let the data grow
// the schema without bound.
func (d *Decoder) Skipped() uint64 { return d.skipped }

// dynamicKey reports whether a field key the registry lacks is a valid
// path under one of its dynamic namespaces.
func (v *eventVisitor) dynamicKey(reg *Registry, path string) bool {
	_, ok := reg.NamespaceOf(path)
	return ok && validPath(path, true) == nil
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
	if err := valuejson.Validate(line); err != nil {
		reason := err.Error()
		return &SyntaxError{Reason: reason, Err: &value.DecodeError{Reason: reason}}
	}
	v := &d.v
	vb := v.vb
	if vb == nil {
		vb = valuejson.NewBuilder[value.Value]()
	}
	*v = eventVisitor{d: d, ev: dst, vb: vb}
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
	stTypeName                     // expecting the event_type's name
	stDone
)

type eventVisitor struct {
	d       *Decoder
	ev      *Event
	vb      valuejson.Builder[value.Value]
	state   visitState
	key     int // index into topKeys
	seen    uint8
	pairs   bool    // fields in the array-of-pairs shape
	fieldID FieldID // field whose value is being read
	nFields int
	// fieldKey is the field's key when written as a path ("" for an ID).
	fieldKey string
	// first: no token of the field's value read yet; it decides between
	// the tagged form (an object, "Null") and a plain value.
	first bool
	// skip: the field is an unregistered path under a dynamic namespace,
	// read and dropped (Decoder.Skipped).
	skip bool
	// plainArr holds the elements of a plain array while inArr.
	plainArr []value.Value
	inArr    bool
}

func (v *eventVisitor) errorf(format string, args ...any) error {
	return &SyntaxError{Reason: sprintf(format, args...)}
}

func (v *eventVisitor) fieldName() string {
	if v.fieldKey != "" {
		return "fields." + v.fieldKey
	}
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
	case stTypeName:
		return v.errorf("event_type: expected an event type name, got %s", got)
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
	return v.store(v.vb.Value())
}

// store coerces a complete value to the field's type and adds it.
func (v *eventVisitor) store(val value.Value) error {
	if v.skip {
		v.d.skipped++
		v.state = stFieldKey // a path key: the object shape
		return nil
	}
	if reg := v.d.Registry; reg != nil {
		def, ok := reg.Field(v.fieldID)
		if !ok {
			return &SyntaxError{Reason: v.fieldName() + ": field id is not registered", Err: ErrUnknownField}
		}
		if def.Dynamic && v.fieldKey == "" {
			return &SyntaxError{Reason: v.fieldName() + ": the id of " + def.Path + ", registered on first use under a dynamic namespace: " +
				"its ids depend on the process that registered them; name it by path", Err: ErrUnknownField}
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
	v.fieldKey, v.skip = "", false
	var id uint64
	if text == "" || text[0] >= '0' && text[0] <= '9' {
		var err error
		if id, err = strconv.ParseUint(text, 10, 32); err != nil || id == 0 {
			return v.errorf("fields: key %s is not a field id (a decimal integer 1..4294967295)", strconv.Quote(text))
		}
	} else { // a path: parsing it as a number would allocate its error
		reg := v.d.Registry
		if reg == nil {
			return v.errorf("fields: key %s is not a field id (a decimal integer 1..4294967295); naming a field by path needs a schema (Decoder.Registry)", strconv.Quote(truncate(text, 64)))
		}
		fid, ok := reg.FieldID(text)
		if !ok && !v.dynamicKey(reg, text) {
			return &SyntaxError{Reason: "fields." + truncate(text, 64) + ": no such field in the schema", Err: ErrUnknownField}
		}
		if ok {
			id = uint64(fid)
			v.fieldKey = reg.load().fields[fid-1].Path // the registry's copy: text may be the caller's buffer
		} else {
			v.skip = true // id 0: read the value, keep nothing
			v.fieldKey = text
		}
	}
	max := v.d.MaxFields
	if max <= 0 {
		max = DefaultMaxFields
	}
	if v.nFields++; v.nFields > max {
		return v.errorf("fields: more than %d fields", max)
	}
	v.fieldID = FieldID(id)
	v.vb.Reset(&v.d.arena, v.d.MaxDepth)
	v.state = stFieldValue
	v.first, v.inArr = true, false
	return nil
}

// fieldType is the declared type of the field being read (Any without a
// registry).
func (v *eventVisitor) fieldType() FieldDataType {
	if reg := v.d.Registry; reg != nil {
		if def, ok := reg.Field(v.fieldID); ok {
			return def.DataType.Base()
		}
	}
	return TypeAny
}

// plain takes a scalar written as plain JSON: the field's value, or an
// element of its plain array.
func (v *eventVisitor) plain(val value.Value) error {
	v.first = false
	if v.inArr {
		v.plainArr = append(v.plainArr, val)
		return nil
	}
	return v.store(val)
}

// plainNumber reads a plain JSON number as the type t says.
func (v *eventVisitor) plainNumber(text string) error {
	t := v.fieldType()
	if v.inArr {
		t = TypeAny
	}
	var val value.Value
	switch t {
	case TypeI64, TypeU64, TypeF64:
		var err error
		switch t {
		case TypeI64:
			var i int64
			i, err = strconv.ParseInt(text, 10, 64)
			val = value.I64Value(i)
		case TypeU64:
			var u uint64
			u, err = strconv.ParseUint(text, 10, 64)
			val = value.U64Value(u)
		default:
			var x float64
			x, err = strconv.ParseFloat(text, 64)
			val = value.F64Value(x)
		}
		if err != nil {
			return &SyntaxError{Reason: v.fieldName() + ": field is " + t.String() + "; " + truncate(text, 32) + " is not one",
				Err: &TypeError{Field: v.fieldID, Path: v.fieldKey, Want: t, Got: value.StringValue(truncate(text, 32))}}
		}
	case TypeAny, TypeArray:
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			val = value.I64Value(i)
		} else if u, err := strconv.ParseUint(text, 10, 64); err == nil {
			val = value.U64Value(u)
		} else if x, err := strconv.ParseFloat(text, 64); err == nil {
			val = value.F64Value(x)
		} else {
			return v.errorf("%s: number %s is out of range", v.fieldName(), truncate(text, 32))
		}
	default:
		return &SyntaxError{Reason: v.fieldName() + ": field is " + t.String() + ", got the number " + truncate(text, 32),
			Err: &TypeError{Field: v.fieldID, Path: v.fieldKey, Want: t, Got: value.StringValue(truncate(text, 32))}}
	}
	return v.plain(val)
}

// OnNull implements ast.Visitor.
func (v *eventVisitor) OnNull() error {
	if v.state == stFieldValue && (v.first && v.d.Registry != nil || v.inArr) {
		return v.plain(value.NullValue())
	}
	if v.state == stFieldValue {
		return v.forward(v.vb.OnNull())
	}
	return v.unexpected("null")
}

// OnBool implements ast.Visitor.
func (v *eventVisitor) OnBool(b bool) error {
	if v.state == stFieldValue && (v.first && v.d.Registry != nil || v.inArr) {
		return v.plain(value.BoolValue(b))
	}
	if v.state == stFieldValue {
		return v.forward(v.vb.OnBool(b))
	}
	return v.unexpected(strconv.FormatBool(b))
}

// OnString implements ast.Visitor.
func (v *eventVisitor) OnString(s string) error {
	if v.state == stFieldValue && (v.inArr || v.first && v.d.Registry != nil && s != "Null" && s != "null") {
		return v.plain(value.StringValue(v.d.arena.String(s)))
	}
	switch v.state {
	case stTypeName:
		return v.typeName(s)
	}
	if v.state == stFieldValue {
		v.first = false
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
		if v.first && v.d.Registry != nil || v.inArr {
			return v.plainNumber(text)
		}
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
		if v.inArr {
			return v.errorf("%s: a plain array holds plain scalars; write nested values in the tagged form ({\"Array\":[...]})", v.fieldName())
		}
		v.first = false
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
					if i == keyType {
						return v.errorf("event_type and event_type_id: give the type once")
					}
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
		if key == "event_type" {
			if v.seen&(1<<keyType) != 0 {
				return v.errorf("event_type and event_type_id: give the type once")
			}
			v.seen |= 1 << keyType
			v.state = stTypeName
			return nil
		}
		return v.errorf("unknown key %s (want event_id, event_type_id or event_type, ts_mono_ns, ts_wall_ns, entity_key, fields)", strconv.Quote(truncate(key, 32)))
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
		if v.inArr {
			return v.errorf("%s: a plain array holds plain scalars; write nested arrays in the tagged form ({\"Array\":[...]})", v.fieldName())
		}
		if v.first && v.d.Registry != nil {
			v.first, v.inArr = false, true
			v.plainArr = make([]value.Value, 0, max(c, 0)) // the event keeps it: a fresh one each time
			return nil
		}
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
		if v.inArr {
			v.inArr = false
			arr := v.plainArr
			v.plainArr = nil
			return v.store(value.ArrayValue(arr...))
		}
		return v.forward(v.vb.OnArrayEnd())
	}
	return v.unexpected("]")
}

// typeName reads "event_type":"name": the registry's event type of that
// name.
func (v *eventVisitor) typeName(name string) error {
	v.state = stKey
	reg := v.d.Registry
	if reg == nil {
		return v.errorf("event_type %s: a type name needs a schema (Decoder.Registry); write event_type_id", strconv.Quote(truncate(name, 64)))
	}
	id, ok := reg.EventTypeID(name)
	if !ok {
		return &SyntaxError{Reason: "event_type " + strconv.Quote(truncate(name, 64)) + ": no such event type in the schema", Err: ErrUnknownEventType}
	}
	v.ev.Type = id
	return nil
}
