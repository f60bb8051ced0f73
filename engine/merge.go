package engine

import (
	"context"

	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
)

// mergeLane is a worker's view of one lane of a partition in Ordered mode.
// Between batches taken is 0; within one, the events [seq, seq+taken) are
// in the batch, and [seq+taken, seq+n) are committed and waiting.
type mergeLane struct {
	r     *ring.MPSC[schema.Event]
	p     *Producer
	seq   uint64 // the ring's read cursor
	n     int    // committed events seen from seq
	taken int    // of those, how many the batch being built holds
}

// merge is a worker's merge state for one partition in Ordered mode.
type merge struct {
	lanes []mergeLane
	src   *[]lane // the partition's lane list lanes was built from
	last  uint64  // TsMono of the last event handed on, for Late
	held  uint64  // TsMono of the head the last fill stopped at; wmIdle: none
}

// sync picks up the lanes registered since the last call (lists only grow
// by appending). It allocates only when a producer has registered.
func (m *merge) sync(part *partition) {
	l := part.lanes.Load()
	if l == m.src {
		return
	}
	for _, ln := range (*l)[len(m.lanes):] {
		m.lanes = append(m.lanes, mergeLane{r: ln.r, p: ln.p})
	}
	m.src = l
}

// grow is sync after a scan, returning the bound the new lanes set. A scan
// may see an event published after another producer registered; that
// producer's lane must bound the event, so the list is loaded again after
// every scan (one atomic load), and a new lane is read (its watermark,
// then its ring) after the list. It may move m.lanes: pointers into it
// are stale after.
func (m *merge) grow(part *partition) uint64 {
	bound := uint64(wmIdle)
	// Scanning a new lane is a scan too: load the list again after it.
	for part.lanes.Load() != m.src {
		old := len(m.lanes)
		m.sync(part)
		for i := old; i < len(m.lanes); i++ {
			bound = min(bound, m.lanes[i].refresh())
		}
	}
	return bound
}

// refresh re-reads a lane whose seen events are all taken, and returns the
// bound its producer sets on the events still to come from it: they will
// all have TsMono >= the bound; wmIdle when the lane has events (its head
// bounds it) or is sealed (nothing more will come).
func (l *mergeLane) refresh() uint64 {
	if l.taken < l.n {
		return wmIdle
	}
	// The watermark before the scan: every commit made before its store is
	// seen by the scan, and whatever comes later is at or above it.
	wm := l.p.wm.Load()
	l.seq, l.n = l.r.Scan()
	if l.taken < l.n || l.r.Sealed() {
		return wmIdle
	}
	return wm
}

// fill puts into batch, in (TsMono, ID) order, the events of part's lanes
// that can be handed on now (see the invariants in producer.go), and
// returns how many. Ties between lanes of equal keys go to the lower lane.
func (m *merge) fill(part *partition, batch []*schema.Event) int {
	bound := m.bound(part)
	n := 0
	m.held = wmIdle
	for n < len(batch) {
		best, ev := m.head()
		if best == nil {
			break
		}
		if bound != wmIdle && uint64(ev.TsMono) >= bound {
			m.held = uint64(ev.TsMono) // an open producer may still publish before it
			break
		}
		batch[n] = ev
		n++
		if best.taken++; best.taken == best.n {
			bound = min(bound, best.refresh(), m.grow(part))
		}
	}
	return n
}

// bound refreshes every lane and returns the least bound they set.
func (m *merge) bound(part *partition) uint64 {
	m.sync(part)
	bound := uint64(wmIdle)
	for i := range m.lanes {
		bound = min(bound, m.lanes[i].refresh())
	}
	return min(bound, m.grow(part))
}

// head returns the lane whose next event has the least (TsMono, ID), and
// that event; nil when every lane's seen events are taken.
func (m *merge) head() (*mergeLane, *schema.Event) {
	var best *mergeLane
	var bev *schema.Event
	for i := range m.lanes {
		l := &m.lanes[i]
		if l.taken == l.n {
			continue
		}
		ev := l.r.Slot(l.seq + uint64(l.taken))
		if bev == nil || ev.TsMono < bev.TsMono || ev.TsMono == bev.TsMono && ev.ID < bev.ID {
			best, bev = l, ev
		}
	}
	return best, bev
}

// ready reports whether fill would hand on an event now, or holds one back
// below need (the worker's advertised need is stale: it must look again
// before parking). It changes nothing but what the lanes have seen.
func (m *merge) ready(part *partition, need uint64) bool {
	bound := m.bound(part)
	_, ev := m.head()
	return ev != nil && (bound == wmIdle || uint64(ev.TsMono) < bound || uint64(ev.TsMono) < need)
}

// finished reports whether the partition is shut down and every lane of it
// drained: nothing more will come.
func (m *merge) finished(b *Bus, part *partition) bool {
	if !b.closing.Load() {
		return false
	}
	m.sync(part) // after closing: the final list
	for i := range m.lanes {
		if !m.lanes[i].r.Drained() {
			return false
		}
	}
	return true
}

// runOrdered drains the worker's partitions in Ordered mode: one merged
// batch of each per pass; when none can hand anything on, it waits as the
// ring strategy says and parks on its Notifier, which commits, closes and
// raised watermarks (while wmParked is raised) wake.
func (w *worker) runOrdered() {
	b := w.bus
	ctx := context.Background()
	need := uint64(wmIdle) // what the worker parks waiting for: see Bus.needs
	ready := func() bool {
		for k, pi := range w.parts {
			m, part := &w.merges[k], &b.parts[pi]
			if m.ready(part, need) || m.finished(b, part) {
				return true
			}
		}
		return false
	}
	w.serve(func(k int) (delivered, finished bool) {
		pi := w.parts[k]
		m, part := &w.merges[k], &b.parts[pi]
		n := m.fill(part, w.batch)
		if n == 0 {
			return false, m.finished(b, part)
		}
		w.deliverMerged(pi, part, m, n)
		return true, false
	}, func() {
		need = wmIdle
		for k := range w.merges {
			need = min(need, w.merges[k].held)
		}
		b.needs[w.id].v.Store(need) // before wmParked: see advanceSlow
		b.wmParked.Add(1)
		w.n.Wait(ctx, nil, ready) //nolint:errcheck // Background never ends
		b.wmParked.Add(-1)
	})
}

// deliverMerged hands the n events fill put in w.batch, from partition pi,
// to the Handler and every subscriber, then releases them from their lanes
// and counts them.
func (w *worker) deliverMerged(pi int, part *partition, m *merge, n int) {
	batch := w.batch[:n]
	var depth, late uint64
	for _, ev := range batch {
		if ts := uint64(ev.TsMono); ts < m.last {
			late++
		} else {
			m.last = ts
		}
	}
	w.handOn(pi, batch)
	// Released before they are counted, as deliver does.
	for i := range m.lanes {
		l := &m.lanes[i]
		depth += uint64(l.n)
		if l.taken > 0 {
			l.r.Release(l.taken)
			l.seq += uint64(l.taken)
			l.n -= l.taken
			l.taken = 0
		}
	}
	storeMax(&part.highWater, depth)
	if late > 0 {
		part.late.Add(late)
	}
	part.delivered.Add(uint64(n))
}
