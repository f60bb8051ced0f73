package sink

// This file uses unsafe only to read field offsets and sizes.

import (
	"testing"
	"unsafe"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// Two destinations' counters never share a cache line: each destCounters
// opens and closes with a padding unit.
func TestLayoutDestCounters(t *testing.T) {
	var c destCounters
	if unsafe.Offsetof(c.emitted) < pad.CacheLine {
		t.Errorf("destCounters.emitted at %d, want >= %d", unsafe.Offsetof(c.emitted), pad.CacheLine)
	}
	if end := unsafe.Offsetof(c.rejected) + unsafe.Sizeof(c.rejected); unsafe.Sizeof(c)-end < pad.CacheLine {
		t.Errorf("destCounters: %d bytes after the last counter, want >= %d", unsafe.Sizeof(c)-end, pad.CacheLine)
	}
}
