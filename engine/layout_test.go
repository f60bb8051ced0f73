package engine

// This file uses unsafe only to read field offsets and sizes.

import (
	"testing"
	"unsafe"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// span is a run of fields one side writes (or reads on every event):
// [first, end).
type span struct {
	name       string
	first, end uintptr
}

// checkSpans fails unless consecutive spans are at least a padding unit
// apart, and the last is followed by one (the next element of a slice).
// Allocations are not aligned to the unit, so only distances count.
func checkSpans(t *testing.T, typ string, size uintptr, ss []span) {
	t.Helper()
	for i := 1; i < len(ss); i++ {
		if gap := ss[i].first - ss[i-1].end; gap < pad.CacheLine {
			t.Errorf("%s: %s starts %d bytes after %s ends, want >= %d", typ, ss[i].name, gap, ss[i-1].name, pad.CacheLine)
		}
	}
	if last := ss[len(ss)-1]; size-last.end < pad.CacheLine {
		t.Errorf("%s: %s ends %d bytes before the end, want >= %d", typ, last.name, size-last.end, pad.CacheLine)
	}
}

// The partition's ring pointer (read by every Publish), the producers'
// slow-path counters and the worker's counters; a subscriber's ring pointer
// (read by every worker), its receive counter (written by Recv) and its
// workers' counters; a worker's state: none shares a line with another
// side's, nor with a neighbour in its slice.
func TestLayout(t *testing.T) {
	var p partition
	checkSpans(t, "partition", unsafe.Sizeof(p), []span{
		{"ring", unsafe.Offsetof(p.ring), unsafe.Offsetof(p.ring) + unsafe.Sizeof(p.ring)},
		{"producers", unsafe.Offsetof(p.dropped), unsafe.Offsetof(p.published) + unsafe.Sizeof(p.published)},
		{"worker", unsafe.Offsetof(p.delivered), unsafe.Offsetof(p.highWater) + unsafe.Sizeof(p.highWater)},
	})
	var s Subscriber
	checkSpans(t, "Subscriber", unsafe.Sizeof(s), []span{
		{"ring", unsafe.Offsetof(s.bus), unsafe.Offsetof(s.ring) + unsafe.Sizeof(s.ring)},
		{"received", unsafe.Offsetof(s.received), unsafe.Offsetof(s.received) + unsafe.Sizeof(s.received)},
		{"workers", unsafe.Offsetof(s.dropped), unsafe.Offsetof(s.closed) + unsafe.Sizeof(s.closed)},
	})
	// A Producer's watermark, written on its every raise and read by every
	// worker, is apart from its read-mostly fields; a worker's need, in a
	// slice, is apart from its neighbour's.
	var pr Producer
	checkSpans(t, "Producer", unsafe.Sizeof(pr), []span{
		{"handle", unsafe.Offsetof(pr.bus), unsafe.Offsetof(pr.closed) + unsafe.Sizeof(pr.closed)},
		{"wm", unsafe.Offsetof(pr.wm), unsafe.Offsetof(pr.wm) + unsafe.Sizeof(pr.wm)},
	})
	var ns needSlot
	checkSpans(t, "needSlot", unsafe.Sizeof(ns), []span{{"v", unsafe.Offsetof(ns.v), unsafe.Offsetof(ns.v) + unsafe.Sizeof(ns.v)}})
	var w worker
	if unsafe.Sizeof(w)-(unsafe.Offsetof(w.state)+unsafe.Sizeof(w.state)) < pad.CacheLine {
		t.Error("worker: state not followed by a padding unit")
	}
}
