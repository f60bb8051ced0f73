package sink

import (
	"encoding/binary"

	"github.com/zeebo/xxh3"
)

// dedup suppresses alerts whose key was seen within the window. It is used
// by the dispatcher goroutine only, so it takes no lock.
//
// Window semantics: an alert with a new key (or whose key's window has
// ended) passes and opens a window [t, t+Window) at the Clock's time t.
// Alerts with that key at times < t+Window are suppressed and counted; the
// first alert at or after t+Window passes carrying that count in
// Alert.Suppressed, and opens the next window.
//
// Memory: at most maxEntries keys, in a list ordered by window start
// (oldest first; a key whose window restarts moves to the back). Each check
// also expires up to two entries from the front whose window has ended:
// one that suppressed nothing is forgotten (nothing is lost: its next alert
// would pass anyway), one that holds a count is moved to the back, still
// waiting for the next alert of its key to carry the count. When the table
// is full, the front entry is evicted; an eviction that loses information
// (a window still open, or a count not yet carried) is counted. Memory is
// therefore bounded by maxEntries, and keys that stop recurring free their
// slots at the pace new alerts arrive.
//
// Keys are 64-bit XXH3 hashes; two distinct keys colliding (odds about
// n²/2⁶⁵ for n live keys) would share a window.
type dedup struct {
	window uint64
	fields []string
	max    int

	index   map[uint64]int32 // key -> position in nodes
	nodes   []dedupNode      // grows to at most max, never shrinks
	head    int32            // oldest, -1 if empty
	tail    int32            // newest, -1 if empty
	free    int32            // free nodes, linked by next; -1 if none
	buf     []byte           // key scratch
	evicted uint64           // lossy evictions; read via Output's atomic copy
}

type dedupNode struct {
	key        uint64
	start      uint64 // window start, Clock ns
	suppressed uint64 // alerts suppressed in the current window
	prev, next int32
}

func newDedup(c DedupConfig) *dedup {
	if c.Window <= 0 {
		return nil
	}
	max := c.MaxEntries
	if max == 0 {
		max = DefaultDedupMaxEntries
	}
	d := &dedup{
		window: uint64(c.Window),
		fields: append([]string(nil), c.Fields...),
		max:    max,
		index:  make(map[uint64]int32),
		head:   -1,
		tail:   -1,
		free:   -1,
	}
	return d
}

// key hashes rule id, entity key and the configured fields' values. Each
// part is length-prefixed so that different splits never collide by
// construction; a missing field hashes as a length of ^0.
func (d *dedup) key(a *Alert) uint64 {
	b := d.buf[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(len(a.RuleID)))
	b = append(b, a.RuleID...)
	b = binary.LittleEndian.AppendUint64(b, a.Entity.Hi)
	b = binary.LittleEndian.AppendUint64(b, a.Entity.Lo)
	for _, p := range d.fields {
		i := fieldIndex(a.Fields, p)
		if i < 0 {
			b = binary.LittleEndian.AppendUint64(b, ^uint64(0))
			continue
		}
		n := len(b)
		b = binary.LittleEndian.AppendUint64(b, 0)
		b = a.Fields[i].Value.AppendJSON(b)
		binary.LittleEndian.PutUint64(b[n:], uint64(len(b)-n-8))
	}
	d.buf = b
	return xxh3.Hash(b)
}

func fieldIndex(fs []AlertField, p string) int {
	for i := range fs {
		if fs[i].Path == p {
			return i
		}
	}
	return -1
}

// check reports whether a passes at time now; when it passes after a window
// in which alerts were suppressed, it adds their number to a.Suppressed.
func (d *dedup) check(a *Alert, now uint64) bool {
	d.expire(now)
	k := d.key(a)
	if i, ok := d.index[k]; ok {
		n := &d.nodes[i]
		if d.open(n, now) {
			n.suppressed++
			return false
		}
		// Window over (or the clock was set back): pass, carry the count,
		// open a new window.
		a.Suppressed += n.suppressed
		n.suppressed = 0
		n.start = now
		d.unlink(i)
		d.pushBack(i)
		return true
	}
	var i int32
	switch {
	case d.free >= 0:
		i = d.free
		d.free = d.nodes[i].next
	case len(d.nodes) < d.max:
		i = int32(len(d.nodes))
		d.nodes = append(d.nodes, dedupNode{})
	default:
		i = d.evictOldest(now)
	}
	d.nodes[i] = dedupNode{key: k, start: now}
	d.pushBack(i)
	d.index[k] = i
	return true
}

// open reports whether n's window is open at now. A clock set back before
// the window's start closes it, so a jump cannot suppress for ever.
func (d *dedup) open(n *dedupNode, now uint64) bool {
	return now >= n.start && now-n.start < d.window
}

// expire looks at up to two entries at the front (see the type's doc).
func (d *dedup) expire(now uint64) {
	for range 2 {
		i := d.head
		if i < 0 {
			return
		}
		n := &d.nodes[i]
		if d.open(n, now) {
			return
		}
		d.unlink(i)
		if n.suppressed > 0 {
			d.pushBack(i) // keep the count for the key's next alert
			continue
		}
		delete(d.index, n.key)
		n.next = d.free
		d.free = i
	}
}

// evictOldest unlinks the oldest entry and returns its node for reuse.
func (d *dedup) evictOldest(now uint64) int32 {
	i := d.head
	n := &d.nodes[i]
	if n.suppressed > 0 || d.open(n, now) {
		d.evicted++
	}
	delete(d.index, n.key)
	d.unlink(i)
	return i
}

func (d *dedup) len() int { return len(d.index) }

func (d *dedup) unlink(i int32) {
	n := &d.nodes[i]
	if n.prev >= 0 {
		d.nodes[n.prev].next = n.next
	} else {
		d.head = n.next
	}
	if n.next >= 0 {
		d.nodes[n.next].prev = n.prev
	} else {
		d.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (d *dedup) pushBack(i int32) {
	n := &d.nodes[i]
	n.prev, n.next = d.tail, -1
	if d.tail >= 0 {
		d.nodes[d.tail].next = i
	} else {
		d.head = i
	}
	d.tail = i
}
