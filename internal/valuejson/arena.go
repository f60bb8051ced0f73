package valuejson

import (
	"strings"
	"unsafe"
)

// arenaChunk is the size of the largest blocks an Arena carves strings
// from; arenaFirst is its first block's.
const (
	arenaChunk = 16 << 10
	arenaFirst = 256
)

// Arena copies decoded strings into shared blocks, so that decoding many
// small strings costs one allocation per block instead of one per string.
// A block stays alive while any string carved from it does. The zero Arena is
// ready to use; it is not safe for concurrent use.
type Arena struct {
	buf []byte
}

// String returns a copy of s that no longer shares memory with s.
func (a *Arena) String(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > arenaChunk/4 {
		return strings.Clone(s)
	}
	if cap(a.buf)-len(a.buf) < len(s) {
		// Blocks start small and double up to arenaChunk, so a short-lived
		// Arena (one Event.UnmarshalJSON) does not pin 16 KiB for a few
		// strings, while a long-lived decoder soon carves from full blocks.
		a.buf = make([]byte, 0, min(arenaChunk, max(2*cap(a.buf), arenaFirst, len(s))))
	}
	n := len(a.buf)
	a.buf = append(a.buf, s...)
	// The bytes were just copied in and are never written again, so the
	// view is safe in every build: unsafeconv.String would copy under the
	// purego tag, an allocation per string that the Arena exists to avoid.
	return unsafe.String(&a.buf[n], len(s))
}
