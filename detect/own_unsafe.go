// This file holds detect's uses of unsafe: a string over bytes that a
// partial match owns, and a string over the evaluation scratch (see
// scratchString). It relies on the bytes never changing while the
// string can be read: an arena is written only by appending, and is reset
// (len 0, then overwritten) only when every value that points into it has
// been cleared or replaced (see ownInto's callers in worker.go). Values that
// leave a partial match (alert fields) are copied out first, into the
// alert's own buffer in an alertSlab, which is reset only once the alert's
// consumer has released it (see slabString).

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

// scratchString returns a string over b, bytes of an evalScratch's str
// arena. It relies on the arena being only appended to while a predicate
// runs, and emptied only when the next predicate over operands starts,
// after which no string from before is read: operand values never leave
// the predicate that computed them.
func scratchString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// slabString returns a string over b, bytes of an alert's buffer in an
// alertSlab. It relies on the slab writing those bytes again only after
// the alert's consumer released it (sink.Recycler), when nothing reads
// the alert or its strings any more: until then the buffer is only
// appended to, and a full one is replaced, not overwritten.
func slabString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
