package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/internal/ctxsleep"
	"github.com/kestrel-sec/kestrel/value"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// destCounters are one destination's counters. emitted and the overflow
// drops are written by the dispatcher, the rest by the worker; queued by
// both (+1 on enqueue, -n when n alerts are settled). Each publishes only
// its own value, to Stats; the alerts themselves travel through the
// channel, which orders them. Padded so that two destinations' counters
// never share a cache line.
type destCounters struct {
	_         pad.Line
	emitted   atomic.Uint64
	dropped   atomic.Uint64
	queued    atomic.Int64
	delivered atomic.Uint64
	retried   atomic.Uint64
	rejected  atomic.Uint64
	_         pad.Line
}

// destWorker owns one destination: its queue, the goroutine that batches
// and sends, and its retry state.
type destWorker struct {
	c    destCounters
	o    *Output
	cfg  DestinationConfig // defaults applied
	dest Destination
	q    *alertQueue // the bounded queue; closed by the dispatcher when done

	// Dispatcher only.
	blockTimer     *time.Timer
	stalled        bool        // OverflowBlock timed out; no waiting until the queue takes an alert again
	overflowLogged atomic.Bool // log-once flag; publishes nothing else

	// Worker only.
	batchTimer *time.Timer
	rng        *rand.Rand
	carry      *Alert // received but did not fit the last batch
	mark       []uint8
	reasons    map[string]struct{}
	failing    bool
	log        *slog.Logger
	closeErr   error // read by Close once done is closed (the write happens before wg.Done)
}

func newDestWorker(o *Output, cfg DestinationConfig, rng *rand.Rand) *destWorker {
	w := &destWorker{
		o:       o,
		cfg:     cfg,
		dest:    cfg.Dest,
		q:       newAlertQueue(cfg.Queue),
		rng:     rng,
		reasons: make(map[string]struct{}),
		log:     o.log.With("destination", cfg.Name),
	}
	if cfg.Overflow == OverflowBlock {
		w.blockTimer = time.NewTimer(time.Hour)
		w.blockTimer.Stop()
	}
	return w
}

// enqueue runs on the dispatcher goroutine. It never waits unless the
// policy is OverflowBlock and the destination is not stalled, and then at
// most BlockTimeout.
func (w *destWorker) enqueue(a *Alert) {
	w.c.emitted.Add(1)
	w.c.queued.Add(1)
	if w.q.push(a) {
		w.stalled = false
		return
	}
	if w.blockTimer != nil && !w.stalled && !w.o.aborted() {
		w.blockTimer.Reset(w.cfg.BlockTimeout)
	wait:
		for {
			select {
			case <-w.q.room:
				if w.q.push(a) {
					w.blockTimer.Stop()
					return
				}
			case <-w.blockTimer.C:
				w.stalled = true
				w.log.Warn("sink: destination stalled past BlockTimeout; dropping its alerts until it takes one again",
					"block_timeout", w.cfg.BlockTimeout)
				break wait
			case <-w.o.runCtx.Done():
				w.blockTimer.Stop()
				break wait
			}
		}
	}
	w.c.dropped.Add(1)
	w.c.queued.Add(-1)
	a.Release()
	if !w.overflowLogged.Swap(true) {
		w.log.Warn("sink: destination queue full; dropping alerts (logged once)",
			"queue", w.cfg.Queue, "overflow", w.cfg.Overflow.String())
	}
}

// run is the worker goroutine: take a batch, deliver it, until the queue
// is closed and drained; then close the destination.
func (w *destWorker) run() {
	defer w.o.wg.Done()
	batch := make([]*Alert, 0, w.cfg.Batch.MaxCount)
	for {
		a := w.carry
		w.carry = nil
		if a == nil {
			var ok bool
			if a, ok = w.recv(); !ok {
				break
			}
		}
		batch = append(batch[:0], a)
		open := w.fill(&batch)
		w.deliver(batch)
		clear(batch[:cap(batch)])
		if !open && w.carry == nil {
			break
		}
	}
	w.closeErr = w.closeDest()
}

