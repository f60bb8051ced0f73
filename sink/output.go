package sink

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/ring"
)

// Errors of Emit and Close. Emit's are fixed values, so the caller's error
// path allocates nothing.
var (
	// ErrQueueFull: the queue to the dispatcher stayed full past
	// Config.EmitTimeout; the alert was not taken (Stats.Refused).
	ErrQueueFull = errors.New("sink: emit queue full")
	// ErrClosed: the Output is closed (or closing); the alert was not taken.
	ErrClosed = errors.New("sink: output closed")
	// ErrNilAlert: Emit(nil).
	ErrNilAlert = errors.New("sink: nil alert")
	// ErrUndelivered is matched (errors.Is) by a *CloseError.
	ErrUndelivered = errors.New("sink: alerts not delivered")
)

// closeGrace is how long Close waits, after its ctx is done and it has
// cancelled every Send, for the goroutines to finish so that its report is
// final. A Send that ignores cancellation is not waited for past it: its
// alerts are reported in flight (see Close).
const closeGrace = 250 * time.Millisecond

// Output takes alerts from any number of goroutines and delivers them to
// its destinations (the Rust original's AlertOutput):
//
//	Emit ─▶ MPSC ring ─▶ dispatcher: dedup, route ─▶ per-destination queue ─▶ worker: batch, Send, retry
//
// Emit, Stats and Close are safe for concurrent use.
type Output struct {
	// The counters below are statistics: each atomic publishes only its
	// own value, to Stats, and orders nothing else. emitted is added to
	// before an alert enters the ring, so every alert the dispatcher
	// counts elsewhere was counted here first and Stats.Pending never
	// wraps.

	// Written by every Emit caller.
	emitted atomic.Uint64
	refused atomic.Uint64
	_       [48]byte // keep the dispatcher's counters off the callers' line

	// Written by the dispatcher only.
	suppressed   atomic.Uint64
	unrouted     atomic.Uint64
	routed       atomic.Uint64
	dedupEntries atomic.Uint64 // a copy of dedup's size, for Stats
	dedupEvicted atomic.Uint64 // a copy of dedup's lossy evictions, for Stats
	_            [24]byte

	q           *ring.MPSC[*Alert] // Emit's callers to the dispatcher; its own atomics order the alerts' contents
	emitTimeout time.Duration
	form        FieldsForm // Config.Fields, stamped on alerts by Emit
	// closed is set by Close before it closes the ring; Emit reads it
	// only to choose between ErrClosed and ErrQueueFull.
	closed atomic.Bool

	dests  []*destWorker
	router *router // dispatcher only
	dedup  *dedup  // dispatcher only; nil when off
	clk    clock.Clock
	log    *slog.Logger

	unroutedLogged atomic.Bool // log-once flag; publishes nothing else

	runCtx context.Context // Sends' ctx; cancelled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup // dispatcher and workers
	done   chan struct{}  // closed when wg is done
}

// New validates cfg and starts the Output's goroutines: one dispatcher and
// one worker per destination. The Output owns the destinations from then
// on; on error the caller keeps them and nothing was started.
func New(cfg Config) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Output{
		emitTimeout: cfg.EmitTimeout, form: cfg.Fields,
		clk:   cfg.Clock,
		log:   cfg.Logger,
		dedup: newDedup(cfg.Dedup),
		done:  make(chan struct{}),
	}
	if o.clk == nil {
		o.clk = clock.Real{}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	qn := cfg.Queue
	if qn == 0 {
		qn = DefaultQueue
	}
	o.q = ring.NewMPSC[*Alert](qn, ring.Wait{})
	o.runCtx, o.cancel = context.WithCancel(context.Background())

	index := make(map[string]int, len(cfg.Destinations))
	for i, dc := range cfg.Destinations {
		dc = dc.withDefaults()
		index[dc.Name] = i
		var seed1, seed2 uint64
		if cfg.Rand != nil {
			seed1, seed2 = cfg.Rand.Uint64(), cfg.Rand.Uint64()
		} else {
			seed1, seed2 = rand.Uint64(), rand.Uint64()
		}
		o.dests = append(o.dests, newDestWorker(o, dc, rand.New(rand.NewPCG(seed1, seed2))))
	}
	o.router = newRouter(&cfg, index)

	o.wg.Add(1 + len(o.dests))
	go o.dispatch()
	for _, w := range o.dests {
		go w.run()
	}
	go func() { o.wg.Wait(); close(o.done) }()
	return o, nil
}

