package schema

import (
	"bytes"
	"cmp"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/value"
)

// Plugin field types.
//
// A plugin type is a named type over a built-in base type ("ip" over
// String): its values are plain value.Values of the base kind, so Events,
// logs and the tagged union are unchanged, while its own functions check,
// parse, order, match and print them. It is used in a FieldDef like a
// built-in type; Coerce applies the base type's rules, then Validate.
// Plugin types are process-wide, like database/sql drivers: register them
// at start-up, before registries and schema files use them.

// ErrInvalidType: a TypeDef that cannot be registered (a bad name, a base
// that is not a built-in type, no Parse), a type name registered twice, or
// too many plugin types.
var ErrInvalidType = errors.New("schema: invalid plugin type")

// TypeDef defines a plugin field type.
type TypeDef struct {
	// Name is the type's name in schema files and messages ("ip"): letters,
	// digits and _, not a built-in type's name.
	Name string
	// Base is the built-in type its values have; not TypeAny.
	Base FieldDataType
	// Parse turns text (a rule literal, a command-line argument) into a
	// value of Base, or an error. Required.
	Parse func(s string) (value.Value, error)
	// Validate reports whether a value of the base kind is a valid one;
	// nil accepts all. Coerce calls it on every value decoded into a field
	// of the type, so it should not allocate.
	Validate func(v value.Value) bool
	// Compare orders two valid values as cmp.Compare does; nil means the
	// base kind's order. Rules compare fields of the type with it (==, !=,
	// orderings, in; see package rule), on every event: it should not
	// allocate.
	Compare func(a, b value.Value) int
	// Match reports whether v matches pattern, a pattern of the type's own
	// (a CIDR for ip); nil means the type has no patterns. A rule's
	// cidrMatch on a field of the type calls it, after checking each
	// pattern once at load by calling it with a Null value (an error there
	// rejects the rule); it should not allocate.
	Match func(v value.Value, pattern string) (bool, error)
	// AppendJSON appends v's JSON form for people and alerts (a bare
	// string for ip); nil means the value's own tagged JSON.
	AppendJSON func(dst []byte, v value.Value) []byte
}

// firstPlugin is the FieldDataType of the first plugin type; the built-in
// types stay below it.
const firstPlugin = 64

var (
	pluginMu    sync.Mutex // serialises RegisterType
	pluginCount atomic.Uint32
	plugins     [256 - firstPlugin]atomic.Pointer[TypeDef] // by FieldDataType-firstPlugin; lock-free reads
)

// RegisterType registers a plugin type and returns its FieldDataType, or
// an error matching ErrInvalidType. It is safe for concurrent use, and
// reading types never waits for it.
func RegisterType(def TypeDef) (FieldDataType, error) {
	bad := func(detail string) (FieldDataType, error) {
		return 0, &PathError{Path: def.Name, Err: ErrInvalidType, Detail: detail}
	}
	if def.Name == "" || len(def.Name) > 64 {
		return bad("name must be 1 to 64 bytes")
	}
	for i := 0; i < len(def.Name); i++ {
		if c := def.Name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return bad("name character " + quoteByte(c) + " (allowed: letters, digits, _)")
		}
	}
	if def.Base == TypeAny || int(def.Base) >= len(typeNames) {
		return bad("base must be a built-in type other than Any, not " + def.Base.String())
	}
	if def.Parse == nil {
		return bad("Parse is required")
	}
	pluginMu.Lock()
	defer pluginMu.Unlock()
	if _, ok := LookupType(def.Name); ok {
		return bad("a type of that name exists")
	}
	n := pluginCount.Load()
	if int(n) >= len(plugins) {
		return bad("too many plugin types")
	}
	d := def
	plugins[n].Store(&d)
	pluginCount.Store(n + 1)
	return FieldDataType(firstPlugin + n), nil
}

