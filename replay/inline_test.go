package replay

import (
	"encoding/binary"
	"math"
	"os/exec"
	"strings"
	"testing"
)

// TestHotInlines fails when a function the decoders' speed rests on stops
// inlining (its body grew past the compiler's budget).
func TestHotInlines(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "build", "-gcflags=-m", "-o", "/dev/null", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, fn := range []string{"(*blockDecoder).uvarint"} {
		if !strings.Contains(string(out), "can inline "+fn) {
			t.Errorf("%s no longer inlines", fn)
		}
	}
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
