package ring

// Invariants of SPSC (one producer goroutine at a time, one consumer
// goroutine at a time, Close and the read-only methods from anywhere):
//
//   - Sequences: slot s lives at buf[s&mask]. head <= committed <= resv and
//     resv-head <= cap, where head is the consumer's release cursor,
//     committed the low bits of pub, and resv the producer's private end of
//     reservations. Slots in [head, committed) belong to the consumer,
//     slots in [committed, resv) to the producer (reserved, being written),
//     the rest are free.
//   - pub is the only word the producer publishes: committed cursor | resvBit
//     | closedBit. Storing a new committed cursor in pub publishes the slot
//     contents written before it (the consumer loads pub, then reads slots).
//     resvBit says that [committed, resv) is not empty, so a consumer that
//     sees the ring closed knows whether more commits will come.
//   - closedBit is set once, by Close, with a CAS on pub; a reservation that
//     starts an outstanding run sets resvBit with a CAS on the same word, so
//     reservation and Close are ordered by that one word: a reservation
//     either precedes the close (its slots will be committed and drained) or
//     fails. A reservation that extends an already outstanding run relies on
//     resvBit having been set before the close: the consumer waits for it.
//   - head is the only word the consumer publishes: storing it hands the
//     slots below it back to the producer (the producer reads them no more).
//   - Each side keeps a private cached copy of the other side's cursor
//     (headCache, commitCache) and reads the shared one only when the cache
//     says full or empty.
//   - Commits are in reservation order (one producer); TryPush and Push do
//     not run while a reservation is outstanding.

import (
	"context"
	"sync/atomic"
)

// SPSC is a bounded single-producer single-consumer ring of T. At most one
// goroutine at a time may produce (TryPush, Push, TryReserve, Reserve,
// Commit, and writes through Slot) and at most one at a time may consume
// (TryPop, Pop, TryPopBatch, Peek, WaitRead, Release, and reads through
// Slot); Cap, Len, Closed and Close are safe from any goroutine. Nothing on
// the fast path locks or allocates; the blocking forms wait as Wait says.
//
// Released slots are not zeroed: a slot keeps its last value until a
// producer overwrites it, so at most Cap values stay reachable after being
// consumed, and a consumer may reuse what a slot holds (its buffers).
type SPSC[T any] struct {
	_ pad // keeps a neighbouring allocation's writes off the lines below
	// Read-only after NewSPSC.
	buf      []T
	mask     uint64
	spin     int
	yieldEnd int
	done     chan struct{} // closed by Close: wakes a parked producer

	_ pad
	// Producer line: pub is written by the producer and by Close, read by
	// the consumer; resv and headCache are the producer's own.

	// pub is committed cursor | resvBit | closedBit. The producer's CAS
	// to a new committed cursor publishes to the consumer the slots below
	// it; its CAS that sets resvBit, and Close's CAS that sets closedBit,
	// order every reservation before or after the close.
	pub       atomic.Uint64
	resv      uint64 // end of reservations (== committed when none)
	headCache uint64 // last head the producer read

	_ pad
	// Consumer line: head is written by the consumer, read by the producer
	// when headCache says full; the rest is the consumer's own.

	// head is the release cursor. The consumer's store publishes to the
	// producer that it has finished reading the slots below it, so the
	// producer may overwrite them.
	head        atomic.Uint64
	rhead       uint64 // the consumer's copy of head
	commitCache uint64 // last committed cursor the consumer read

	_ pad
	// Wake line: written only when a side parks, read after each publish.
	cons waker // the consumer waiting for data
	prod waker // the producer waiting for room
	_    pad
}

// NewSPSC returns an SPSC ring with room for capacity values, rounded up to
// a power of two within [MinCapacity, MaxCapacity], all slots allocated and
// their memory mapped now, so that the first lap pays no page faults.
// Its blocking methods wait as w says (the zero Wait means the defaults).
func NewSPSC[T any](capacity int, w Wait) *SPSC[T] {
	c := roundCap(capacity)
	r := &SPSC[T]{buf: make([]T, c), mask: uint64(c - 1), done: make(chan struct{})}
	prefault(r.buf)
	refreshProcs()
	r.spin, r.yieldEnd = w.normalize()
	r.cons.init()
	r.prod.init()
	return r
}

