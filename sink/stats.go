package sink

import "strconv"

// Stats is a snapshot of an Output's counters, read without a lock.
//
// Invariants, exact whenever no alert is moving (for instance after Close,
// or while every destination is stuck); a snapshot taken while alerts flow
// reads each counter at a slightly different moment:
//
//	Emitted = Suppressed + Unrouted + Routed + Pending
//	per destination: Emitted = Delivered + Rejected + Dropped + Queued
type Stats struct {
	Emitted      uint64 // alerts Emit accepted
	Refused      uint64 // Emit calls that returned ErrQueueFull or ErrClosed
	Suppressed   uint64 // alerts suppressed by dedup
	Unrouted     uint64 // alerts that matched no route with no default
	Routed       uint64 // alerts handed to one destination or more
	Pending      uint64 // accepted, not yet through dedup and routing
	DedupEntries uint64 // keys dedup remembers now
	DedupEvicted uint64 // dedup entries evicted under memory pressure that lost information

	Destinations []DestinationStats // in Config order
}

// DestinationStats counts one destination's alerts.
type DestinationStats struct {
	Name      string // the destination\'s name
	Emitted   uint64 // alerts routed to this destination
	Delivered uint64 // acknowledged by Send
	Retried   uint64 // alert re-sends (an alert retried twice counts 2)
	Resent    uint64 // alerts written again after counting as delivered (a Resender: syslog after a reconnect); possible duplicates, outside the identity
	Rejected  uint64 // refused for good (PermanentError, PartialError.Rejected, a panicking Send)
	Dropped   uint64 // queue overflow, retries exhausted, or Close giving up
	Queued    uint64 // in the queue or in the batch being sent (retries included)
	QueueLen  int    // alerts waiting in the queue, not counting the batch in flight
}

// Stats returns a snapshot of the counters. It takes no lock; it allocates
// the Destinations slice.
func (o *Output) Stats() Stats {
	s := Stats{
		Refused:      o.refused.Load(),
		Suppressed:   o.suppressed.Load(),
		Unrouted:     o.unrouted.Load(),
		Routed:       o.routed.Load(),
		DedupEntries: o.dedupEntries.Load(),
		DedupEvicted: o.dedupEvicted.Load(),
	}
	// Emitted last: it only grows, and every alert the other counters saw
	// was counted in it first, so Pending never wraps.
	s.Emitted = o.emitted.Load()
	if done := s.Suppressed + s.Unrouted + s.Routed; s.Emitted > done {
		s.Pending = s.Emitted - done
	}
	s.Destinations = make([]DestinationStats, len(o.dests))
	for i, w := range o.dests {
		s.Destinations[i] = w.stats()
	}
	return s
}

func (w *destWorker) stats() DestinationStats {
	c := &w.c
	var resent uint64
	if r, ok := w.dest.(Resender); ok {
		resent = r.Resent()
	}
	return DestinationStats{
		Resent:    resent,
		Name:      w.cfg.Name,
		Delivered: c.delivered.Load(),
		Retried:   c.retried.Load(),
		Rejected:  c.rejected.Load(),
		Dropped:   c.dropped.Load(),
		Queued:    uint64(max(c.queued.Load(), 0)),
		Emitted:   c.emitted.Load(),
		QueueLen:  w.q.len(),
	}
}

func appendUint(b []byte, u uint64) []byte { return strconv.AppendUint(b, u, 10) }