// LookupType returns the type named name: a built-in one (any case) or a
// registered plugin type (exact name).
func LookupType(name string) (FieldDataType, bool) {
	for t := TypeAny; int(t) < len(typeNames); t++ {
		if strings.EqualFold(name, typeNames[t]) {
			return t, true
		}
	}
	for i := uint32(0); i < pluginCount.Load(); i++ {
		if d := plugins[i].Load(); d != nil && d.Name == name {
			return FieldDataType(firstPlugin + i), true
		}
	}
	return 0, false
}

// plugin returns t's definition when t is a registered plugin type.
func (t FieldDataType) plugin() *TypeDef {
	if t < firstPlugin {
		return nil
	}
	return plugins[t-firstPlugin].Load()
}

// Plugin returns t's definition, when t is a registered plugin type.
func (t FieldDataType) Plugin() (TypeDef, bool) {
	if d := t.plugin(); d != nil {
		return *d, true
	}
	return TypeDef{}, false
}

// Valid reports whether t is a built-in type or a registered plugin type.
func (t FieldDataType) Valid() bool { return int(t) < len(typeNames) || t.plugin() != nil }

// Base returns the built-in type of t's values: t itself for a built-in
// type, the plugin's Base for a plugin type, TypeAny when t is unknown.
func (t FieldDataType) Base() FieldDataType {
	if int(t) < len(typeNames) {
		return t
	}
	if d := t.plugin(); d != nil {
		return d.Base
	}
	return TypeAny
}

// Parse turns text into a value of t: the plugin's Parse, or for a
// built-in type the text as a String coerced to t (so only String, Bytes
// and Any parse text).
func (t FieldDataType) Parse(s string) (value.Value, error) {
	if d := t.plugin(); d != nil {
		v, err := d.Parse(s)
		if err != nil {
			return v, &TypeError{Want: t, Got: value.StringValue(s)}
		}
		return v, nil
	}
	if t == TypeBytes {
		return value.BytesValue([]byte(s)), nil
	}
	return t.Coerce(value.StringValue(s))
}

// Compare orders a and b, values of t, as cmp.Compare does: the plugin's
// Compare, or the base kind's order (numbers by value, strings and bytes
// by bytes, false before true); values of different kinds order by kind.
func (t FieldDataType) Compare(a, b value.Value) int {
	if d := t.plugin(); d != nil && d.Compare != nil {
		return d.Compare(a, b)
	}
	if ka, kb := a.Kind(), b.Kind(); ka != kb {
		return cmp.Compare(ka, kb)
	}
	switch a.Kind() {
	case value.KindI64:
		return compareAs(a, b, value.Value.I64)
	case value.KindU64:
		return compareAs(a, b, value.Value.U64)
	case value.KindF64:
		return compareAs(a, b, value.Value.F64)
	case value.KindString:
		return compareAs(a, b, value.Value.Str)
	case value.KindBool:
		x, _ := a.Bool()
		y, _ := b.Bool()
		return cmp.Compare(b2i(x), b2i(y))
	case value.KindBytes:
		x, _ := a.Bytes()
		y, _ := b.Bytes()
		return bytes.Compare(x, y)
	}
	return 0
}

// compareAs orders a and b, two values of one kind, as get reads them.
func compareAs[T cmp.Ordered](a, b value.Value, get func(value.Value) (T, bool)) int {
	x, _ := get(a)
	y, _ := get(b)
	return cmp.Compare(x, y)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Match reports whether v matches pattern by t's plugin Match; a type
// without one is an error matching ErrInvalidType.
func (t FieldDataType) Match(v value.Value, pattern string) (bool, error) {
	if d := t.plugin(); d != nil && d.Match != nil {
		return d.Match(v, pattern)
	}
	return false, &PathError{Path: t.String(), Err: ErrInvalidType, Detail: "the type has no patterns"}
}

// AppendJSON appends v's JSON form for people: the plugin's AppendJSON, or
// the value's tagged JSON.
func (t FieldDataType) AppendJSON(dst []byte, v value.Value) []byte {
	if d := t.plugin(); d != nil && d.AppendJSON != nil {
		return d.AppendJSON(dst, v)
	}
	return v.AppendJSON(dst)
}