// recv waits for the next queued alert; ok is false once the queue is
// closed and drained.
func (w *destWorker) recv() (a *Alert, ok bool) {
	for {
		a, ok, closed := w.q.pop()
		if ok || closed {
			return a, ok
		}
		<-w.q.ready
	}
}

func (w *destWorker) closeDest() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sink: destination %q: Close panicked: %v", w.cfg.Name, r)
		}
	}()
	if err := w.dest.Close(); err != nil {
		return fmt.Errorf("sink: destination %q: close: %w", w.cfg.Name, err)
	}
	return nil
}

// fill adds queued alerts to the batch up to its bounds, waiting up to
// MaxWait (from the moment the queue is first found empty) for more. It
// reports false once the queue is closed and drained.
func (w *destWorker) fill(batch *[]*Alert) bool {
	maxN, maxB := w.cfg.Batch.MaxCount, w.cfg.Batch.MaxBytes
	size := approxSize((*batch)[0])
	armed := false
	defer func() {
		if armed {
			w.batchTimer.Stop()
		}
	}()
	for len(*batch) < maxN && size < maxB {
		a, ok, closed := w.q.pop()
		for !ok && !closed {
			if w.cfg.Batch.MaxWait <= 0 || w.o.aborted() {
				return true
			}
			if !armed {
				// Since Go 1.23 Reset on a stopped timer leaves no stale
				// tick in C, so one timer serves every batch.
				if w.batchTimer == nil {
					w.batchTimer = time.NewTimer(w.cfg.Batch.MaxWait)
				} else {
					w.batchTimer.Reset(w.cfg.Batch.MaxWait)
				}
				armed = true
			}
			select {
			case <-w.q.ready:
				a, ok, closed = w.q.pop()
			case <-w.batchTimer.C:
				armed = false
				return true
			case <-w.o.runCtx.Done():
				return true
			}
		}
		if !ok {
			return false
		}
		s := approxSize(a)
		if size+s > maxB {
			w.carry = a
			return true
		}
		size += s
		*batch = append(*batch, a)
	}
	return true
}

// deliver sends batch until every alert in it is settled: delivered,
// rejected or dropped. It releases each alert as it settles it (after
// logging, which may read the error Send returned), so none is released
// while Send may still read it and none twice.
func (w *destWorker) deliver(batch []*Alert) {
	pending := batch
	defer func() { releaseAll(pending) }() // what is pending at return is settled
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if w.o.aborted() {
			w.drop(len(pending), "output closed before delivery")
			return
		}
		err := w.send(pending)
		if err == nil {
			w.settle(len(pending), 0)
			w.healthy()
			return
		}
		var perm *PermanentError
		var part *PartialError
		switch {
		case errors.As(err, &perm):
			w.settle(0, len(pending))
			w.logReason("rejected", perm.Reason, err.Error(), len(pending))
			return
		case errors.As(err, &part):
			pending = w.partial(pending, part)
			if len(pending) == 0 {
				return
			}
		default:
			w.unhealthy(err)
		}
		r := &w.cfg.Retry
		if (r.MaxAttempts > 0 && attempt >= r.MaxAttempts) ||
			(r.MaxElapsed > 0 && time.Since(start) >= r.MaxElapsed) {
			w.drop(len(pending), "retries exhausted")
			w.logReason("dropped", "retries exhausted", err.Error(), len(pending))
			return
		}
		if !w.sleep(w.wait(attempt, err)) {
			w.drop(len(pending), "output closed before delivery")
			return
		}
		w.c.retried.Add(uint64(len(pending)))
	}
}

// send calls Send, turning a panic into a rejection so that a faulty
// destination cannot take the process down.
func (w *destWorker) send(batch []*Alert) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PermanentError{Reason: "Send panicked", Err: fmt.Errorf("%v", r)}
		}
	}()
	return w.dest.Send(w.o.runCtx, batch)
}

