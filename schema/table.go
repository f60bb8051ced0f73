package schema

// Invariants:
//   - A table is insert-only: a slot, once set, never changes, so a reader that
//     loads a non-nil entry may use it forever.
//   - Only the Registry's writer (holding Registry.mu) stores into slots; the
//     atomic store of an entry publishes the entry's contents to every reader
//     that loads it (happens-before through the atomic pointer).
//   - The load factor stays at or below 1/2, so a probe always ends at a nil
//     slot. When an insert would pass it, the writer builds a bigger table and
//     publishes it in the next snapshot; readers of older snapshots keep the
//     old table, which is never written again.
//   - Readers decide membership by the snapshot they loaded: an entry whose id
//     is above that snapshot's count was added later and is ignored, so a
//     snapshot's view never changes under its reader.

import (
	"sync/atomic"

	"github.com/zeebo/xxh3"
)

type entry struct {
	hash uint64
	name string
	id   uint32
}

type table struct {
	slots []atomic.Pointer[entry]
	mask  uint64
	n     int // entries stored; written by the writer only
}

func newTable(capacity int) *table {
	size := 16
	for size < 2*capacity {
		size <<= 1
	}
	return &table{slots: make([]atomic.Pointer[entry], size), mask: uint64(size - 1)}
}

// lookup returns the id stored for name, if its id is at most limit.
func (t *table) lookup(name string, limit uint32) (uint32, bool) {
	h := xxh3.HashString(name)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return 0, false
		}
		if e.hash == h && e.name == name {
			if e.id > limit {
				return 0, false
			}
			return e.id, true
		}
	}
}

// insert adds name with id and returns the table to publish: t itself, or a
// bigger copy when t would pass its load factor. Writer only.
func (t *table) insert(name string, id uint32) *table {
	if 2*(t.n+1) > len(t.slots) {
		bigger := newTable(2 * (t.n + 1))
		for i := range t.slots {
			if e := t.slots[i].Load(); e != nil {
				bigger.put(e)
			}
		}
		t = bigger
	}
	t.put(&entry{hash: xxh3.HashString(name), name: name, id: id})
	return t
}

func (t *table) put(e *entry) {
	for i := e.hash & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(e)
			t.n++
			return
		}
	}
}
