package detect

import (
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// alertSlab is where a worker builds its alerts. Each alert lives in a
// slabAlert, with the memory its fields reference: its event ids, its
// fields, and a byte buffer for its alert id and field strings. The alert
// carries the slabAlert as its sink.Recycler, so once the Output is done
// with it (sink.Recycler) it comes back to the slab's pool, and a later
// alert is built in the same memory: in the steady state raising an
// alert allocates nothing.
//
// New slabAlerts are carved from chunks of slabChunk, each with room
// inline for a typical alert (slabIDs event ids, slabFields fields,
// slabBytes bytes of strings); an alert that needs more grows its own
// buffers, which it keeps when it is reused. An Emitter that never
// releases alerts costs one allocation per slabChunk alerts, and a kept
// alert keeps its chunk (about 29 KiB) alive.
//
// Ownership: a slabAlert is the worker's from when it is taken (build)
// until its alert is emitted, and the Output's from then until Recycle;
// the worker writes it and the bytes it references again only after
// taking it back from the pool (whose atomics order the Output's last
// reads before the worker's writes). Alerts the Output never hands back
// are left to the garbage collector.
type alertSlab struct {
	pool  *alertPool
	local *slabAlert  // free list taken from pool.free, worker only
	chunk []slabAlert // unused part of the newest chunk
	cur   *slabAlert  // the alert being built, nil between alerts
	made  int         // slabAlerts carved so far, for tests
}

// slabAlert is one alert and the memory it references.
type slabAlert struct {
	a      sink.Alert
	ids    []uint64          // backing of a.EventIDs
	fields []sink.AlertField // backing of a.Fields
	bytes  []byte            // alert id and field strings, appended only while the alert is built
	pool   *alertPool
	next   *slabAlert // in a free list
	// depth counts the free alerts from this one down its list; atomic
	// because a Recycle that lost a race may read it while this alert is
	// pushed again.
	depth atomic.Int32

	idBuf    [slabIDs]uint64
	fieldBuf [slabFields]sink.AlertField
	byteBuf  [slabBytes]byte
}

// Recycle implements sink.Recycler: the Output is done with s's alert.
func (s *slabAlert) Recycle(*sink.Alert) { s.pool.put(s) }

// alertPool takes released alerts back from any goroutine for the worker
// that made them: a lock-free stack that Recycle pushes onto and the
// worker empties in one swap (so no pop races a push: no ABA).
type alertPool struct {
	free atomic.Pointer[slabAlert] // pushed by Recycle (release), swapped out by the worker (acquire)
}

// Sizes: a slabAlert has room inline for a sequence of a few steps and
// their fields' strings (a command line is 100 to 1000 bytes), and chunks
// hold slabChunk of them. The pool keeps at most maxFreeAlerts released
// alerts; more (an outage's backlog draining) go to the garbage collector.
const (
	slabChunk     = 32
	slabIDs       = 4
	slabFields    = 8
	slabBytes     = 512
	maxFreeAlerts = 1024
	maxKeptBytes  = 64 << 10
)

// put pushes s unless the pool holds maxFreeAlerts already.
func (p *alertPool) put(s *slabAlert) {
	for {
		top := p.free.Load()
		var depth int32
		if top != nil {
			depth = top.depth.Load()
		}
		if depth >= maxFreeAlerts {
			return
		}
		s.next = top
		s.depth.Store(depth + 1)
		if p.free.CompareAndSwap(top, s) {
			return
		}
	}
}

// build returns the slabAlert the current alert is built in, taking one
// (recycled, else new) when none is.
func (s *alertSlab) build() *slabAlert {
	if s.cur != nil {
		return s.cur
	}
	sa := s.local
	if sa == nil && s.pool != nil {
		sa = s.pool.free.Swap(nil)
	}
	if sa == nil {
		sa = s.carve()
	}
	s.local, sa.next = sa.next, nil
	sa.bytes = sa.bytes[:0]
	if cap(sa.bytes) > maxKeptBytes {
		sa.bytes = sa.byteBuf[:0] // a rare huge alert's buffer is not worth keeping
	}
	s.cur = sa
	return sa
}

// carve returns a new slabAlert from the chunk.
func (s *alertSlab) carve() *slabAlert {
	if s.pool == nil {
		s.pool = &alertPool{}
	}
	if len(s.chunk) == 0 {
		s.chunk = make([]slabAlert, slabChunk)
	}
	sa := &s.chunk[0]
	s.chunk = s.chunk[1:]
	s.made++
	sa.pool = s.pool
	sa.ids, sa.fields, sa.bytes = sa.idBuf[:], sa.fieldBuf[:], sa.byteBuf[:0]
	return sa
}

// take ends the alert being built and returns its slabAlert; the next
// call of the slab's other methods starts another alert. The caller
// fills sa.a and sets sa as its Recycler.
func (s *alertSlab) take() *slabAlert {
	sa := s.build()
	s.cur = nil
	return sa
}

// eventIDs returns n event ids (zero) of the alert being built.
func (s *alertSlab) eventIDs(n int) []uint64 {
	sa := s.build()
	if n > cap(sa.ids) {
		sa.ids = make([]uint64, n)
	}
	x := sa.ids[:n:n]
	clear(x)
	return x
}

// fieldList returns an empty list with room for n fields, the alert
// being built's (appending past n reallocates).
func (s *alertSlab) fieldList(n int) []sink.AlertField {
	sa := s.build()
	if n > cap(sa.fields) {
		sa.fields = make([]sink.AlertField, n)
	}
	return sa.fields[:0:n]
}

// room makes sure the alert being built has n bytes free. A buffer too
// small is replaced, not copied: the strings already carved from it keep
// it alive while they are used.
func (s *alertSlab) room(n int) *slabAlert {
	sa := s.build()
	if cap(sa.bytes)-len(sa.bytes) < n {
		sa.bytes = make([]byte, 0, max(2*cap(sa.bytes), n))
	}
	return sa
}

// own returns v with its string or bytes copied into the alert being
// built (the event's may point into a decoder's block, which an alert
// must not pin); an array is copied to the heap (ownValue).
func (s *alertSlab) own(v value.Value) value.Value {
	switch v.Kind() {
	case value.KindString, value.KindBytes:
		sa := s.room(payloadLen(v))
		sa.bytes, v = ownInto(sa.bytes, v)
		return v
	case value.KindArray:
		return ownValue(v)
	}
	return v
}

// alertID returns sink.NewAlertID(ruleID, ids), its text in the alert
// being built.
func (s *alertSlab) alertID(ruleID string, ids []uint64) string {
	sa := s.room(32)
	start := len(sa.bytes)
	sa.bytes = sink.AppendAlertID(sa.bytes, ruleID, ids)
	return slabString(sa.bytes[start:])
}
