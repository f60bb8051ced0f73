// This file holds the tests that need package unsafe: the size of a Value,
// and that decoded strings own their memory. The latter decode from a string
// that views a byte slice (unsafe.String) and then overwrite the slice, which
// is what a reader that reuses its line buffer does.

package value_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/bytedance/sonic/ast"
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
func build(t *testing.T, b *value.Builder, arena *value.Arena, s string) value.Value {
	t.Helper()
	b.Reset(arena)
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
	var arena value.Arena
	var b value.Builder
	check("Builder with Arena", func(s string) value.Value { return build(t, &b, &arena, s) })
	check("Builder without Arena", func(s string) value.Value { return build(t, &b, nil, s) })
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

func TestArenaString(t *testing.T) {
	var a value.Arena
	if got := a.String(""); got != "" {
		t.Errorf(`String("") = %q`, got)
	}

	// Large strings (beyond what the Arena carves from a block) are copied too.
	for _, n := range []int{1, 4 << 10, 4<<10 + 1, 16 << 10, 16<<10 + 1, 1 << 20} {
		src := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		want := string(src)
		got := a.String(view(src))
		if overlaps(got, src) {
			t.Errorf("len %d: the copy aliases its source", n)
		}
		clear(src)
		if got != want {
			t.Errorf("len %d: the copy changed with its source", n)
		}
	}
}

// TestArenaManyStrings fills several blocks with strings of awkward sizes, so
// that some land at the end of a block and the next one starts a new block,
// and checks every earlier string after all the later ones were written.
func TestArenaManyStrings(t *testing.T) {
	var a value.Arena
	src := make([]byte, 0, 5000)
	var got, want []string
	total := 0
	for i := 0; total < 200<<10; i++ {
		n := 1 + i*37%4000
		src = src[:0]
		for j := 0; j < n; j++ {
			src = append(src, byte('a'+(i+j)%26))
		}
		want = append(want, string(src))
		got = append(got, a.String(view(src)))
		total += n
	}
	for i := range src {
		src[i] = 0
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d (len %d) was overwritten", i, len(want[i]))
		}
	}
	// Strings taken from one block must not overlap each other.
	for i := 1; i < len(got); i++ {
		p := uintptr(unsafe.Pointer(unsafe.StringData(got[i-1])))
		q := uintptr(unsafe.Pointer(unsafe.StringData(got[i])))
		if q > p && q < p+uintptr(len(got[i-1])) {
			t.Fatalf("string %d overlaps string %d", i, i-1)
		}
	}
}

// TestBuilderArenaManyValues decodes thousands of Values through one Builder
// and Arena from a reused buffer, as a log reader does, and checks them all
// at the end.
func TestBuilderArenaManyValues(t *testing.T) {
	var (
		arena value.Arena
		b     value.Builder
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
		vals = append(vals, build(t, &b, &arena, view(buf)))
	}
	clear(buf)
	for i, v := range vals {
		want := value.ArrayValue(value.StringValue(strings.Repeat("p", i%50)+strconv.Itoa(i)), value.I64Value(int64(i)))
		if !v.Equal(want) {
			t.Fatalf("value %d = %v, want %v", i, v, want)
		}
	}
}
