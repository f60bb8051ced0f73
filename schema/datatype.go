package schema

import (
	"math"

	"github.com/kestrel-sec/kestrel/value"
)

// FieldDataType declares what values a field holds. The zero value, TypeAny,
// accepts every value.
type FieldDataType uint8

// The field data types.
const (
	TypeAny FieldDataType = iota
	TypeI64
	TypeU64
	TypeF64
	TypeBool
	TypeString
	TypeBytes
	TypeArray
	// TypeStringArray is an array of strings, as ECS's keyword arrays
	// (process.args, event.type): its values are Arrays whose elements are
	// Strings (or Null), or a single String, which stands for a one-element
	// array as Elasticsearch takes it. Its name in schema files is
	// Array<String>. Rules test it element-wise (package rule).
	TypeStringArray
)

var typeNames = [...]string{"Any", "I64", "U64", "F64", "Bool", "String", "Bytes", "Array", "Array<String>"}

// String returns the type's name.
func (t FieldDataType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	if d := t.plugin(); d != nil {
		return d.Name
	}
	return "FieldDataType(" + value.U64Value(uint64(t)).String() + ")"
}

// Kind returns the kind of t's values for the types whose values are of
// one kind, I64 through Array, and KindNull for the others: TypeAny,
// TypeStringArray (a String or an Array), plugin and unknown types.
func (t FieldDataType) Kind() value.Kind {
	if t >= TypeI64 && t <= TypeArray {
		return value.Kind(t) // the constants mirror value.Kind for I64..Array
	}
	return value.KindNull
}

// maxExactFloat is the largest integer magnitude float64 holds exactly.
const maxExactFloat = 1 << 53

// Coerce returns v as a value of type t, or a *TypeError (ErrTypeMismatch).
// The rules, and the only ones:
//
//   - Null is accepted by every type (the sensor did not know the value).
//   - A value of t's own kind is accepted as it is; TypeAny accepts anything.
//   - Into TypeStringArray: a String, or an Array of Strings and Nulls, as
//     it is.
//   - I64 into U64: when it is >= 0.
//   - U64 into I64: when it is <= math.MaxInt64.
//   - I64 or U64 into F64: when its magnitude is <= 2^53, so it is exact.
//   - Into a plugin type (RegisterType): what its base type accepts, by
//     these rules, and then only when the plugin's Validate accepts it.
//
// Nothing else converts: no float into an integer field (no truncation), no
// string parsing, no bool from a number.
func (t FieldDataType) Coerce(v value.Value) (value.Value, error) {
	if c, ok := t.coerce(v); ok {
		return c, nil
	}
	return v, &TypeError{Want: t, Got: v}
}

// coerce is Coerce without the error, which allocates: for Mapping.Apply.
func (t FieldDataType) coerce(v value.Value) (value.Value, bool) {
	if t >= firstPlugin {
		return t.coercePlugin(v)
	}
	k := v.Kind()
	if t == TypeAny || k == value.KindNull || uint8(k) == uint8(t) {
		// The FieldDataType constants mirror value.Kind for I64..Array.
		return v, true
	}
	switch t {
	case TypeStringArray:
		return v, stringArray(v)
	case TypeU64:
		if i, ok := v.I64(); ok && i >= 0 {
			return value.U64Value(uint64(i)), true
		}
	case TypeI64:
		if u, ok := v.U64(); ok && u <= math.MaxInt64 {
			return value.I64Value(int64(u)), true
		}
	case TypeF64:
		if i, ok := v.I64(); ok && i >= -maxExactFloat && i <= maxExactFloat {
			return value.F64Value(float64(i)), true
		}
		if u, ok := v.U64(); ok && u <= maxExactFloat {
			return value.F64Value(float64(u)), true
		}
	}
	return v, false
}

// stringArray reports whether v is a value of TypeStringArray: a String,
// or an Array of Strings and Nulls.
func stringArray(v value.Value) bool {
	if v.Kind() == value.KindString {
		return true
	}
	a, ok := v.Array()
	if !ok {
		return false
	}
	for _, e := range a {
		if k := e.Kind(); k != value.KindString && k != value.KindNull {
			return false
		}
	}
	return true
}

// coercePlugin is coerce into a plugin type, out of line so that coerce
// stays small for the built-in types.
func (t FieldDataType) coercePlugin(v value.Value) (value.Value, bool) {
	d := t.plugin()
	if d == nil {
		return v, v.IsNull() // an unknown type, like any, takes Null
	}
	c, ok := d.Base.coerce(v)
	if !ok || c.IsNull() || d.Validate == nil {
		return c, ok
	}
	return c, d.Validate(c)
}