// partial settles a PartialError's delivered and rejected items and
// returns the ones to retry, compacted in place at the front of pending.
func (w *destWorker) partial(pending []*Alert, pe *PartialError) []*Alert {
	const (
		delivered = iota
		retry
		rejected
	)
	if cap(w.mark) < len(pending) {
		w.mark = make([]uint8, len(pending))
	}
	mark := w.mark[:len(pending)]
	clear(mark)
	for _, i := range pe.Retry {
		if i >= 0 && i < len(mark) {
			mark[i] = retry
		}
	}
	for _, r := range pe.Rejected {
		if r.Index >= 0 && r.Index < len(mark) && mark[r.Index] != rejected {
			mark[r.Index] = rejected
			w.logReason("rejected", r.Reason, r.Detail, 1)
		}
	}
	var nd, nr, nretry int
	for _, m := range mark {
		switch m {
		case delivered:
			nd++
		case rejected:
			nr++
		case retry:
			nretry++
		}
	}
	w.settle(nd, nr)
	if nd > 0 {
		w.healthy()
	}
	if nretry > 0 {
		w.unhealthy(pe)
	}
	// Release the settled alerts (after the logging above), then move the
	// ones to retry to the front, in order.
	out := pending[:0]
	for i, m := range mark {
		if m == retry {
			out = append(out, pending[i])
		} else {
			pending[i].Release()
		}
	}
	clear(pending[len(out):])
	return out
}

func (w *destWorker) settle(delivered, rejected int) {
	if delivered > 0 {
		w.c.delivered.Add(uint64(delivered))
	}
	if rejected > 0 {
		w.c.rejected.Add(uint64(rejected))
	}
	w.c.queued.Add(-int64(delivered + rejected))
}

func (w *destWorker) drop(n int, _ string) {
	w.c.dropped.Add(uint64(n))
	w.c.queued.Add(-int64(n))
}

// backoff returns the wait before retry number attempt (1-based): full
// jitter, uniform in [0, min(Max, Initial·2^(attempt-1))).
func (w *destWorker) backoff(attempt int) time.Duration {
	c := w.cfg.Retry.Initial
	for i := 1; i < attempt && c < w.cfg.Retry.Max; i++ {
		c *= 2
	}
	c = min(c, w.cfg.Retry.Max)
	if c <= 0 {
		return 0
	}
	return time.Duration(w.rng.Int64N(int64(c)))
}

// wait returns the pause before retry number attempt: the backoff, or
// longer when err asks for it (RetryAfterError), never past Retry.Max.
func (w *destWorker) wait(attempt int, err error) time.Duration {
	d := w.backoff(attempt)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > d {
		d = min(ra.After, w.cfg.Retry.Max)
	}
	return d
}

// sleep waits d, or until Close gives up; it reports whether d passed.
func (w *destWorker) sleep(d time.Duration) bool {
	if d <= 0 {
		return !w.o.aborted()
	}
	return ctxsleep.Sleep(w.o.runCtx, d)
}

// logReason logs the first occurrence of each distinct reason; the set is
// bounded so that a destination inventing reasons cannot grow memory.
func (w *destWorker) logReason(what, reason, detail string, n int) {
	if _, ok := w.reasons[reason]; ok {
		return
	}
	if len(w.reasons) >= maxReasonsLoggedPerDest {
		return
	}
	w.reasons[reason] = struct{}{}
	w.log.Warn("sink: alerts "+what+" (each reason logged once)", "reason", reason, "alerts", n, "detail", detail)
}

func (w *destWorker) unhealthy(err error) {
	if !w.failing {
		w.failing = true
		w.log.Warn("sink: destination failing; retrying with backoff", "err", err)
	}
}

func (w *destWorker) healthy() {
	if w.failing {
		w.failing = false
		w.log.Info("sink: destination recovered")
	}
}

// approxSize estimates an alert's JSON size for BatchConfig.MaxBytes
// without encoding it.
func approxSize(a *Alert) int {
	n := 300 + len(a.ID) + len(a.RuleID) + len(a.RuleName) + len(a.Message) + 21*len(a.EventIDs)
	for _, t := range a.Tags {
		n += len(t) + 3
	}
	for i := range a.Fields {
		n += len(a.Fields[i].Path) + 4 + valueSize(a.Fields[i].Value)
	}
	return n
}

func valueSize(v value.Value) int {
	switch v.Kind() {
	case value.KindString:
		return 14 + v.Len()
	case value.KindBytes:
		return 12 + 4*v.Len()
	case value.KindArray:
		return 12 + 24*v.Len()
	}
	return 30
}
