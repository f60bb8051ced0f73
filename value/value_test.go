package value_test

import (
	"math"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/value"
)

// identical reports whether a and b hold the same kind and exactly the same
// contents: unlike Equal, a NaN is identical to a NaN and -0 is not identical
// to 0. Round-trip tests use it so that they notice a lost sign or payload.
func identical(a, b value.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case value.KindF64:
		x, _ := a.F64()
		y, _ := b.F64()
		return math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)
	case value.KindArray:
		x, _ := a.Array()
		y, _ := b.Array()
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !identical(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

func TestKind(t *testing.T) {
	f := func(v value.Value, want value.Kind) {
		t.Helper()
		if got := v.Kind(); got != want {
			t.Errorf("%v.Kind() = %v, want %v", v, got, want)
		}
	}
	f(value.Value{}, value.KindNull)
	f(value.NullValue(), value.KindNull)
	f(value.I64Value(0), value.KindI64)
	f(value.I64Value(math.MinInt64), value.KindI64)
	f(value.U64Value(0), value.KindU64)
	f(value.U64Value(math.MaxUint64), value.KindU64)
	f(value.F64Value(0), value.KindF64)
	f(value.F64Value(math.NaN()), value.KindF64)
	f(value.BoolValue(false), value.KindBool)
	f(value.BoolValue(true), value.KindBool)
	f(value.StringValue(""), value.KindString)
	f(value.StringValue("x"), value.KindString)
	f(value.BytesValue(nil), value.KindBytes)
	f(value.BytesValue([]byte{}), value.KindBytes)
	f(value.BytesValue([]byte("hi")), value.KindBytes)
	f(value.ArrayValue(), value.KindArray)
	f(value.ArrayValue(value.I64Value(1)), value.KindArray)
}

func TestKindString(t *testing.T) {
	f := func(k value.Kind, want string) {
		t.Helper()
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
	f(value.KindNull, "Null")
	f(value.KindI64, "I64")
	f(value.KindU64, "U64")
	f(value.KindF64, "F64")
	f(value.KindBool, "Bool")
	f(value.KindString, "String")
	f(value.KindBytes, "Bytes")
	f(value.KindArray, "Array")
	f(value.KindArray+1, "Kind(8)")
	f(100, "Kind(100)")
	f(255, "Kind(255)")
}

func TestZeroValueIsNull(t *testing.T) {
	var v value.Value
	if !v.IsNull() || v.Kind() != value.KindNull {
		t.Fatalf("zero Value: IsNull %v, Kind %v; want Null", v.IsNull(), v.Kind())
	}
	if !v.Equal(value.NullValue()) {
		t.Error("zero Value is not Equal to NullValue()")
	}
	for _, w := range []value.Value{
		value.I64Value(0), value.U64Value(0), value.F64Value(0), value.BoolValue(false),
		value.StringValue(""), value.BytesValue(nil), value.ArrayValue(),
	} {
		if w.IsNull() {
			t.Errorf("%v (%v) IsNull", w, w.Kind())
		}
	}
}

// TestAccessors checks that each accessor answers ok only for its own kind
// and returns the zero value of its type for every other kind.
func TestAccessors(t *testing.T) {
	vs := []value.Value{
		value.NullValue(),
		value.I64Value(-7),
		value.U64Value(7),
		value.F64Value(2.5),
		value.BoolValue(true),
		value.StringValue("s"),
		value.BytesValue([]byte{1, 2}),
		value.ArrayValue(value.I64Value(1)),
	}
	for _, v := range vs {
		k := v.Kind()
		i, ok := v.I64()
		if ok != (k == value.KindI64) || !ok && i != 0 || ok && i != -7 {
			t.Errorf("%v.I64() = %v, %v", k, i, ok)
		}
		u, ok := v.U64()
		if ok != (k == value.KindU64) || !ok && u != 0 || ok && u != 7 {
			t.Errorf("%v.U64() = %v, %v", k, u, ok)
		}
		x, ok := v.F64()
		if ok != (k == value.KindF64) || !ok && x != 0 || ok && x != 2.5 {
			t.Errorf("%v.F64() = %v, %v", k, x, ok)
		}
		b, ok := v.Bool()
		if ok != (k == value.KindBool) || !ok && b || ok && !b {
			t.Errorf("%v.Bool() = %v, %v", k, b, ok)
		}
		s, ok := v.Str()
		if ok != (k == value.KindString) || !ok && s != "" || ok && s != "s" {
			t.Errorf("%v.Str() = %q, %v", k, s, ok)
		}
		bs, ok := v.Bytes()
		if ok != (k == value.KindBytes) || !ok && bs != nil || ok && string(bs) != "\x01\x02" {
			t.Errorf("%v.Bytes() = %v, %v", k, bs, ok)
		}
		a, ok := v.Array()
		if ok != (k == value.KindArray) || !ok && a != nil || ok && (len(a) != 1 || !a[0].Equal(value.I64Value(1))) {
			t.Errorf("%v.Array() = %v, %v", k, a, ok)
		}
		if v.IsNull() != (k == value.KindNull) {
			t.Errorf("%v.IsNull() = %v", k, v.IsNull())
		}
	}
}

func TestScalarPayloads(t *testing.T) {
	for _, i := range []int64{0, 1, -1, math.MinInt64, math.MaxInt64} {
		if got, ok := value.I64Value(i).I64(); !ok || got != i {
			t.Errorf("I64Value(%d).I64() = %d, %v", i, got, ok)
		}
	}
	for _, u := range []uint64{0, 1, math.MaxInt64 + 1, math.MaxUint64} {
		if got, ok := value.U64Value(u).U64(); !ok || got != u {
			t.Errorf("U64Value(%d).U64() = %d, %v", u, got, ok)
		}
	}
	for _, x := range []float64{0, math.Copysign(0, -1), 1.5, math.SmallestNonzeroFloat64, math.MaxFloat64, math.Inf(1), math.Inf(-1)} {
		if got, ok := value.F64Value(x).F64(); !ok || math.Float64bits(got) != math.Float64bits(x) {
			t.Errorf("F64Value(%v).F64() = %v, %v", x, got, ok)
		}
	}
	// NaN payload bits survive too, not only NaN-ness.
	nan := math.Float64frombits(0x7ff8_0000_dead_beef)
	if got, _ := value.F64Value(nan).F64(); math.Float64bits(got) != math.Float64bits(nan) {
		t.Errorf("NaN payload: got %#x, want %#x", math.Float64bits(got), math.Float64bits(nan))
	}
	for _, b := range []bool{false, true} {
		if got, ok := value.BoolValue(b).Bool(); !ok || got != b {
			t.Errorf("BoolValue(%v).Bool() = %v, %v", b, got, ok)
		}
	}
}

func TestLen(t *testing.T) {
	f := func(v value.Value, want int) {
		t.Helper()
		if got := v.Len(); got != want {
			t.Errorf("%v (%v).Len() = %d, want %d", v, v.Kind(), got, want)
		}
	}
	f(value.NullValue(), 0)
	f(value.I64Value(12345), 0)
	f(value.U64Value(math.MaxUint64), 0) // the payload's top byte must not leak into Len
	f(value.F64Value(-1), 0)
	f(value.BoolValue(true), 0)
	f(value.StringValue(""), 0)
	f(value.StringValue("héllo"), 6) // bytes, not runes
	f(value.StringValue(strings.Repeat("x", 1<<20)), 1<<20)
	f(value.BytesValue(nil), 0)
	f(value.BytesValue(make([]byte, 300)), 300)
	f(value.ArrayValue(), 0)
	f(value.ArrayValue(value.NullValue(), value.NullValue(), value.NullValue()), 3)
}

func TestEqual(t *testing.T) {
	f := func(a, b value.Value, want bool) {
		t.Helper()
		if got := a.Equal(b); got != want {
			t.Errorf("%v (%v) Equal %v (%v) = %v, want %v", a, a.Kind(), b, b.Kind(), got, want)
		}
		if got := b.Equal(a); got != want {
			t.Errorf("Equal not symmetric for %v, %v", a, b)
		}
	}
	nan := math.NaN()
	negZero := math.Copysign(0, -1)

	f(value.NullValue(), value.Value{}, true)
	f(value.I64Value(5), value.I64Value(5), true)
	f(value.I64Value(5), value.I64Value(-5), false)
	f(value.U64Value(math.MaxUint64), value.U64Value(math.MaxUint64), true)
	f(value.F64Value(1.5), value.F64Value(1.5), true)
	f(value.F64Value(nan), value.F64Value(nan), false)
	f(value.F64Value(0), value.F64Value(negZero), true)
	f(value.F64Value(math.Inf(1)), value.F64Value(math.Inf(1)), true)
	f(value.F64Value(math.Inf(1)), value.F64Value(math.Inf(-1)), false)
	f(value.BoolValue(true), value.BoolValue(true), true)
	f(value.BoolValue(true), value.BoolValue(false), false)
	f(value.StringValue("abc"), value.StringValue(strings.Clone("abc")), true)
	f(value.StringValue("abc"), value.StringValue("abd"), false)
	f(value.StringValue(""), value.StringValue(""), true)
	f(value.BytesValue([]byte("hi")), value.BytesValue([]byte("hi")), true)
	f(value.BytesValue([]byte("hi")), value.BytesValue([]byte("ho")), false)
	f(value.BytesValue(nil), value.BytesValue([]byte{}), true)
	f(value.ArrayValue(), value.ArrayValue(), true)
	f(value.ArrayValue(value.I64Value(1), value.StringValue("a")),
		value.ArrayValue(value.I64Value(1), value.StringValue("a")), true)
	f(value.ArrayValue(value.I64Value(1)), value.ArrayValue(value.I64Value(1), value.I64Value(1)), false)
	f(value.ArrayValue(value.I64Value(1)), value.ArrayValue(value.U64Value(1)), false)
	f(value.ArrayValue(value.F64Value(nan)), value.ArrayValue(value.F64Value(nan)), false)
	f(value.ArrayValue(value.ArrayValue(value.BoolValue(true))),
		value.ArrayValue(value.ArrayValue(value.BoolValue(true))), true)

	// Different kinds are never equal, whatever their payloads' bits.
	f(value.I64Value(1), value.U64Value(1), false)
	f(value.I64Value(1), value.BoolValue(true), false)
	f(value.I64Value(0), value.NullValue(), false)
	f(value.U64Value(math.Float64bits(1)), value.F64Value(1), false)
	f(value.StringValue("hi"), value.BytesValue([]byte("hi")), false)
	f(value.StringValue(""), value.NullValue(), false)
	f(value.BytesValue(nil), value.ArrayValue(), false)
	f(value.ArrayValue(), value.NullValue(), false)
}

func TestString(t *testing.T) {
	f := func(v value.Value, want string) {
		t.Helper()
		if got := v.String(); got != want {
			t.Errorf("%v String() = %q, want %q", v.Kind(), got, want)
		}
	}
	f(value.Value{}, "null")
	f(value.I64Value(-42), "-42")
	f(value.I64Value(math.MinInt64), "-9223372036854775808")
	f(value.U64Value(math.MaxUint64), "18446744073709551615")
	f(value.F64Value(1.5), "1.5")
	f(value.F64Value(1), "1")
	f(value.F64Value(1e21), "1e+21")
	f(value.F64Value(math.NaN()), "NaN")
	f(value.F64Value(math.Inf(-1)), "-Inf")
	f(value.BoolValue(true), "true")
	f(value.BoolValue(false), "false")
	f(value.StringValue("/bin/ls"), "/bin/ls")
	f(value.StringValue("a \"quoted\"\n"), "a \"quoted\"\n") // as it is, not quoted
	f(value.StringValue(""), "")
	f(value.BytesValue([]byte{0xde, 0xad, 0x00, 0x0f}), "dead000f")
	f(value.BytesValue(nil), "")
	f(value.ArrayValue(), "[]")
	f(value.ArrayValue(value.I64Value(1), value.StringValue("a b"), value.NullValue(),
		value.ArrayValue(value.BoolValue(true), value.BytesValue([]byte{1}))),
		"[1 a b null [true 01]]")
}

// TestValueNoAlloc proves that building and reading scalars and strings,
// comparing scalars and encoding into a large enough buffer never allocate.
func TestValueNoAlloc(t *testing.T) {
	var (
		i   int64   = -123456789
		u   uint64  = math.MaxUint64
		x   float64 = 3.25
		b           = true
		s           = "/usr/bin/ssh"
		sum float64
	)
	buf := make([]byte, 0, 256)
	check := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
	check("construct and read scalars", func() {
		vi := value.I64Value(i)
		vu := value.U64Value(u)
		vf := value.F64Value(x)
		vb := value.BoolValue(b)
		vn := value.NullValue()
		gi, _ := vi.I64()
		gu, _ := vu.U64()
		gf, _ := vf.F64()
		gb, _ := vb.Bool()
		sum += float64(gi) + float64(gu) + gf
		if gb && vn.IsNull() {
			sum++
		}
	})
	check("StringValue and Str", func() {
		v := value.StringValue(s)
		got, _ := v.Str()
		sum += float64(len(got) + v.Len())
	})
	check("Kind", func() {
		for _, v := range [...]value.Value{value.I64Value(i), value.F64Value(x), value.StringValue(s), {}} {
			sum += float64(v.Kind())
		}
	})
	check("Equal on scalars", func() {
		if value.I64Value(i).Equal(value.I64Value(i)) && value.F64Value(x).Equal(value.F64Value(x)) &&
			value.U64Value(u).Equal(value.U64Value(u)) && value.BoolValue(b).Equal(value.BoolValue(b)) &&
			value.StringValue(s).Equal(value.StringValue(s)) {
			sum++
		}
	})
	check("AppendJSON of scalars and strings", func() {
		buf = value.I64Value(i).AppendJSON(buf[:0])
		buf = value.U64Value(u).AppendJSON(buf)
		buf = value.F64Value(x).AppendJSON(buf)
		buf = value.F64Value(1).AppendJSON(buf)
		buf = value.BoolValue(b).AppendJSON(buf)
		buf = value.NullValue().AppendJSON(buf)
		buf = value.StringValue(s).AppendJSON(buf)
		buf = value.StringValue("tab\there \"q\" \xff").AppendJSON(buf)
	})
	check("AppendText of scalars and strings", func() {
		buf = value.I64Value(i).AppendText(buf[:0])
		buf = value.U64Value(u).AppendText(buf)
		buf = value.F64Value(x).AppendText(buf)
		buf = value.BoolValue(b).AppendText(buf)
		buf = value.StringValue(s).AppendText(buf)
	})
	sink = value.F64Value(sum)
}
