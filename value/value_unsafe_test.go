// This file holds the tests that need package unsafe: the size of a Value,
// and that decoded strings own their memory. The latter decode from a string
// that views a byte slice (unsafe.String) and then overwrite the slice, which
// is what a reader that reuses its line buffer does.

package value_test

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/bytedance/sonic/ast"
	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"
)

func TestValueSize(t *testing.T) {
	if got := unsafe.Sizeof(value.Value{}); got != 16 {
		t.Errorf("unsafe.Sizeof(Value{}) = %d, want 16", got)
	}
}

// view returns a string sharing b's memory, so that writing to b changes it.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// overlaps reports whether s's bytes lie inside buf.
func overlaps(s string, buf []byte) bool {
	if len(s) == 0 || len(buf) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p < lo+uintptr(len(buf))
}

// build runs a Builder over s the way a codec embedding Values does.
func build(t *testing.T, b valuejson.Builder[value.Value], arena *valuejson.Arena, s string) value.Value {
	t.Helper()
	b.Reset(arena, 0)
	if err := ast.Preorder(s, b, &ast.VisitorOptions{OnlyNumber: true}); err != nil {
		t.Fatalf("Preorder(%q): %v", s, err)
	}
	if !b.Done() {
		t.Fatalf("Preorder(%q): Builder not Done", s)
	}
	return b.Value()
}

// TestDecodedStringsDoNotAlias overwrites the input after decoding and checks
// that every String (escaped or not, arena or clone) and Bytes is intact.
func TestDecodedStringsDoNotAlias(t *testing.T) {
	const doc = `{"Array":[{"String":"/bin/ls"},{"String":"tab\tand \"quotes\""},` +
		`{"Bytes":[104,105]},{"Array":[{"String":"deep"}]},{"String":""}]}`
	want := value.ArrayValue(
		value.StringValue("/bin/ls"),
		value.StringValue("tab\tand \"quotes\""),
		value.BytesValue([]byte("hi")),
		value.ArrayValue(value.StringValue("deep")),
		value.StringValue(""),
	)
	check := func(name string, decode func(s string) value.Value) {
		t.Helper()
		src := []byte(doc)
		got := decode(view(src))
		for i := range src {
			src[i] = 'X'
		}
		if !got.Equal(want) {
			t.Errorf("%s: after overwriting the input got %v, want %v", name, got, want)
		}
		a, _ := got.Array()
		for _, e := range a {
			if s, ok := e.Str(); ok && overlaps(s, src) {
				t.Errorf("%s: string %q points into the input", name, s)
			}
		}
	}
	var arena valuejson.Arena
	b := valuejson.NewBuilder[value.Value]()
	check("Builder with Arena", func(s string) value.Value { return build(t, b, &arena, s) })
	check("Builder without Arena", func(s string) value.Value { return build(t, b, nil, s) })
	check("Decoder", func(s string) value.Value {
		var d value.Decoder
		v, err := d.Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	})
	check("UnmarshalJSON", func(s string) value.Value {
		var v value.Value
		if err := v.UnmarshalJSON(unsafe.Slice(unsafe.StringData(s), len(s))); err != nil {
			t.Fatal(err)
		}
		return v
	})
}

// TestBuilderArenaManyValues decodes thousands of Values through one Builder
// and Arena from a reused buffer, as a log reader does, and checks them all
// at the end.
func TestBuilderArenaManyValues(t *testing.T) {
	var (
		arena valuejson.Arena
		b     = valuejson.NewBuilder[value.Value]()
		vals  []value.Value
		buf   []byte
	)
	const n = 3000
	for i := range n {
		buf = append(buf[:0], `{"Array":[{"String":"`...)
		buf = append(buf, strings.Repeat("p", i%50)...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `"},{"I64":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `}]}`...)
		vals = append(vals, build(t, b, &arena, view(buf)))
	}
	clear(buf)
	for i, v := range vals {
		want := value.ArrayValue(value.StringValue(strings.Repeat("p", i%50)+strconv.Itoa(i)), value.I64Value(int64(i)))
		if !v.Equal(want) {
			t.Fatalf("value %d = %v, want %v", i, v, want)
		}
	}
}
