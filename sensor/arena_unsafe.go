// This file turns bytes of an arena chunk into strings with unsafe.String.
// It relies on one rule, kept by arena: bytes are written only before the
// string over them is handed out (append within the reserved capacity,
// then done), and never again; a full chunk is replaced, not reused.
// So each string is as immutable as Go requires, and lives as long as
// anything references its chunk.

package sensor

import "unsafe"

// chunkSize is an arena chunk's size: a few hundred events' strings.
const chunkSize = 64 << 10

// arena hands out immutable strings carved from append-only chunks.
type arena struct {
	buf []byte // the current chunk: buf[:len] is handed out, the rest free
}

// reserve returns an empty slice with room for n bytes inside a chunk;
// append at most n bytes to it, then call done.
func (a *arena) reserve(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(chunkSize, n))
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// done hands out b, which reserve returned and the caller appended to, as a
// string. If appends outgrew the reservation, b lives in its own memory,
// which is just as immutable.
func (a *arena) done(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(a.buf) < cap(a.buf) && unsafe.SliceData(b) == unsafe.SliceData(a.buf[len(a.buf):cap(a.buf)]) {
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// string copies b into the arena.
func (a *arena) string(b []byte) string {
	return a.done(append(a.reserve(len(b)), b...))
}