// Emit hands a to the Output and returns without waiting for delivery.
//
// Ownership: on a nil error the Output owns a and the memory its fields
// reference; the caller must not modify or reuse them afterwards (build a
// new Alert per call), unless a has a Recycler: the Output hands a back
// to it once every destination is done with a (see Recycler), and the
// producer may reuse a from then on. On an error the caller keeps a.
//
// Emit waits for room in the dispatcher's queue at most Config.EmitTimeout
// (by default not at all); it never waits for a destination. It allocates
// nothing unless it has to wait.
func (o *Output) Emit(a *Alert) error {
	if a == nil {
		return ErrNilAlert
	}
	// Count before the push so the dispatcher never sees an alert that is
	// not yet counted (Stats.Pending never wraps).
	if o.form != FieldsTagged {
		a.Form = o.form
	}
	o.emitted.Add(1)
	if o.q.TryPush(a) {
		return nil
	}
	return o.emitSlow(a)
}

func (o *Output) emitSlow(a *Alert) error {
	err := ErrQueueFull
	if o.closed.Load() {
		err = ErrClosed
	} else if o.emitTimeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), o.emitTimeout)
		perr := o.q.Push(ctx, a)
		cancel()
		switch {
		case perr == nil:
			return nil
		case errors.Is(perr, ring.ErrClosed):
			err = ErrClosed
		}
	}
	o.emitted.Add(^uint64(0))
	o.refused.Add(1)
	return err
}

// dispatch moves alerts from the emit ring through dedup and routing into
// the destinations' queues, until the ring is closed and drained. It reads
// the ring in place and clears each slot before releasing it, so the ring
// keeps no alert reachable after the dispatcher is done with it.
func (o *Output) dispatch() {
	defer o.wg.Done()
	ctx := context.Background()
	for {
		seq, n, err := o.q.WaitRead(ctx)
		if err != nil {
			break // ring.ErrClosed: closed and drained
		}
		for i := range n {
			slot := o.q.Slot(seq + uint64(i))
			a := *slot
			*slot = nil
			o.handle(a)
		}
		o.q.Release(n)
	}
	for _, w := range o.dests {
		w.q.close()
	}
}

func (o *Output) handle(a *Alert) {
	if d := o.dedup; d != nil {
		pass := d.check(a, o.clk.NowMono())
		o.dedupEntries.Store(uint64(d.len()))
		o.dedupEvicted.Store(d.evicted)
		if !pass {
			o.suppressed.Add(1)
			a.Release() // dedup keeps a hash of its key, not a
			return
		}
	}
	ds := o.router.route(a)
	if len(ds) == 0 {
		o.unrouted.Add(1)
		if !o.unroutedLogged.Swap(true) {
			o.log.Warn("sink: alert matches no route and there is no default; counting as unrouted (logged once)",
				"rule_id", strings.Clone(a.RuleID))
		}
		a.Release()
		return
	}
	o.routed.Add(1)
	a.share(len(ds)) // before the first queue: its worker may be done with a at once
	for _, i := range ds {
		o.dests[i].enqueue(a)
	}
}

// aborted reports whether Close has given up on delivery.
func (o *Output) aborted() bool { return o.runCtx.Err() != nil }

