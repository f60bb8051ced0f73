package ring

// Invariants of MPSC (any number of producer goroutines, one consumer
// goroutine at a time, Close and the read-only methods from anywhere):
//
//   - Sequences: slot s lives at cells[s&mask]. head <= avail <= tail and
//     tail-head <= cap, where tail is the reservation cursor (low bits of
//     the tail word), head the consumer's release cursor and avail the
//     consumer's private end of the committed runs it has seen.
//   - Producers reserve [t, t+got) with one CAS of the tail word from t to
//     t+got, so reservations are disjoint, contiguous, and ordered per
//     producer. The tail word also holds closedBit, set once by Close with a
//     CAS: a reservation either precedes the close (its slots will be
//     committed and drained) or fails; nothing accepted is then lost.
//   - Commit(seq, n) stores seq+n into cells[seq&mask].end: that one store
//     publishes the n slot values written before it (Vyukov-style per-slot
//     markers, one per committed run instead of one per slot). Commits may
//     come in any order; the consumer reads runs in sequence order only.
//   - A marker read at position k (the consumer's avail) means "run [k, e)
//     is committed" exactly when e > k: a marker left from an earlier lap was
//     written for some s <= k-cap with a run of at most cap, so its value is
//     at most k; no producer can be a lap ahead, since reserving k+cap needs
//     head > k and head <= avail = k.
//   - head is the only word the consumer publishes: storing it hands the
//     slots below it back to the producers.
//   - headCache is the producers' shared cached copy of head, on the tail
//     line they already own; it may lag behind head (any value it holds was
//     once head's), which only makes a producer re-read head.
//   - closed mirrors closedBit on the read-mostly wake line, so an idle
//     consumer polls that line and not the producers' contended tail line.

import (
	"context"
	"sync/atomic"
	"unsafe"

	"github.com/kestrel-sec/kestrel/internal/prefetch"
)

// cell is one slot with its run marker.
type cell[T any] struct {
	// end, when it is > the sequence of this cell, is the end of the
	// committed run starting here. The producer's store publishes to the
	// consumer the values of the whole run, written before it.
	end atomic.Uint64
	v   T
}

// MPSC is a bounded multi-producer single-consumer ring of T. Any number of
// goroutines may produce (TryPush, Push, TryReserve, Reserve, Commit, and
// writes through Slot to their own reservations); at most one at a time may
// consume (TryPop, Pop, TryPopBatch, Peek, WaitRead, Release, and reads
// through Slot); Cap, Len, Closed and Close are safe from any goroutine.
// Nothing on the fast path locks or allocates; the blocking forms wait as
// Wait says.
//
// Released slots are not zeroed: a slot keeps its last value until a
// producer overwrites it, so at most Cap values stay reachable after being
// consumed, and a consumer may reuse what a slot holds (its buffers).
type MPSC[T any] struct {
	_ pad // keeps a neighbouring allocation's writes off the lines below
	// Read-only after NewMPSC.
	cells    []cell[T]
	mask     uint64
	spin     int
	yieldEnd int
	done     chan struct{} // closed by Close: wakes every parked producer

	_ pad
	// Producers' line: written by every producer's reservation.

	// tail is reservation cursor | closedBit. A producer's CAS claims
	// [t, t+got) against the other producers and against Close, whose CAS
	// sets closedBit: every reservation is ordered before or after it.
	// tail publishes no slot contents (Commit does).
	tail atomic.Uint64
	// headCache is a value head once had. A producer stores what it loaded
	// from head, so a producer that loads it inherits that load's
	// happens-before edge from the consumer's release: it may overwrite
	// the slots below headCache+cap.
	headCache atomic.Uint64

	_ pad
	// Consumer line: head is written by the consumer, read by producers
	// when headCache says full; avail is the consumer's own.

	// head is the release cursor. The consumer's store publishes to the
	// producers that it has finished reading the slots below it, so they
	// may overwrite them.
	head  atomic.Uint64
	rhead uint64 // the consumer's copy of head
	avail uint64 // end of the committed runs seen from rhead

	_ pad
	// Wake line: written when a side parks and once by Close, read after
	// each publish and by an idle consumer.

	// closed is stored (1) by Close after its CAS on tail: a consumer that
	// loads 1 then loads the final reservation cursor from tail.
	closed atomic.Uint32
	// cons is where the consumer waits for data: &own, or a Notifier's
	// waker shared with other rings. Set by the constructor, read-only
	// after.
	cons *waker
	own  waker // the ring's own consumer waker, unless a Notifier's is used
	prod waker // producers waiting for room
	_    pad
}

