package ring

// This file uses unsafe only to read field offsets and sizes: it checks
// that each side's hot words share no 128-byte block (two 64-byte lines:
// amd64's adjacent-line prefetcher fetches them in pairs) with the other
// side's, nor with the read-only fields or a neighbouring allocation.

import (
	"testing"
	"unsafe"
)

// group is a run of fields that one side writes: [first, last+size).
type group struct {
	name        string
	first, last uintptr
}

func checkGroups(t *testing.T, typ string, size uintptr, gs []group) {
	t.Helper()
	for i := 1; i < len(gs); i++ {
		if gap := gs[i].first - gs[i-1].last; gap < padSize {
			t.Errorf("%s: %s starts %d bytes after %s ends, want >= %d", typ, gs[i].name, gap, gs[i-1].name, padSize)
		}
	}
	if gs[0].first < padSize {
		t.Errorf("%s: %s at offset %d, want >= %d from the start", typ, gs[0].name, gs[0].first, padSize)
	}
	if end := gs[len(gs)-1].last; size-end < padSize {
		t.Errorf("%s: %s ends %d bytes before the end, want >= %d", typ, gs[len(gs)-1].name, size-end, padSize)
	}
}

type big struct{ a [5]uint64 }

func TestLayoutSPSC(t *testing.T) {
	var r SPSC[big]
	checkGroups(t, "SPSC", unsafe.Sizeof(r), []group{
		{"read-only", unsafe.Offsetof(r.buf), unsafe.Offsetof(r.done) + unsafe.Sizeof(r.done)},
		{"producer", unsafe.Offsetof(r.pub), unsafe.Offsetof(r.headCache) + unsafe.Sizeof(r.headCache)},
		{"consumer", unsafe.Offsetof(r.head), unsafe.Offsetof(r.commitCache) + unsafe.Sizeof(r.commitCache)},
		{"wake", unsafe.Offsetof(r.cons), unsafe.Offsetof(r.prod) + unsafe.Sizeof(r.prod)},
	})
	if unsafe.Offsetof(r.pub) > unsafe.Offsetof(r.resv) || unsafe.Offsetof(r.head) > unsafe.Offsetof(r.rhead) {
		t.Error("SPSC: cursor fields out of their groups")
	}
}

func TestLayoutMPSC(t *testing.T) {
	var r MPSC[big]
	checkGroups(t, "MPSC", unsafe.Sizeof(r), []group{
		{"read-only", unsafe.Offsetof(r.cells), unsafe.Offsetof(r.done) + unsafe.Sizeof(r.done)},
		{"producers", unsafe.Offsetof(r.tail), unsafe.Offsetof(r.headCache) + unsafe.Sizeof(r.headCache)},
		{"consumer", unsafe.Offsetof(r.head), unsafe.Offsetof(r.avail) + unsafe.Sizeof(r.avail)},
		{"wake", unsafe.Offsetof(r.closed), unsafe.Offsetof(r.prod) + unsafe.Sizeof(r.prod)},
	})
	var c cell[big]
	if unsafe.Offsetof(c.end) != 0 || unsafe.Offsetof(c.v) != 8 {
		t.Errorf("cell: end at %d, v at %d: the marker should lead its value", unsafe.Offsetof(c.end), unsafe.Offsetof(c.v))
	}
}
