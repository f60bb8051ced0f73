package engine

import "sync/atomic"

// PartitionStats counts one partition's events. Every Publish that returns
// nil, ErrDropped or ErrTimeout counts once in Published (ErrClosed and
// ErrNilEvent are the caller's to count).
//
// What holds in every snapshot, even one taken while events move:
//
//	Published = Delivered + Dropped + TimedOut + Queued
//
// exactly, and Published, Delivered, Dropped, TimedOut and HighWater never
// go down from one snapshot to a later one (a rate computed from two
// snapshots is never negative); Queued, a depth, may. HighWater >= Queued,
// and HighWater is at most the ring's capacity.
//
// What is only a bound while events move: Published is at most the events
// actually published when Stats returns, and may lag them by the events in
// transit (a batch a producer is reserving, one the worker has released but
// not yet counted); Queued then includes events the worker is just
// finishing, so it may be above the ring's depth (never above its
// capacity). When nothing moves (quiescence: no Publish and no worker batch
// in progress; always after Shutdown) every counter is exact.
//
// With Config.Route, each partition counts the copies it was offered, so
// the totals count an event once per partition it was routed to.
type PartitionStats struct {
	Published uint64 // events accepted or refused for this partition
	Delivered uint64 // handed to the Handler and every subscriber
	Dropped   uint64 // refused: full under Drop (ErrDropped)
	TimedOut  uint64 // refused: full past BackpressureTimeout under Block (ErrTimeout)
	Queued    uint64 // accepted, not yet counted in Delivered
	HighWater uint64 // deepest queue seen, at most the ring's capacity (all lanes' in Ordered mode)
	// Late counts events (all delivered, and counted in Delivered too) that
	// the Config.Ordered merge handed on after an event with a later
	// timestamp: their producer published them behind its own watermark
	// (out of timestamp order, or the default producer first used after
	// others had moved on). Always 0 without Config.Ordered.
	Late uint64
}

// Stats is a snapshot of a Bus's counters.
type Stats struct {
	// At is Config.Clock's time when the snapshot was taken.
	At uint64
	// Partitions holds one entry per partition, by index.
	Partitions []PartitionStats
	// Subscribers holds one entry per current subscriber, in the order they
	// subscribed.
	Subscribers []SubscriberStats
}

// Total sums the partitions; HighWater is the largest partition's.
func (s Stats) Total() PartitionStats {
	var t PartitionStats
	for _, p := range s.Partitions {
		t.Published += p.Published
		t.Delivered += p.Delivered
		t.Dropped += p.Dropped
		t.TimedOut += p.TimedOut
		t.Queued += p.Queued
		t.HighWater = max(t.HighWater, p.HighWater)
		t.Late += p.Late
	}
	return t
}

// Stats returns the bus's counters without taking a lock: it loads atomics
// and the rings' cursors, nothing on the Publish fast path is added for it.
// Only the returned slices are allocated. See PartitionStats for what a
// snapshot taken while events move guarantees.
//
// Accepted events are not counted by producers: an accepted event is either
// still in its ring (from the ring's cursors) or was released by the worker,
// which then counts it (Delivered). The worker releases before it counts,
// and Stats reads Dropped, TimedOut and Delivered before the ring's
// cursors, so the sum it reads can miss an event in transit but never
// counts one twice: it is at most the truth, and may fall behind by a
// batch. To keep Published from stepping back when a later snapshot misses
// more than an earlier one did, each partition keeps the largest Published
// reported (raised with a compare-and-swap, by Stats alone), and reports
// that; the events it holds that this read missed are in transit and
// counted in Queued, so the sum stays exact.
func (b *Bus) Stats() Stats {
	st := Stats{At: b.clock.NowMono(), Partitions: make([]PartitionStats, len(b.parts))}
	for i := range b.parts {
		p := &b.parts[i]
		ps := &st.Partitions[i]
		// Order matters: the counters first, the cursors (head, then tail,
		// in Len) last; see above.
		ps.Dropped = p.dropped.Load()
		ps.TimedOut = p.timedOut.Load()
		ps.Delivered = p.delivered.Load()
		depth := p.depth()
		done := ps.Delivered + ps.Dropped + ps.TimedOut
		ps.Published = loadMax(&p.published, done+depth)
		// At least depth. At most the capacity: an earlier snapshot read
		// Published as done0+depth0 with done0 <= done, so the rest is at
		// most depth0.
		ps.Queued = ps.Published - done
		c := p.capacity()
		ps.HighWater = min(loadMax(&p.highWater, min(ps.Queued, c)), c)
		ps.Late = p.late.Load()
	}
	subs := *b.subs.Load()
	st.Subscribers = make([]SubscriberStats, len(subs))
	for i, s := range subs {
		st.Subscribers[i] = s.Stats()
	}
	return st
}

// loadMax raises a to v unless it already holds more, and returns what a
// then holds: the largest value ever raised to. It writes only when v is
// larger.
func loadMax(a *atomic.Uint64, v uint64) uint64 {
	for {
		old := a.Load()
		if v <= old {
			return old
		}
		if a.CompareAndSwap(old, v) {
			return v
		}
	}
}
