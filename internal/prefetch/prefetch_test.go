package prefetch

import (
	"testing"
	"unsafe"
)

// TestLines runs the hint over live memory, at unaligned starts and odd
// lengths, over an address that is not mapped, and with n 0, and checks
// that the memory is unchanged and nothing is allocated.
func TestLines(t *testing.T) {
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	base := uintptr(unsafe.Pointer(&buf[0]))
	for _, c := range []struct{ off, n uintptr }{{0, 4096}, {1, 63}, {63, 2}, {100, 1000}, {0, 0}, {4095, 1}} {
		Lines(base+c.off, c.n)
	}
	Lines(8, 4096)    // unmapped: a prefetch never faults
	Lines(1<<40, 128) // nor does one far from any mapping
	for i := range buf {
		if buf[i] != byte(i) {
			t.Fatalf("byte %d changed", i)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Lines(base, 512) }); n != 0 {
		t.Errorf("Lines allocates %v times", n)
	}
}
