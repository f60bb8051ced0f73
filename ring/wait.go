package ring

// Invariants of the waiting machinery shared by SPSC and MPSC:
//
//   - A side that waits (the consumer for data, a producer for room) spins
//     at most Wait.Spin times, then calls runtime.Gosched at most Wait.Yield
//     times, then parks on a one-slot notify channel. Nothing ever spins
//     without bound. With GOMAXPROCS 1 the spin rounds are yields instead:
//     the other side needs the only P to make the progress being waited for.
//   - Parking is a Dekker handshake on sequentially consistent atomics (all
//     of sync/atomic is): the waiter first raises waker.parked, then re-reads
//     the condition it waits for, and blocks only if it still does not hold.
//     The other side first publishes (a commit, a release, a close), then
//     reads waker.parked, and signals only if it is raised. One of the two
//     always sees the other's write, so a wake-up cannot be lost, and the
//     fast path never touches a channel: it reads one flag that lives on a
//     read-mostly cache line.
//   - A signal is a non-blocking send into a channel of capacity one, so a
//     signal with nobody parked leaves at most one stale token; a stale token
//     costs the next parker one spurious re-check, never a missed event.

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
)

// ErrClosed is returned by blocking reservations and pushes once the ring is
// closed, and by Pop and WaitRead once it is closed and drained.
var ErrClosed = errors.New("ring: closed")

// ErrBadWait is matched (errors.Is) by the error Wait.Validate returns.
var ErrBadWait = errors.New("ring: invalid wait strategy")

// Default and maximum wait-strategy bounds.
const (
	// DefaultSpin is the number of busy re-checks a waiter makes when
	// Wait.Spin is zero. It is small on purpose: a consumer spinning on the
	// producer's cursor steals the cache line the producer must write.
	DefaultSpin = 16
	// DefaultYield is the number of runtime.Gosched calls a waiter makes
	// before parking when Wait.Yield is zero: a few microseconds, less than
	// the tens of microseconds a park and wake-up cost.
	DefaultYield = 32
	// MaxSpin and MaxYield bound Wait.Spin and Wait.Yield; larger values
	// are clamped (and reported by Validate) so no waiter burns a core.
	MaxSpin  = 1 << 16
	MaxYield = 1 << 16
)

// Wait is the blocking strategy of a ring's blocking operations (Push, Pop,
// Reserve, WaitRead): spin Spin times re-checking the condition, then yield
// the processor Yield times with runtime.Gosched, then park until the other
// side signals. The zero value means the defaults, DefaultSpin and
// DefaultYield; a negative field means none of that phase (Spin: -1 and
// Yield: -1 park at once). Values above MaxSpin or MaxYield are clamped.
type Wait struct {
	// Spin is how many times a waiter re-checks before yielding.
	Spin int
	// Yield is how many times a waiter calls runtime.Gosched before parking.
	Yield int
}

// LowLatency returns the wait strategy for deployments that trade CPU for
// latency: a waiter spins for about 50 µs (MaxSpin/2 re-checks) and never
// yields before it parks. While events arrive more often than that, a
// consumer never parks, so the producer never pays for a wake-up and the
// event never waits for a descheduled thread (on a virtual machine a parked
// thread's idle vCPU may take milliseconds to wake); the price is up to one
// core per waiting side while events flow. An idle ring still parks, so an
// idle process burns nothing. The default strategy (the zero Wait) parks
// after a few microseconds instead. With GOMAXPROCS 1 the spin is a run of
// yields (see phases), so the waiter never holds the only P from the side
// it waits for.
func LowLatency() Wait { return Wait{Spin: MaxSpin / 2, Yield: -1} }

// Validate reports a field above its maximum as an error matching
// ErrBadWait. Constructors clamp such values instead of failing; Validate
// lets a configuration say so up front.
func (w Wait) Validate() error {
	switch {
	case w.Spin > MaxSpin:
		return &waitError{"Spin", w.Spin, MaxSpin}
	case w.Yield > MaxYield:
		return &waitError{"Yield", w.Yield, MaxYield}
	}
	return nil
}

type waitError struct {
	field    string
	got, max int
}

func (e *waitError) Error() string {
	return "ring: invalid wait strategy: " + e.field + " " + strconv.Itoa(e.got) + " above maximum " + strconv.Itoa(e.max)
}

func (e *waitError) Is(target error) bool { return target == ErrBadWait }

