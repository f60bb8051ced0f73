package detect

import (
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// alertSlab is where a worker builds its alerts. Each alert lives in a
// slabAlert, with the memory its fields reference: its event ids, its
// fields, and a byte region for its alert id and field strings. The alert
// carries the slabAlert as its sink.Recycler, so once the Output is done
// with it (sink.Recycler) it comes back to the slab's pool, and a later
// alert is built in the same memory: in the steady state raising an
// alert allocates nothing.
//
// What a recycled alert's memory cannot hold (a bigger alert) is carved
// from chunks that hold many alerts' worth, as is all of a new alert's:
// the slabAlerts themselves, event ids, fields, and bytes, each alert's
// strings packed after the last one's. A region carved for an alert is
// exactly what it used and stays its own (the full slice expression caps
// it), so it is reused by the alerts later built in that slabAlert and
// never touches a neighbour's. An Emitter that never releases alerts
// costs an allocation per chunk, about one per 40 alerts, and a kept
// alert keeps its chunks alive.
//
// Ownership: a slabAlert and its regions are the worker's from when it
// is taken (build) until its alert is emitted, and the Output's from then
// until Recycle; the worker writes them again only after taking the
// slabAlert back from the pool (whose atomics order the Output's last
// reads before the worker's writes). Alerts the Output never hands back
// are left to the garbage collector.
type alertSlab struct {
	pool  *alertPool
	local *slabAlert // free list taken from pool.free, worker only
	cur   *slabAlert // the alert being built, nil between alerts
	// open says cur.bytes is being appended to in place at the start of
	// the byte chunk's free part: take ends it there, exactly.
	open bool
	made int // slabAlerts carved so far, for tests

	// Unused parts of the newest chunks.
	alerts []slabAlert
	ids    []uint64
	fields []sink.AlertField
	bytes  []byte // len 0; its capacity is the free part
}

// slabAlert is one alert and the memory it references.
type slabAlert struct {
	a      sink.Alert
	ids    []uint64          // region for a.EventIDs
	fields []sink.AlertField // region for a.Fields
	bytes  []byte            // region for the alert id and field strings, appended to while the alert is built
	pool   *alertPool
	next   *slabAlert // in a free list
	// depth counts the free alerts from this one down its list; atomic
	// because a Recycle that lost a race may read it while this alert is
	// pushed again.
	depth atomic.Int32
}

// Recycle implements sink.Recycler: the Output is done with s's alert.
func (s *slabAlert) Recycle(*sink.Alert) { s.pool.put(s) }

// alertPool takes released alerts back from any goroutine for the worker
// that made them: a lock-free stack that Recycle pushes onto and the
// worker empties in one swap (so no pop races a push: no ABA).
type alertPool struct {
	free atomic.Pointer[slabAlert] // pushed by Recycle (release), swapped out by the worker (acquire)
}

// Chunk sizes: alerts, event ids and fields for 64 alerts of a sequence
// of a few steps, and 16 KiB of strings (a command line is 100 to 1000
// bytes; a bigger value gets a chunk of its own size). The pool keeps at
// most maxFreeAlerts released alerts; more (an outage's backlog
// draining) go to the garbage collector. A region over maxKeptBytes (a
// rare huge alert) is not kept for reuse.
const (
	slabAlerts    = 64
	slabIDs       = 4 * slabAlerts
	slabFields    = 8 * slabAlerts
	slabBytes     = 16 << 10
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
		sa.bytes = nil
	}
	s.cur = sa
	return sa
}

// carve returns a new slabAlert.
func (s *alertSlab) carve() *slabAlert {
	if s.pool == nil {
		s.pool = &alertPool{}
	}
	if len(s.alerts) == 0 {
		s.alerts = make([]slabAlert, slabAlerts)
	}
	sa := &s.alerts[0]
	s.alerts = s.alerts[1:]
	sa.pool = s.pool
	s.made++
	return sa
}

// take ends the alert being built and returns its slabAlert; the next
// call of the slab's other methods starts another alert. The caller
// fills sa.a and sets sa as its Recycler.
func (s *alertSlab) take() *slabAlert {
	sa := s.build()
	if s.open {
		// The strings were appended in place: the region ends where they
		// do, and the chunk's free part after it.
		n := len(sa.bytes)
		sa.bytes = sa.bytes[:n:n]
		s.bytes = s.bytes[n:n]
		s.open = false
	}
	s.cur = nil
	return sa
}

// eventIDs returns n event ids (zero) of the alert being built.
func (s *alertSlab) eventIDs(n int) []uint64 {
	sa := s.build()
	if n > cap(sa.ids) {
		if n > len(s.ids) {
			s.ids = make([]uint64, max(slabIDs, n))
		}
		sa.ids = s.ids[:n:n]
		s.ids = s.ids[n:]
	}
	x := sa.ids[:n:n]
	clear(x)
	return x
}

// fieldList returns an empty list with room for n fields, the alert
// being built's (appending past n reallocates, never touching a
// neighbour's).
func (s *alertSlab) fieldList(n int) []sink.AlertField {
	sa := s.build()
	if n > cap(sa.fields) {
		if n > len(s.fields) {
			s.fields = make([]sink.AlertField, max(slabFields, n))
		}
		sa.fields = s.fields[:n:n]
		s.fields = s.fields[n:]
	}
	return sa.fields[:0:n]
}

// room makes sure the alert being built has n bytes free. When its
// region is too small, the alert goes on appending at the start of the
// byte chunk's free part (a new chunk when that is too small too), its
// bytes so far copied there first so that the region take ends holds the
// whole alert's: the strings already carved stay where they are, in the
// old region, which nothing else uses.
func (s *alertSlab) room(n int) *slabAlert {
	sa := s.build()
	if cap(sa.bytes)-len(sa.bytes) >= n {
		return sa
	}
	need := len(sa.bytes) + n
	if cap(s.bytes) < need {
		s.bytes = make([]byte, 0, max(slabBytes, need))
	}
	sa.bytes = append(s.bytes[:0], sa.bytes...)
	s.open = true
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
