package schema_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// sameValue reports whether a and b have the same kind and contents, with
// NaN equal to NaN and -0 different from 0 (unlike value.Equal).
func sameValue(a, b value.Value) bool {
	return a.Kind() == b.Kind() && string(a.AppendJSON(nil)) == string(b.AppendJSON(nil))
}

func TestCoerce(t *testing.T) {
	const exact = 1 << 53
	ok := func(dt schema.FieldDataType, in, want value.Value) {
		t.Helper()
		got, err := dt.Coerce(in)
		if err != nil {
			t.Errorf("%v.Coerce(%v %v) = %v", dt, in.Kind(), in, err)
			return
		}
		if !sameValue(got, want) {
			t.Errorf("%v.Coerce(%v %v) = %v %v, want %v %v", dt, in.Kind(), in, got.Kind(), got, want.Kind(), want)
		}
	}
	bad := func(dt schema.FieldDataType, in value.Value) {
		t.Helper()
		got, err := dt.Coerce(in)
		if !errors.Is(err, schema.ErrTypeMismatch) {
			t.Errorf("%v.Coerce(%v %v) = %v %v, %v; want ErrTypeMismatch", dt, in.Kind(), in, got.Kind(), got, err)
			return
		}
		var te *schema.TypeError
		if !errors.As(err, &te) || te.Want != dt || !sameValue(te.Got, in) {
			t.Errorf("%v.Coerce(%v): error %#v does not carry the types", dt, in, err)
		}
		if !sameValue(got, in) {
			t.Errorf("%v.Coerce(%v) failed but changed the value to %v", dt, in, got)
		}
	}
	all := []value.Value{
		value.NullValue(), value.I64Value(-3), value.U64Value(3), value.F64Value(1.5),
		value.BoolValue(true), value.StringValue("s"), value.BytesValue([]byte("b")),
		value.ArrayValue(value.I64Value(1)),
	}
	types := []schema.FieldDataType{
		schema.TypeAny, schema.TypeI64, schema.TypeU64, schema.TypeF64,
		schema.TypeBool, schema.TypeString, schema.TypeBytes, schema.TypeArray,
	}

	// Null is accepted by every type, and TypeAny accepts everything.
	for _, dt := range types {
		ok(dt, value.NullValue(), value.NullValue())
	}
	for _, v := range all {
		ok(schema.TypeAny, v, v)
	}
	// A value of the type's own kind is accepted as it is.
	for _, v := range all[1:] {
		ok(schema.FieldDataType(v.Kind()), v, v)
	}
	ok(schema.TypeF64, value.F64Value(math.NaN()), value.F64Value(math.NaN()))
	ok(schema.TypeF64, value.F64Value(math.Inf(-1)), value.F64Value(math.Inf(-1)))
	ok(schema.TypeI64, value.I64Value(math.MinInt64), value.I64Value(math.MinInt64))
	ok(schema.TypeU64, value.U64Value(math.MaxUint64), value.U64Value(math.MaxUint64))

	// I64 into U64 when >= 0.
	ok(schema.TypeU64, value.I64Value(0), value.U64Value(0))
	ok(schema.TypeU64, value.I64Value(5), value.U64Value(5))
	ok(schema.TypeU64, value.I64Value(math.MaxInt64), value.U64Value(math.MaxInt64))
	bad(schema.TypeU64, value.I64Value(-1))
	bad(schema.TypeU64, value.I64Value(math.MinInt64))

	// U64 into I64 when <= MaxInt64.
	ok(schema.TypeI64, value.U64Value(0), value.I64Value(0))
	ok(schema.TypeI64, value.U64Value(math.MaxInt64), value.I64Value(math.MaxInt64))
	bad(schema.TypeI64, value.U64Value(math.MaxInt64+1))
	bad(schema.TypeI64, value.U64Value(math.MaxUint64))

	// I64 or U64 into F64 when the magnitude is <= 2^53.
	ok(schema.TypeF64, value.I64Value(0), value.F64Value(0))
	ok(schema.TypeF64, value.I64Value(-7), value.F64Value(-7))
	ok(schema.TypeF64, value.I64Value(exact), value.F64Value(exact))
	ok(schema.TypeF64, value.I64Value(-exact), value.F64Value(-exact))
	ok(schema.TypeF64, value.U64Value(exact), value.F64Value(exact))
	bad(schema.TypeF64, value.I64Value(exact+1))
	bad(schema.TypeF64, value.I64Value(-exact-1))
	bad(schema.TypeF64, value.U64Value(exact+1))
	bad(schema.TypeF64, value.I64Value(math.MinInt64))
	bad(schema.TypeF64, value.U64Value(math.MaxUint64))

	// Nothing else converts.
	bad(schema.TypeI64, value.F64Value(1))
	bad(schema.TypeI64, value.F64Value(-1))
	bad(schema.TypeU64, value.F64Value(1))
	bad(schema.TypeI64, value.StringValue("1"))
	bad(schema.TypeU64, value.StringValue("1"))
	bad(schema.TypeF64, value.StringValue("1.5"))
	bad(schema.TypeBool, value.I64Value(1))
	bad(schema.TypeBool, value.U64Value(0))
	bad(schema.TypeBool, value.StringValue("true"))
	bad(schema.TypeString, value.I64Value(1))
	bad(schema.TypeString, value.BytesValue([]byte("s")))
	bad(schema.TypeBytes, value.StringValue("s"))
	bad(schema.TypeArray, value.StringValue("s"))
	bad(schema.TypeArray, value.BytesValue([]byte{1}))
	bad(schema.TypeI64, value.BoolValue(true))
	for _, dt := range types[1:] {
		for _, v := range all[1:] {
			if schema.FieldDataType(v.Kind()) == dt {
				continue
			}
			if _, err := dt.Coerce(v); err == nil {
				// Only the listed numeric rules may accept another kind.
				k := v.Kind()
				numeric := (dt == schema.TypeU64 && k == value.KindI64) ||
					(dt == schema.TypeI64 && k == value.KindU64) ||
					(dt == schema.TypeF64 && (k == value.KindI64 || k == value.KindU64))
				if !numeric {
					t.Errorf("%v accepted %v %v", dt, k, v)
				}
			}
		}
	}
	// A type outside the enum accepts only Null.
	bad(schema.FieldDataType(99), value.I64Value(1))
	ok(schema.FieldDataType(99), value.NullValue(), value.NullValue())
}