// Cap returns the number of slots.
func (r *SPSC[T]) Cap() int { return len(r.buf) }

// Len returns how many slots are committed and not yet released: a
// snapshot, stale as soon as it returns. An outstanding (uncommitted)
// reservation is not counted.
func (r *SPSC[T]) Len() int {
	h := r.head.Load()
	c := r.pub.Load() & seqMask
	return int(min(c-h, uint64(len(r.buf))))
}

// Closed reports whether Close has been called.
func (r *SPSC[T]) Closed() bool { return r.pub.Load()&closedBit != 0 }

// Close refuses new reservations and pushes and wakes every waiter. What was
// reserved before stays: it is committed by its producer and drained by the
// consumer, whose Pop and WaitRead report ErrClosed only once all of it has
// been released. Close is idempotent and safe from any goroutine.
func (r *SPSC[T]) Close() {
	for {
		p := r.pub.Load()
		if p&closedBit != 0 {
			return
		}
		if r.pub.CompareAndSwap(p, p|closedBit) {
			break
		}
	}
	close(r.done)
	r.cons.wake()
	r.prod.wake()
}

// Slot returns the slot of sequence seq. The producer writes it between a
// reservation and its Commit; the consumer reads it between Peek or
// WaitRead and Release. The address of a slot never changes.
func (r *SPSC[T]) Slot(seq uint64) *T { return &r.buf[seq&r.mask] }

// TryPush appends v and reports true, or reports false when the ring is full
// or closed. Like Push, it must not be called while the producer holds an
// uncommitted reservation: SPSC publishes in order, so commit first.
func (r *SPSC[T]) TryPush(v T) bool {
	p := r.pub.Load()
	if p&(closedBit|resvBit) != 0 || p-r.headCache >= uint64(len(r.buf)) {
		return r.tryPushSlow(v)
	}
	r.buf[p&r.mask] = v
	// Publishes the slot; fails only if Close set closedBit meanwhile.
	if !r.pub.CompareAndSwap(p, p+1) {
		return false
	}
	r.resv = p + 1
	r.cons.wake()
	return true
}

func (r *SPSC[T]) tryPushSlow(v T) bool {
	seq, got := r.TryReserve(1)
	if got == 0 {
		return false
	}
	r.buf[seq&r.mask] = v
	r.Commit(seq, 1)
	return true
}

// Push appends v, waiting while the ring is full. It returns ErrClosed if
// the ring is or gets closed before v is in, or ctx's error if ctx ends
// first.
func (r *SPSC[T]) Push(ctx context.Context, v T) error {
	if r.TryPush(v) {
		return nil
	}
	seq, _, err := r.reserveSlow(ctx, 1)
	if err != nil {
		return err
	}
	r.buf[seq&r.mask] = v
	r.Commit(seq, 1)
	return nil
}

// TryReserve reserves up to n slots, contiguous in sequence from seq (they
// may wrap around the end of the array: use Slot), and returns how many it
// got: fewer than n when there is less room, 0 when the ring is full or
// closed or n < 1. Every reserved slot must be committed, in order.
func (r *SPSC[T]) TryReserve(n int) (seq uint64, got int) {
	p := r.pub.Load()
	seq = r.resv
	if p&closedBit != 0 || n < 1 {
		return seq, 0
	}
	size := uint64(len(r.buf))
	free := r.headCache + size - seq
	if free < uint64(n) {
		r.headCache = r.head.Load()
		if free = r.headCache + size - seq; free == 0 {
			return seq, 0
		}
	}
	got = int(min(free, uint64(n)))
	// Starting an outstanding run: announce it on pub, ordered with Close.
	if p&resvBit == 0 && !r.pub.CompareAndSwap(p, p|resvBit) {
		return seq, 0 // closed meanwhile
	}
	r.resv = seq + uint64(got)
	return seq, got
}

// Reserve is TryReserve that waits for room: it returns at least one slot,
// or ErrClosed if the ring is or gets closed first, or ctx's error if ctx
// ends first. n < 1 reserves nothing and returns got 0 and a nil error.
func (r *SPSC[T]) Reserve(ctx context.Context, n int) (seq uint64, got int, err error) {
	if seq, got = r.TryReserve(n); got > 0 || n < 1 {
		return seq, got, nil
	}
	return r.reserveSlow(ctx, n)
}

