package engine

import (
	"context"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// Subscriber receives a copy of every event the workers take after it was
// registered, each exactly once, with the order of each partition kept (and
// so the order of each entity); events of different partitions interleave.
// Every partition's worker copies into the subscriber's own queue (an MPSC
// ring); when that is full the worker applies the bus's Backpressure: Block
// waits up to BackpressureTimeout, then counts the rest of its batch as
// timed out for this subscriber; Drop counts it as dropped at once. Nothing
// is lost without being counted (see SubscriberStats).
//
// Recv and RecvBatch must be called from one goroutine at a time; Close and
// Stats from any.
type Subscriber struct {
	bus  *Bus
	ring *ring.MPSC[schema.Event] // read by every worker on every offer
	_    pad.Line

	// received is written only by the receiving goroutine, read by Stats;
	// on its own line, so a Recv does not evict the line workers read.
	received atomic.Uint64
	_        pad.Line
	// Written by workers on their slow path, read by Stats.
	dropped   atomic.Uint64
	timedOut  atomic.Uint64
	discarded atomic.Uint64 // offered after the queue closed
	// offered is the Offered the last Stats reported, raised only
	// (loadMax), so that no snapshot reports less than an earlier one.
	// Written and read by Stats alone.
	offered atomic.Uint64
	// closed publishes Close to Recv (which then returns ErrClosed at once)
	// and to Stats (what is queued will never be received).
	closed atomic.Bool
	_      pad.Line // keeps the next allocation's writes off these lines
}

// SubscriberStats counts one subscriber's events. Offered is every event a
// worker handed it, and
//
//	Offered = Received + Dropped + TimedOut + Discarded + Queued
//
// holds exactly in every snapshot; no counter but Queued ever goes down from
// one snapshot to a later one. While events move, Offered may lag the
// events actually offered by those in transit, and Queued then includes
// events a Recv is just finishing (even after Close); whenever no worker is
// inside a batch and no Recv is running (always at the end) every counter
// is exact.
type SubscriberStats struct {
	Offered   uint64 // handed to it by a worker
	Received  uint64 // returned by Recv / RecvBatch
	Dropped   uint64 // queue full under Drop
	TimedOut  uint64 // queue full past BackpressureTimeout under Block
	Discarded uint64 // left queued at Close, or offered after its queue closed (Close, an aborted Shutdown)
	Queued    uint64 // waiting in the subscriber's queue, or being received
}

// Subscribe registers a new Subscriber. It may be called before or after
// Run; a subscriber registered before Run (or before the first Publish)
// receives every event. It returns ErrClosed after Shutdown.
func (b *Bus) Subscribe() (*Subscriber, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s := &Subscriber{bus: b, ring: ring.NewMPSC[schema.Event](b.cfg.SubscriberQueueSize, b.cfg.Wait)}
	old := *b.subs.Load()
	subs := make([]*Subscriber, len(old), len(old)+1)
	copy(subs, old)
	subs = append(subs, s)
	b.subs.Store(&subs)
	return s, nil
}

// Recv copies the next event into dst, waiting for one until ctx ends. It
// allocates nothing (dst's spill capacity is reused, see
// schema.Event.CopyFrom). It returns ErrClosed once the subscriber is closed,
// or once the bus has shut down and every event queued for it was received;
// otherwise ctx.Err() when ctx ends first.
func (s *Subscriber) Recv(ctx context.Context, dst *schema.Event) error {
	if s.closed.Load() {
		return ErrClosed
	}
	seq, n := s.ring.Peek()
	if n == 0 {
		var err error
		if seq, _, err = s.ring.WaitRead(ctx); err != nil {
			return s.recvErr(err)
		}
	}
	dst.CopyFrom(s.ring.Slot(seq))
	// Released before it is counted, as a worker does, so that Stats
	// (which reads received before the cursors) can miss an event in
	// transit but never count it twice.
	s.ring.Release(1)
	s.received.Add(1)
	return nil
}

// RecvBatch copies up to len(dst) events into dst, waiting until at least one
// is available or ctx ends, and returns how many it copied; errors as Recv.
func (s *Subscriber) RecvBatch(ctx context.Context, dst []schema.Event) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	if s.closed.Load() {
		return 0, ErrClosed
	}
	seq, n := s.ring.Peek()
	if n == 0 {
		var err error
		if seq, n, err = s.ring.WaitRead(ctx); err != nil {
			return 0, s.recvErr(err)
		}
	}
	n = min(n, len(dst))
	for i := range n {
		dst[i].CopyFrom(s.ring.Slot(seq + uint64(i)))
	}
	s.ring.Release(n) // before it is counted, as in Recv
	s.received.Add(uint64(n))
	return n, nil
}

func (s *Subscriber) recvErr(err error) error {
	if err == ring.ErrClosed {
		return ErrClosed
	}
	return err
}

// Close unsubscribes: workers stop offering events to s, and events still
// queued for it are discarded (counted in Discarded). Recv then returns
// ErrClosed. Close is idempotent.
func (s *Subscriber) Close() error {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	old := *b.subs.Load()
	subs := make([]*Subscriber, 0, len(old))
	for _, o := range old {
		if o != s {
			subs = append(subs, o)
		}
	}
	b.subs.Store(&subs)
	s.ring.Close()
	return nil
}

// Stats returns s's counters; see SubscriberStats for the invariant. As in
// Bus.Stats, the counters are read before the queue's cursors (and Recv
// releases before it counts), so the sum read may miss an event in transit
// but never counts one twice; Offered is the largest sum any snapshot
// read, and what this one missed is in Queued.
func (s *Subscriber) Stats() SubscriberStats {
	st := SubscriberStats{
		Received:  s.received.Load(),
		Dropped:   s.dropped.Load(),
		TimedOut:  s.timedOut.Load(),
		Discarded: s.discarded.Load(),
	}
	if q := uint64(s.ring.Len()); s.closed.Load() {
		st.Discarded += q // nobody will receive it
	} else {
		st.Queued = q
	}
	sum := st.Received + st.Dropped + st.TimedOut + st.Discarded + st.Queued
	st.Offered = loadMax(&s.offered, sum)
	st.Queued += st.Offered - sum
	return st
}

// offer copies batch into s's queue; called by worker w only.
func (s *Subscriber) offer(w *worker, batch []*schema.Event) {
	r := s.ring
	for i := 0; i < len(batch); {
		rest := len(batch) - i
		seq, got := r.TryReserve(rest)
		if got == 0 {
			var err error
			if seq, got, err = s.reserveSlow(w, rest); err != nil {
				return
			}
		}
		for j := range got {
			r.Slot(seq + uint64(j)).CopyFrom(batch[i+j])
		}
		r.Commit(seq, got)
		i += got
	}
}

// reserveSlow waits for room in s's full queue per the backpressure
// strategy; on failure it has counted the n events that will not be
// offered.
func (s *Subscriber) reserveSlow(w *worker, n int) (seq uint64, got int, err error) {
	r := s.ring
	switch {
	case r.Closed():
		s.discarded.Add(uint64(n))
		return 0, 0, ErrClosed
	case !w.bus.block:
		s.dropped.Add(uint64(n))
		return 0, 0, ErrDropped
	}
	seq, got, w.dl, err = w.bus.reserveWait(r, n, w.dl)
	switch err {
	case nil:
	case ErrClosed:
		s.discarded.Add(uint64(n))
	default:
		s.timedOut.Add(uint64(n))
	}
	return seq, got, err
}