// NewMPSC returns an MPSC ring with room for capacity values, rounded up to
// a power of two within [MinCapacity, MaxCapacity], all slots allocated and
// their memory mapped now, so that the first lap pays no page faults.
// Its blocking methods wait as w says (the zero Wait means the defaults).
func NewMPSC[T any](capacity int, w Wait) *MPSC[T] {
	return NewMPSCNotify[T](capacity, w, nil)
}

// NewMPSCNotify is NewMPSC for a ring whose consumer also consumes other
// rings: every ring built with the same Notifier n wakes n's waiter when a
// producer commits or the ring closes, so one goroutine can wait for the
// first of them to have data (Notifier.Wait). n nil is NewMPSC.
func NewMPSCNotify[T any](capacity int, w Wait, n *Notifier) *MPSC[T] {
	c := roundCap(capacity)
	r := &MPSC[T]{cells: make([]cell[T], c), mask: uint64(c - 1), done: make(chan struct{})}
	prefault(r.cells)
	refreshProcs()
	r.spin, r.yieldEnd = w.normalize()
	if n != nil {
		r.cons = &n.w
	} else {
		r.own.init()
		r.cons = &r.own
	}
	r.prod.init()
	return r
}

// Cap returns the number of slots.
func (r *MPSC[T]) Cap() int { return len(r.cells) }

// Len returns how many slots are reserved (committed or not) and not yet
// released: a snapshot, stale as soon as it returns.
func (r *MPSC[T]) Len() int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	return int(min(t-h, uint64(len(r.cells))))
}

// Reserved returns the reservation cursor: the sequence just past every
// slot reserved so far (committed or not), from any goroutine. It only
// grows; a snapshot, stale as soon as it returns.
func (r *MPSC[T]) Reserved() uint64 { return r.tail.Load() &^ closedBit }

// Released returns the release cursor: the sequence just past every slot
// the consumer has released, from any goroutine. It only grows, and a
// load of it that returns v happens after the consumer's Release that
// moved it to v (and so after whatever the consumer did before).
func (r *MPSC[T]) Released() uint64 { return r.head.Load() }

// Closed reports whether Close has been called.
func (r *MPSC[T]) Closed() bool { return r.tail.Load()&closedBit != 0 }

// Close refuses new reservations and pushes and wakes every waiter. What was
// reserved before stays: it is committed by its producers and drained by
// the consumer, whose Pop and WaitRead report ErrClosed only once all of it
// has been released. Close is idempotent and safe from any goroutine.
func (r *MPSC[T]) Close() {
	for {
		t := r.tail.Load()
		if t&closedBit != 0 {
			return
		}
		if r.tail.CompareAndSwap(t, t|closedBit) {
			break
		}
	}
	r.closed.Store(1) // after the CAS: whoever sees it sees the final tail
	close(r.done)
	r.cons.wake()
	r.prod.wake()
}

// Slot returns the slot of sequence seq. A producer writes it between its
// reservation and Commit; the consumer reads it between Peek or WaitRead
// and Release. The address of a slot never changes.
func (r *MPSC[T]) Slot(seq uint64) *T { return &r.cells[seq&r.mask].v }

// TryPush appends v and reports true, or reports false when the ring is full
// or closed. It is a reservation then a commit, not one atomic step: while
// one producer's TryPush is between the two, its slot counts as used (so
// another producer may find the ring full) but cannot be read yet (so the
// consumer may find nothing to read).
func (r *MPSC[T]) TryPush(v T) bool {
	seq, got := r.TryReserve(1)
	if got == 0 {
		return false
	}
	r.put(seq, v)
	return true
}

// put writes v into reserved slot seq and commits it.
func (r *MPSC[T]) put(seq uint64, v T) {
	c := &r.cells[seq&r.mask]
	c.v = v
	c.end.Store(seq + 1) // publishes c.v
	r.cons.wake()
}