func TestTypeErrorMessage(t *testing.T) {
	r := schema.NewRegistry()
	pid := mustRegister(t, r, "process.pid", schema.TypeU64)
	_, err := schema.NewBuilder(r).Type(0).Field(pid, value.StringValue("x")).Build()
	if !errors.Is(err, schema.ErrTypeMismatch) {
		t.Fatalf("Build = %v, want ErrTypeMismatch", err)
	}
	var te *schema.TypeError
	if !errors.As(err, &te) || te.Field != pid || te.Path != "process.pid" || te.Want != schema.TypeU64 {
		t.Fatalf("errors.As TypeError = %+v", te)
	}
	for _, want := range []string{"process.pid", "U64", "String", `"x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %s", err, want)
		}
	}
	// Without a path the message names the ID.
	_, err = schema.TypeI64.Coerce(value.F64Value(2.5))
	if msg := err.Error(); !strings.Contains(msg, "I64") || !strings.Contains(msg, "F64") || !strings.Contains(msg, "2.5") {
		t.Errorf("message %q does not name the types and value", msg)
	}
	// A long value is truncated.
	_, err = schema.TypeI64.Coerce(value.StringValue(strings.Repeat("x", 1000)))
	if n := len(err.Error()); n > 200 {
		t.Errorf("message is %d bytes: %q", n, err)
	}
}

func TestFieldDataTypeString(t *testing.T) {
	f := func(dt schema.FieldDataType, want string) {
		t.Helper()
		if got := dt.String(); got != want {
			t.Errorf("FieldDataType(%d).String() = %q, want %q", uint8(dt), got, want)
		}
	}
	f(schema.TypeAny, "Any")
	f(schema.TypeI64, "I64")
	f(schema.TypeU64, "U64")
	f(schema.TypeF64, "F64")
	f(schema.TypeBool, "Bool")
	f(schema.TypeString, "String")
	f(schema.TypeBytes, "Bytes")
	f(schema.TypeArray, "Array")
	f(schema.TypeStringArray, "Array<String>")
	f(schema.FieldDataType(9), "FieldDataType(9)")
	f(schema.FieldDataType(255), "FieldDataType(255)")
	// The types after Any mirror value.Kind, which Coerce relies on.
	for k := value.KindI64; k <= value.KindArray; k++ {
		f(schema.FieldDataType(k), k.String())
	}
}

func TestFieldDataTypeKind(t *testing.T) {
	f := func(typ schema.FieldDataType, want value.Kind) {
		t.Helper()
		if got := typ.Kind(); got != want {
			t.Errorf("%v.Kind() = %v, want %v", typ, got, want)
		}
	}
	f(schema.TypeAny, value.KindNull)
	f(schema.TypeI64, value.KindI64)
	f(schema.TypeU64, value.KindU64)
	f(schema.TypeF64, value.KindF64)
	f(schema.TypeBool, value.KindBool)
	f(schema.TypeString, value.KindString)
	f(schema.TypeBytes, value.KindBytes)
	f(schema.TypeArray, value.KindArray)
	f(schema.TypeStringArray, value.KindNull) // a String or an Array
	f(typeIP, value.KindNull)                 // a plugin type, even of base String
	f(schema.FieldDataType(250), value.KindNull)
}