func (r *SPSC[T]) reserveSlow(ctx context.Context, n int) (seq uint64, got int, err error) {
	if err = ctx.Err(); err != nil {
		return r.resv, 0, err
	}
	if seq, got, err = await(ctx, reserveProbe[*SPSC[T]]{r, n}, &r.prod, r.done, r.spin, r.yieldEnd); err != nil && err != ErrClosed {
		seq = r.resv
	}
	return seq, got, err
}

// Commit publishes the n reserved slots starting at seq to the consumer.
// Commits come in reservation order (seq is where the previous commit
// ended); a reservation may be committed in several pieces.
func (r *SPSC[T]) Commit(seq uint64, n int) {
	if n < 1 {
		return
	}
	end := seq + uint64(n)
	var outstanding uint64
	if end != r.resv {
		outstanding = resvBit
	}
	for {
		p := r.pub.Load()
		// Publishes the slots below end; keeps Close's bit.
		if r.pub.CompareAndSwap(p, end|outstanding|p&closedBit) {
			break
		}
	}
	r.cons.wake()
}

// Peek returns the committed run the consumer may read, starting at the read
// cursor seq, n slots long (n may be 0). Read it with Slot, then Release.
func (r *SPSC[T]) Peek() (seq uint64, n int) {
	seq = r.rhead
	if r.commitCache == seq {
		r.commitCache = r.pub.Load() & seqMask
	}
	return seq, int(r.commitCache - seq)
}

// Release hands the first n slots at the read cursor back to the producers.
// n is clamped to the run Peek or WaitRead last reported. Release does not
// zero the slots.
func (r *SPSC[T]) Release(n int) {
	if n < 1 {
		return
	}
	h := r.rhead + min(uint64(n), r.commitCache-r.rhead)
	r.rhead = h
	r.head.Store(h) // publishes: slots below h are free for the producer
	r.prod.wake()
}

// TryPop removes and returns the oldest value, or reports false when there
// is none committed.
func (r *SPSC[T]) TryPop() (v T, ok bool) {
	seq, n := r.Peek()
	if n == 0 {
		return v, false
	}
	v = r.buf[seq&r.mask]
	r.Release(1)
	return v, true
}

// Pop removes and returns the oldest value, waiting for one. It returns
// ErrClosed once the ring is closed and drained, or ctx's error if ctx ends
// first.
func (r *SPSC[T]) Pop(ctx context.Context) (v T, err error) {
	seq, n := r.Peek()
	if n == 0 {
		if seq, _, err = r.waitReadSlow(ctx); err != nil {
			return v, err
		}
	}
	v = r.buf[seq&r.mask]
	r.Release(1)
	return v, nil
}

// TryPopBatch moves up to len(dst) values into dst, oldest first, and
// returns how many.
func (r *SPSC[T]) TryPopBatch(dst []T) int {
	seq, n := r.Peek()
	n = min(n, len(dst))
	if n == 0 {
		return 0
	}
	i := int(seq & r.mask)
	k := copy(dst[:n], r.buf[i:])
	copy(dst[k:n], r.buf)
	r.Release(n)
	return n
}

// WaitRead is Peek that waits until n >= 1. It returns ErrClosed once the
// ring is closed and every slot reserved before the close has been
// released, or ctx's error if ctx ends first.
func (r *SPSC[T]) WaitRead(ctx context.Context) (seq uint64, n int, err error) {
	if seq = r.rhead; r.commitCache != seq {
		return seq, int(r.commitCache - seq), nil
	}
	return r.waitReadSlow(ctx)
}

// drained reports whether the ring is closed and nothing is left to read or
// to be committed.
func (r *SPSC[T]) drained() bool {
	p := r.pub.Load()
	return p&closedBit != 0 && p&resvBit == 0 && p&seqMask == r.rhead
}

func (r *SPSC[T]) waitReadSlow(ctx context.Context) (seq uint64, n int, err error) {
	if seq, n = r.Peek(); n > 0 {
		return seq, n, nil
	}
	if err = ctx.Err(); err != nil {
		return seq, 0, err
	}
	return await(ctx, readProbe[*SPSC[T]]{r}, &r.cons, nil, r.spin, r.yieldEnd)
}