// Push appends v, waiting while the ring is full. It returns ErrClosed if
// the ring is or gets closed before v is in, or ctx's error if ctx ends
// first.
func (r *MPSC[T]) Push(ctx context.Context, v T) error {
	seq, got := r.TryReserve(1)
	if got == 0 {
		var err error
		if seq, _, err = r.reserveSlow(ctx, 1); err != nil {
			return err
		}
	}
	r.put(seq, v)
	return nil
}

// TryReserve reserves up to n slots, contiguous in sequence from seq (they
// may wrap around the end of the array: use Slot), and returns how many it
// got: fewer than n when there is less room, 0 when the ring is full or
// closed or n < 1. Every reserved slot must be committed, in any order
// and in any pieces, or the consumer stalls at the first one that is not.
func (r *MPSC[T]) TryReserve(n int) (seq uint64, got int) {
	size := uint64(len(r.cells))
	want := min(uint64(max(n, 0)), size)
	for {
		t := r.tail.Load()
		if t&closedBit != 0 || want == 0 {
			return t &^ closedBit, 0
		}
		// Signed: a lagging headCache may put t more than a lap ahead.
		free := int64(r.headCache.Load() + size - t)
		if free < int64(want) {
			h := r.head.Load()
			r.headCache.Store(h)
			// h was read after t, so h+size >= t: free is exact or low.
			if free = int64(h + size - t); free <= 0 {
				return t, 0
			}
		}
		got := min(uint64(free), want)
		// Claims [t, t+got) against other producers and against Close.
		if r.tail.CompareAndSwap(t, t+got) {
			return t, int(got)
		}
	}
}

// Reserve is TryReserve that waits for room: it returns at least one slot,
// or ErrClosed if the ring is or gets closed first, or ctx's error if ctx
// ends first. n < 1 reserves nothing and returns got 0 and a nil error.
func (r *MPSC[T]) Reserve(ctx context.Context, n int) (seq uint64, got int, err error) {
	if seq, got = r.TryReserve(n); got > 0 || n < 1 {
		return seq, got, nil
	}
	return r.reserveSlow(ctx, n)
}

func (r *MPSC[T]) reserveSlow(ctx context.Context, n int) (seq uint64, got int, err error) {
	if err = ctx.Err(); err != nil {
		return 0, 0, err
	}
	if seq, got, err = await(ctx, reserveProbe[*MPSC[T]]{r, n}, &r.prod, r.done, r.spin, r.yieldEnd); got > 0 {
		r.passWake()
	}
	return seq, got, err
}

// passWake hands the wake-up on: a release signals one parked producer;
// the one that got room wakes the next while room is left, so one large
// release wakes as many producers as it has room for, and a producer that
// finds no room passes nothing (no ping-pong).
func (r *MPSC[T]) passWake() {
	if r.prod.parked.Load() == 0 {
		return
	}
	h := r.head.Load()
	if t := r.tail.Load() &^ closedBit; t-h < uint64(len(r.cells)) {
		r.prod.signal()
	}
}

// Commit publishes the n reserved slots starting at seq to the consumer.
// Producers may commit in any order; the consumer sees the slots in
// sequence order, each once it and all before it are committed.
func (r *MPSC[T]) Commit(seq uint64, n int) {
	if n < 1 {
		return
	}
	r.cells[seq&r.mask].end.Store(seq + uint64(n)) // publishes the run's values
	r.cons.wake()
}

// Peek returns the committed run the consumer may read, starting at the read
// cursor seq, n slots long (n may be 0). Read it with Slot, then Release.
func (r *MPSC[T]) Peek() (seq uint64, n int) {
	seq = r.rhead
	if r.avail == seq {
		r.scan()
	}
	return seq, int(r.avail - seq)
}

// Scan is Peek for a consumer that reads ahead of its releases (a merge of
// several rings that takes from each as order allows): it also looks past
// the run Peek last reported, which Peek does not while that run is
// unreleased, and returns the whole committed run from the read cursor.
func (r *MPSC[T]) Scan() (seq uint64, n int) {
	r.scan()
	return r.rhead, int(r.avail - r.rhead)
}

