package engine

// PartitionStats counts one partition's events. Every Publish that returns
// nil, ErrDropped or ErrTimeout counts once in Published (ErrClosed and
// ErrNilEvent are the caller's to count), and
//
//	Published = Delivered + Dropped + TimedOut + Queued
//
// holds exactly whenever no Publish and no worker batch is in progress
// (quiescence; always after Shutdown). Published is that sum: accepted
// events are counted by the ring's cursors, not by a counter of their own
// (see Bus.Stats), so a snapshot taken while events move may miss one in
// transit but never counts one twice. With Config.Route, each partition
// counts the copies it was offered, so the totals count an event once per
// partition it was routed to.
type PartitionStats struct {
	Published uint64 // events accepted or refused for this partition
	Delivered uint64 // handed to the Handler and every subscriber
	Dropped   uint64 // refused: full under Drop (ErrDropped)
	TimedOut  uint64 // refused: full past BackpressureTimeout under Block (ErrTimeout)
	Queued    uint64 // accepted, not yet delivered
	HighWater uint64 // deepest queue seen, at most the ring's capacity
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
	}
	return t
}

// Stats returns the bus's counters without taking a lock: it loads atomics
// and the rings' cursors, nothing on the Publish fast path is added for it.
// Only the returned slices are allocated.
//
// Accepted events are not counted by producers: an accepted event is either
// still in its ring (Queued, from the ring's cursors) or was released by the
// worker, which then counts it (Delivered), so Delivered + Queued is the
// number accepted. The worker releases before counting and Stats reads
// Delivered before Queued, so an event in transit may be missed by a
// snapshot taken while it moves but is never counted twice; at quiescence
// nothing moves and the sum is exact.
func (b *Bus) Stats() Stats {
	st := Stats{At: b.clock.NowMono(), Partitions: make([]PartitionStats, len(b.parts))}
	for i := range b.parts {
		p := &b.parts[i]
		ps := &st.Partitions[i]
		ps.Delivered = p.delivered.Load()
		ps.Queued = uint64(p.ring.Len())
		ps.Dropped = p.dropped.Load()
		ps.TimedOut = p.timedOut.Load()
		ps.HighWater = min(max(p.highWater.Load(), ps.Queued), uint64(p.ring.Cap()))
		ps.Published = ps.Delivered + ps.Queued + ps.Dropped + ps.TimedOut
	}
	subs := *b.subs.Load()
	st.Subscribers = make([]SubscriberStats, len(subs))
	for i, s := range subs {
		st.Subscribers[i] = s.Stats()
	}
	return st
}