// Close stops taking alerts, delivers what is queued, closes the
// destinations and stops every goroutine the Output started.
//
// If ctx is done first, Close cancels the Sends in flight, drops what is
// still queued (counted), waits a short grace (250 ms) for the goroutines to
// finish, and returns a *CloseError with, per destination, what it dropped
// and what is still in flight. Close also returns a *CloseError when, with
// time to spare, alerts were dropped during the flush (retries exhausted);
// errors from Destination.Close are joined in. A second Close returns
// ErrClosed.
//
// Alerts with a Recycler go back to it as each is settled, during Close
// and after it; those of a Send that never returns never do.
//
// A Send that ignores its ctx keeps its goroutine past Close. Its alerts
// (and any still queued behind it) are reported as InFlight, outcome
// unknown, never as lost: when the Send returns, Stats counts what really
// happened to them (delivered, rejected or dropped), so that
// Emitted = Delivered + Rejected + Dropped + Queued holds throughout and no
// alert is both reported lost and counted delivered. Done is closed when
// that last goroutine ends; Stats is final from then on.
func (o *Output) Close(ctx context.Context) error {
	if !o.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	before := make([]uint64, len(o.dests))
	for i, w := range o.dests {
		before[i] = w.c.dropped.Load()
	}
	o.q.Close()
	var ctxErr error
	select {
	case <-o.done:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		o.cancel()
		t := time.NewTimer(closeGrace)
		select {
		case <-o.done:
		case <-t.C:
		}
		t.Stop()
	}
	o.cancel()

	ce := &CloseError{Err: ctxErr}
	var errs []error
	finished := isDone(o.done)
	for i, w := range o.dests {
		loss := DestinationLoss{
			Name:     w.cfg.Name,
			Dropped:  w.c.dropped.Load() - before[i],
			InFlight: uint64(max(w.c.queued.Load(), 0)),
		}
		if loss.Dropped+loss.InFlight > 0 {
			ce.Destinations = append(ce.Destinations, loss)
		}
		if finished && w.closeErr != nil {
			errs = append(errs, w.closeErr)
		}
	}
	if len(ce.Destinations) > 0 || (ctxErr != nil && !finished) {
		errs = append([]error{ce}, errs...)
	}
	return errors.Join(errs...)
}

// Done returns a channel closed once every goroutine of the Output has
// ended and its destinations are closed: after Close, and after any Send
// that ignored Close's ctx has returned. Stats read after it is closed are
// final.
func (o *Output) Done() <-chan struct{} { return o.done }

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// CloseError reports what Close could not deliver: alerts it knows were
// lost (Dropped) and alerts whose fate it could not wait for (InFlight).
type CloseError struct {
	Err          error             // ctx.Err() if Close's ctx ended the flush, else nil
	Destinations []DestinationLoss // destinations with alerts dropped or in flight, in Config order
}

// DestinationLoss is one destination's share of a CloseError.
type DestinationLoss struct {
	Name    string // the destination's name
	Dropped uint64 // dropped since Close began (flush cut short, retries exhausted): lost
	// InFlight counts alerts not settled when Close returned: held by a
	// Send that ignored its ctx, or queued behind it. Their outcome is
	// unknown then; Stats counts it (delivered, rejected or dropped) when
	// the Send returns (see Output.Done). They are not counted as lost.
	InFlight uint64
}

// Undelivered is the total of Dropped over all destinations: the alerts
// known lost. In-flight alerts are not included (see InFlight).
func (e *CloseError) Undelivered() uint64 {
	var n uint64
	for _, d := range e.Destinations {
		n += d.Dropped
	}
	return n
}

// InFlight is the total of InFlight over all destinations: alerts whose
// outcome was unknown when Close returned.
func (e *CloseError) InFlight() uint64 {
	var n uint64
	for _, d := range e.Destinations {
		n += d.InFlight
	}
	return n
}

// Error counts the dropped and in-flight alerts per destination.
func (e *CloseError) Error() string {
	b := []byte("sink: close: ")
	b = appendUint(b, e.Undelivered())
	b = append(b, " alerts dropped, "...)
	b = appendUint(b, e.InFlight())
	b = append(b, " in flight with outcome unknown"...)
	for i, d := range e.Destinations {
		if i == 0 {
			b = append(b, " ("...)
		} else {
			b = append(b, ", "...)
		}
		b = append(b, d.Name...)
		b = append(b, ": "...)
		b = appendUint(b, d.Dropped)
		b = append(b, " dropped, "...)
		b = appendUint(b, d.InFlight)
		b = append(b, " in flight"...)
	}
	if len(e.Destinations) > 0 {
		b = append(b, ')')
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns ctx's error, if it ended the flush.
func (e *CloseError) Unwrap() error { return e.Err }

// Is matches ErrUndelivered.
func (e *CloseError) Is(target error) bool { return target == ErrUndelivered }