// Sealed reports, to the consumer, whether the ring is closed and every slot
// reserved before the close has been committed and seen (by Peek, Scan or
// WaitRead): the run last reported is all that will ever come. Once true it
// stays true.
func (r *MPSC[T]) Sealed() bool {
	// closed is stored after the closing CAS: the tail read after it is final.
	return r.closed.Load() != 0 && r.tail.Load()&^closedBit == r.avail
}

// scan extends avail over the runs committed since.
func (r *MPSC[T]) scan() {
	a := r.avail
	for {
		e := r.cells[a&r.mask].end.Load()
		if e <= a {
			break
		}
		a = e
	}
	r.avail = a
}

// Release hands the first n slots at the read cursor back to the producers.
// n is clamped to the run Peek or WaitRead last reported. Release does not
// zero the slots.
func (r *MPSC[T]) Release(n int) {
	if n < 1 {
		return
	}
	h := r.rhead + min(uint64(n), r.avail-r.rhead)
	r.rhead = h
	r.head.Store(h) // publishes: slots below h are free for producers
	r.prod.wake()
}

// TryPop removes and returns the oldest value, or reports false when there
// is none committed.
func (r *MPSC[T]) TryPop() (v T, ok bool) {
	seq, n := r.Peek()
	if n == 0 {
		return v, false
	}
	v = r.cells[seq&r.mask].v
	r.Release(1)
	return v, true
}

// Pop removes and returns the oldest value, waiting for one. It returns
// ErrClosed once the ring is closed and drained, or ctx's error if ctx ends
// first.
func (r *MPSC[T]) Pop(ctx context.Context) (v T, err error) {
	seq, n := r.Peek()
	if n == 0 {
		if seq, _, err = r.waitReadSlow(ctx); err != nil {
			return v, err
		}
	}
	v = r.cells[seq&r.mask].v
	r.Release(1)
	return v, nil
}

// TryPopBatch moves up to len(dst) values into dst, oldest first, and
// returns how many.
func (r *MPSC[T]) TryPopBatch(dst []T) int {
	seq, n := r.Peek()
	n = min(n, len(dst))
	for i := range n {
		dst[i] = r.cells[(seq+uint64(i))&r.mask].v
	}
	r.Release(n)
	return n
}

// WaitRead is Peek that waits until n >= 1. It returns ErrClosed once the
// ring is closed and every slot reserved before the close has been
// released, or ctx's error if ctx ends first.
func (r *MPSC[T]) WaitRead(ctx context.Context) (seq uint64, n int, err error) {
	if seq = r.rhead; r.avail != seq {
		return seq, int(r.avail - seq), nil
	}
	return r.waitReadSlow(ctx)
}

// Drained reports, to the consumer, whether the ring is closed and the
// consumer has read and released everything reserved before the close:
// nothing more will come.
func (r *MPSC[T]) Drained() bool { return r.avail == r.rhead && r.drained() }

// drained reports whether the ring is closed and nothing is left to read or
// to be committed. The caller found nothing to read (avail == rhead).
func (r *MPSC[T]) drained() bool {
	return r.closed.Load() != 0 && r.tail.Load()&^closedBit == r.rhead
}

func (r *MPSC[T]) waitReadSlow(ctx context.Context) (seq uint64, n int, err error) {
	if seq, n = r.Peek(); n > 0 {
		return seq, n, nil
	}
	if err = ctx.Err(); err != nil {
		return seq, 0, err
	}
	return await(ctx, readProbe[*MPSC[T]]{r}, r.cons, nil, r.spin, r.yieldEnd)
}

// Prefetch asks the CPU to bring slot seq's memory into its cache for
// writing, and changes nothing else: it reads no slot, so it is safe to call
// on a slot another goroutine is using. A producer that publishes one value
// at a time at a low rate calls Prefetch(seq+1) after Commit(seq, 1): the
// next slot was last written a lap of the ring ago and has long left the
// cache, so without the hint its next publish waits for memory (several
// cache lines of a large T), and with it the lines arrive while the producer
// is idle. At high rates the hardware prefetcher already streams ahead and
// the hint costs a call. A no-op with the purego build tag and on
// architectures other than amd64 and arm64.
func (r *MPSC[T]) Prefetch(seq uint64) {
	prefetch.Lines(uintptr(unsafe.Pointer(&r.cells[seq&r.mask])), unsafe.Sizeof(r.cells[0]))
}
