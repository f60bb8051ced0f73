package replay

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/inlinecheck"
)

// TestHotInlines fails when a function the decoders' or the writers' speed
// rests on stops inlining (its body grew past the compiler's budget).
func TestHotInlines(t *testing.T) {
	inlinecheck.Check(t, false, "(*blockDecoder).uvarint", "(*recordOut).put")
}

// TestUvarint checks the decoder's varint reader against encoding/binary on
// every length, the edges and malformed input.
func TestUvarint(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		want, n := binary.Uvarint(b)
		d := blockDecoder{buf: b}
		got, ok := d.uvarint()
		if ok != (n > 0) || ok && (got != want || d.pos != n) {
			t.Errorf("% x: got %d, %v at %d; binary.Uvarint %d, %d", b, got, ok, d.pos, want, n)
		}
	}
	for _, u := range []uint64{0, 1, 127, 128, 300, 1<<14 - 1, 1 << 14, 1<<21 + 5, 1<<35 - 1, 1 << 56, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		b := binary.AppendUvarint(nil, u)
		check(b)
		check(append(b, 0x80, 1))
		check(b[:len(b)-1]) // cut
	}
	check(nil)
	check([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})       // overflows at the 10th byte
	check([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00}) // 11 bytes
	check([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})       // 10 bytes, zero
}