// Phases returns the bounds a waiter with this strategy uses now: it spins
// while its round is below spin, yields while below yieldEnd, then parks.
// Defaults and clamps are resolved, and with GOMAXPROCS 1 the spin rounds
// are yields (see the package doc). For consumers that wait on several
// rings at once through a Notifier and run the phases themselves.
func (w Wait) Phases() (spin, yieldEnd int) { return phases(w.normalize()) }

// normalize resolves defaults and clamps: the returned phases are the number
// of spin rounds and the round after which the waiter parks.
func (w Wait) normalize() (spin, yieldEnd int) {
	spin = bound(w.Spin, DefaultSpin, MaxSpin)
	return spin, spin + bound(w.Yield, DefaultYield, MaxYield)
}

// bound resolves one Wait field: zero is def, negative none, above max max.
func bound(v, def, max int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return min(v, max)
}

// Capacity bounds.
const (
	// MinCapacity is the smallest capacity a ring gets.
	MinCapacity = 2
	// MaxCapacity is the largest capacity a ring gets; larger requests are
	// clamped to it.
	MaxCapacity = 1 << 30
)

// roundCap rounds n up to a power of two within [MinCapacity, MaxCapacity].
func roundCap(n int) int {
	if n <= MinCapacity {
		return MinCapacity
	}
	if n >= MaxCapacity {
		return MaxCapacity
	}
	c := MinCapacity
	for c < n {
		c <<= 1
	}
	return c
}

// Cursor word bits. Sequences start at 0 and grow by one per slot; at one
// slot a nanosecond they reach 1<<62 after 146 years, so the top bits are
// free for flags.
const (
	closedBit = uint64(1) << 63 // set once by Close in the reservation word
	resvBit   = uint64(1) << 62 // SPSC: an uncommitted reservation exists
	seqMask   = resvBit - 1
)

// padSize separates hot fields: 128 bytes, two 64-byte lines, because
// amd64's adjacent-line prefetcher pulls lines in 128-byte pairs, so two
// atomics 64 bytes apart still contend.
const padSize = 128

type pad [padSize]byte

// waker is one side's parking place. parked counts the goroutines that are
// parked or about to park (re-checking); ch holds at most one wake token.
type waker struct {
	// parked is raised (Add 1) by a waiter before its last re-check and
	// lowered after it wakes; the other side reads it after publishing. It
	// publishes nothing else: it only says "send a token".
	parked atomic.Int32
	ch     chan struct{}
}

func (w *waker) init() { w.ch = make(chan struct{}, 1) }

// wake signals one parked waiter, if any. The caller has just published the
// change the waiter waits for.
func (w *waker) wake() {
	if w.parked.Load() != 0 {
		w.signal()
	}
}

func (w *waker) signal() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// park blocks until a token, done closing (nil for none) or ctx ending; it
// reports ctx's error in the last case. The caller raised parked and
// re-checked its condition; park lowers parked before returning.
func (w *waker) park(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-w.ch:
	case <-done:
	case <-ctx.Done():
		w.parked.Add(-1)
		refreshProcs()
		return ctx.Err()
	}
	w.parked.Add(-1)
	refreshProcs()
	return nil
}

// oneProc caches runtime.GOMAXPROCS(0) == 1 for phases. It is refreshed
// when a ring is made and after every park (which already costs a channel
// operation), so a change of GOMAXPROCS applies from the next ring or park
// on. A waiter that goes on with a stale value parks within one wait: with
// one P, spinning ends in a park, since the side it waits for cannot run.
var oneProc atomic.Bool

// refreshProcs reloads oneProc.
func refreshProcs() { oneProc.Store(runtime.GOMAXPROCS(0) == 1) }

// phases returns the spin and yield bounds of one wait. Spinning helps only
// while another processor can run the side being waited for: with
// GOMAXPROCS 1 a spinning waiter holds the only P, so the other side cannot
// commit or release until the spin ends or the waiter is preempted (up to
// 10 ms later). There the spin rounds become yields, which hand the P to the
// other side at once; the wait still ends in a park after as many rounds.
// It reads the cached oneProc, not GOMAXPROCS, which takes the scheduler's
// lock: a worker waits once per event at low rates.
func phases(spin, yieldEnd int) (int, int) {
	if spin > 0 && oneProc.Load() {
		return 0, yieldEnd
	}
	return spin, yieldEnd
}

