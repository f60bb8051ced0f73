package value_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/kestrel-sec/kestrel/value"
)

// Package-level sinks keep the compiler from discarding benchmarked work.
var (
	sink      value.Value
	sinkI64   int64
	sinkU64   uint64
	sinkF64   float64
	sinkBool  bool
	sinkBytes []byte
	sinkAny   any
)

// BenchmarkConstructAccess builds a Value of each scalar kind and String and
// reads it back with its accessor.
func BenchmarkConstructAccess(b *testing.B) {
	b.Run("I64", func(b *testing.B) {
		b.ReportAllocs()
		var acc int64
		for i := 0; b.Loop(); i++ {
			x, _ := value.I64Value(int64(i)).I64()
			acc += x
		}
		sinkI64 = acc
	})
	b.Run("U64", func(b *testing.B) {
		b.ReportAllocs()
		var acc uint64
		for i := 0; b.Loop(); i++ {
			x, _ := value.U64Value(uint64(i)).U64()
			acc += x
		}
		sinkU64 = acc
	})
	b.Run("F64", func(b *testing.B) {
		b.ReportAllocs()
		var acc float64
		for i := 0; b.Loop(); i++ {
			x, _ := value.F64Value(float64(i)).F64()
			acc += x
		}
		sinkF64 = acc
	})
	b.Run("Bool", func(b *testing.B) {
		b.ReportAllocs()
		acc := false
		for i := 0; b.Loop(); i++ {
			x, _ := value.BoolValue(i&1 == 0).Bool()
			acc = acc != x
		}
		sinkBool = acc
	})
	b.Run("String", func(b *testing.B) {
		b.ReportAllocs()
		strs := [2]string{"/bin/ls", "/usr/bin/ssh"}
		n := 0
		for i := 0; b.Loop(); i++ {
			s, _ := value.StringValue(strs[i&1]).Str()
			n += len(s)
		}
		sinkI64 = int64(n)
	})
	b.Run("Kind", func(b *testing.B) {
		b.ReportAllocs()
		vs := [4]value.Value{value.I64Value(1), value.StringValue("s"), value.F64Value(1), {}}
		n := 0
		for i := 0; b.Loop(); i++ {
			n += int(vs[i&3].Kind())
		}
		sinkI64 = int64(n)
	})
}

var benchValues = []struct {
	name string
	v    value.Value
}{
	{"Null", value.NullValue()},
	{"I64", value.I64Value(-1234567890123)},
	{"U64", value.U64Value(math.MaxUint64)},
	{"F64", value.F64Value(3.141592653589793)},
	{"Bool", value.BoolValue(true)},
	{"String", value.StringValue("/usr/lib/systemd/systemd-journald")},
	{"StringEscaped", value.StringValue("C:\\Windows\\System32\\cmd.exe /c \"echo hi\"\r\n")},
	{"Bytes", value.BytesValue([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"))},
	// A typical argv-like Array.
	{"Array", value.ArrayValue(
		value.StringValue("/usr/bin/curl"), value.StringValue("-sSL"),
		value.StringValue("https://example.com/install.sh"), value.I64Value(4242),
		value.U64Value(1000), value.BoolValue(false), value.F64Value(0.25), value.NullValue(),
	)},
}

// BenchmarkAppendJSON encodes into a reused buffer; SetBytes is the size of
// the output.
func BenchmarkAppendJSON(b *testing.B) {
	for _, c := range benchValues {
		b.Run(c.name, func(b *testing.B) {
			buf := c.v.AppendJSON(make([]byte, 0, 512))
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = c.v.AppendJSON(buf[:0])
			}
			sinkBytes = buf
		})
	}
}

// BenchmarkDecode decodes with a reused Decoder; SetBytes is the size of the
// input. "Array/encoding-json" decodes the same text with encoding/json into
// an untyped tree, as a baseline.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchValues {
		in := string(c.v.AppendJSON(nil))
		b.Run(c.name, func(b *testing.B) {
			var d value.Decoder
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				v, err := d.Decode(in)
				if err != nil {
					b.Fatal(err)
				}
				sink = v
			}
		})
	}
	in := []byte(benchValues[len(benchValues)-1].v.AppendJSON(nil))
	b.Run("Array/encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(in, &v); err != nil {
				b.Fatal(err)
			}
			sinkAny = v
		}
	})
	b.Run("Array/UnmarshalJSON", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			var v value.Value
			if err := v.UnmarshalJSON(in); err != nil {
				b.Fatal(err)
			}
			sink = v
		}
	})
}

func BenchmarkEqual(b *testing.B) {
	x, y := benchValues[len(benchValues)-1].v, benchValues[len(benchValues)-1].v
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if x.Equal(y) {
			n++
		}
	}
	sinkI64 = int64(n)
}
