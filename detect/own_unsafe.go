// This file holds detect's one use of unsafe: a string over bytes that a
// partial match owns. It relies on the bytes never changing while the
// string can be read: an arena is written only by appending, and is reset
// (len 0, then overwritten) only when every value that points into it has
// been cleared or replaced (see ownInto's callers in worker.go). Values that
// leave a partial match (alert fields) are copied out with ownValue first.

package detect

import (
	"unsafe"

	"github.com/kestrel-sec/kestrel/value"
)

// ownInto copies v's string or bytes payload to the end of arena, which
// must have room for it (see payloadLen), and returns arena and a Value
// over the copy. Other kinds own nothing of the event's (arrays are copied
// to the heap by ownValue).
func ownInto(arena []byte, v value.Value) ([]byte, value.Value) {
	switch v.Kind() {
	case value.KindString:
		s, _ := v.Str()
		if len(s) == 0 {
			return arena, value.StringValue("")
		}
		start := len(arena)
		arena = append(arena, s...)
		return arena, value.StringValue(unsafe.String(&arena[start], len(s)))
	case value.KindBytes:
		b, _ := v.Bytes()
		start := len(arena)
		arena = append(arena, b...)
		return arena, value.BytesValue(arena[start:len(arena):len(arena)])
	case value.KindArray:
		return arena, ownValue(v)
	}
	return arena, v
}