// Notifier is a parking place that one consumer goroutine shares among
// several MPSC rings (NewMPSCNotify), so that it can consume them all and
// wait for the first to have data, as the engine's workers do when a bus
// has more partitions than workers. The handshake is the rings' own: the
// waiter raises the parked count, re-checks every ring, and parks only if
// none is ready; a producer publishes (Commit, Close) before it reads the
// count, so one of the two always sees the other.
type Notifier struct{ w waker }

// NewNotifier returns a Notifier for the rings of one consumer.
func NewNotifier() *Notifier {
	n := &Notifier{}
	n.w.init()
	return n
}

// Wait parks the calling consumer until ready() holds. It raises the
// parked count, calls ready (the caller's re-check of every ring: Peek,
// Drained), and only when that is false blocks until a producer of one of
// the rings commits, one of them closes, done closes (nil: never), or ctx
// ends (then it returns ctx's error). A wake-up is a hint, not a promise:
// the caller re-checks its rings after Wait returns. One goroutine at a time
// may wait on a Notifier.
func (n *Notifier) Wait(ctx context.Context, done <-chan struct{}, ready func() bool) error {
	n.w.parked.Add(1)
	if ready() {
		n.w.parked.Add(-1)
		return nil
	}
	return n.w.park(ctx, done)
}

// Wake wakes the consumer waiting in Wait, if one is, for a change that is
// not a commit to one of the rings: a merge of rings that also waits for
// its producers' watermarks. The caller publishes the change first (an
// atomic store), then calls Wake; the waiter's ready re-reads it after
// raising the parked count, so one of the two sees the other.
func (n *Notifier) Wake() { n.w.wake() }

// backoff runs round i of the spin-then-yield phases and reports whether
// the waiter should park instead.
func backoff(i, spin, yieldEnd int) (park bool) {
	switch {
	case i < spin:
		return false
	case i < yieldEnd:
		runtime.Gosched()
		return false
	}
	return true
}

// probe is one blocking operation's re-check, run by await: it reports
// whether the wait is over (what it waits for happened, or the ring closed:
// err ErrClosed) and the operation's result, a run of slots. A probe is a
// small value holding its ring, so await's generic call allocates nothing.
type probe interface {
	try() (seq uint64, n int, over bool, err error)
}

// reserveProbe is the probe of a producer waiting for room for up to n
// slots of r: the wait is over when it reserves some, or r is closed.
type reserveProbe[R interface {
	TryReserve(n int) (uint64, int)
	Closed() bool
}] struct {
	r R
	n int
}

func (p reserveProbe[R]) try() (seq uint64, got int, over bool, err error) {
	if seq, got = p.r.TryReserve(p.n); got > 0 {
		return seq, got, true, nil
	}
	if p.r.Closed() {
		return seq, 0, true, ErrClosed
	}
	return seq, 0, false, nil
}

// readProbe is the probe of r's consumer waiting for data: the wait is
// over when a committed run is there, or r is closed and drained.
type readProbe[R interface {
	Peek() (uint64, int)
	drained() bool
}] struct{ r R }

func (p readProbe[R]) try() (seq uint64, n int, over bool, err error) {
	if seq, n = p.r.Peek(); n > 0 {
		return seq, n, true, nil
	}
	if p.r.drained() {
		return seq, 0, true, ErrClosed
	}
	return seq, 0, false, nil
}

// await is the wait every blocking ring operation shares (see the package
// invariants above): re-check with p, spinning then yielding by the phases,
// then raise w.parked, re-check once more, and park on w until a signal,
// done closing (nil: never) or ctx ending (its error is returned). It
// returns p's result once p says the wait is over.
func await[P probe](ctx context.Context, p P, w *waker, done <-chan struct{}, spin, yieldEnd int) (seq uint64, n int, err error) {
	spin, yieldEnd = phases(spin, yieldEnd)
	for i := 0; ; i++ {
		seq, n, over, err := p.try()
		if over {
			return seq, n, err
		}
		if !backoff(i, spin, yieldEnd) {
			continue
		}
		w.parked.Add(1)
		// Re-check after raising the count: a publish (commit, release,
		// close) before it is seen here, one after it sees the count and
		// signals.
		if seq, n, over, err = p.try(); over {
			w.parked.Add(-1)
			return seq, n, err
		}
		if err = w.park(ctx, done); err != nil {
			return seq, 0, err
		}
	}
}
