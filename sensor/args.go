package sensor

import (
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// valueChunk is how many Values a valueArena chunk holds.
const valueChunk = 4096

// valueArena hands out slices of Values from shared chunks, as arena does
// bytes: a chunk is allocated every few hundred events, never per event,
// and a slice handed out is never written again (a new chunk replaces a
// full one; the garbage collector frees a chunk when no event refers to
// it).
type valueArena struct {
	buf []value.Value
}

// take returns n Values to fill, inside a chunk.
func (a *valueArena) take(n int) []value.Value {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]value.Value, 0, max(valueChunk, n))
	}
	i := len(a.buf)
	a.buf = a.buf[:i+n]
	return a.buf[i : i+n : i+n]
}

// stringArray reports whether reg declares field id an array of strings.
func stringArray(reg *schema.Registry, id schema.FieldID) bool {
	d, ok := reg.Field(id)
	return ok && d.DataType == schema.TypeStringArray
}

// args returns the exec's arguments as an Array of Strings: raw is the
// kernel's NUL-separated argument block (trailing NULs cut) and cl the
// command line made of it, NULs turned to spaces, whose substrings the
// elements are (nothing copied). A block the kernel program cut short
// ends in a cut argument, as the command line does.
func (b *builder) args(cl value.Value, raw []byte) value.Value {
	s, _ := cl.Str()
	n := 1
	for _, c := range raw {
		if c == 0 {
			n++
		}
	}
	out := b.vals.take(n)
	start, k := 0, 0
	for i, c := range raw {
		if c == 0 {
			out[k] = value.StringValue(s[start:i])
			k++
			start = i + 1
		}
	}
	out[k] = value.StringValue(s[start:])
	return value.ArrayValue(out...)
}
