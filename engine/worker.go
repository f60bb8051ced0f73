package engine

import (
	"context"
	"runtime"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// Worker states, for Shutdown to tell a worker about to return from one
// held up by its Handler.
const (
	workerBusy      int32 = iota // taking or offering a batch, or waiting
	workerInHandler              // inside a Handler call
	workerDone                   // returned
)

// worker drains its partitions: it is the only consumer of their rings.
// With as many workers as partitions (the default while partitions do not
// outnumber GOMAXPROCS) each serves one; otherwise worker w serves
// partitions w, w+Workers, w+2*Workers, ... in turn, and waits for all of
// them at once on their rings' shared ring.Notifier.
type worker struct {
	bus   *Bus
	id    int   // the worker's index, for CPU pinning
	parts []int // the partitions it serves, ascending
	h     Handler
	batch []*schema.Event // reused for every Handler call; len BatchSize
	own   []*schema.Event // with Config.Route: the batch's entity-partition events, for subscribers
	dl    *deadline       // for blocking on a full subscriber queue
	n     *ring.Notifier  // shared by its partitions' rings when it serves several, or merges (Ordered)
	// merges[k] is the merge state of parts[k] in Ordered mode; nil otherwise.
	merges []merge

	// state is written only by the worker and read by Shutdown after an
	// abort; it publishes nothing but itself.
	state atomic.Int32
	_     pad.Line // workers sit in one slice: keep states apart
}

func (w *worker) run() {
	b := w.bus
	defer w.exit()
	if b.cfg.LockThreads || len(b.cfg.CPUs) > 0 {
		runtime.LockOSThread()
		if !w.pin() {
			defer runtime.UnlockOSThread()
		}
		// A pinned thread has its own CPU affinity, so it must not go back
		// to the runtime's pool: a goroutine that returns while still
		// locked makes the runtime end its thread.
	}
	switch {
	case b.ordered:
		w.runOrdered()
	case len(w.parts) == 1:
		w.runOne()
	default:
		w.runMany()
	}
}

// runOne drains a single partition, waiting on its ring.
func (w *worker) runOne() {
	b := w.bus
	pi := w.parts[0]
	p := &b.parts[pi]
	ctx := context.Background() // the ring's Close is what ends the wait
	for !b.abort.Load() {
		seq, n, err := p.ring.WaitRead(ctx)
		if err != nil {
			return // closed and drained
		}
		w.deliver(pi, p, seq, n)
	}
}

// runMany drains several partitions in turn, one batch of each per pass,
// so none starves another; when none has events it waits as the ring's
// strategy says (spin, yield, park), re-checking all of them, and parks on
// their shared Notifier.
func (w *worker) runMany() {
	b := w.bus
	ctx := context.Background()
	ready := func() bool {
		for _, pi := range w.parts {
			r := b.parts[pi].ring
			if _, n := r.Peek(); n > 0 || r.Drained() {
				return true
			}
		}
		return false
	}
	w.serve(func(k int) (delivered, finished bool) {
		pi := w.parts[k]
		p := &b.parts[pi]
		seq, n := p.ring.Peek()
		if n == 0 {
			return false, p.ring.Drained()
		}
		w.deliver(pi, p, seq, n)
		return true, false
	}, func() {
		w.n.Wait(ctx, nil, ready) //nolint:errcheck // Background never ends
	})
}

// serve is the loop of a worker that serves several partitions (or merges
// lanes): it passes over them with step, which hands on what partition k
// (w.parts[k]) has and reports whether it delivered anything and, if not,
// whether k is finished for good; it returns once every partition is
// finished or the bus aborts. After passes that delivered nothing it waits
// as the ring strategy says (spin, yield), then calls park, which parks on
// the worker's Notifier until one of its partitions is ready.
func (w *worker) serve(step func(k int) (delivered, finished bool), park func()) {
	b := w.bus
	var idle idler
	idle.reset(b.cfg.Wait)
	for !b.abort.Load() {
		progressed, finished := false, 0
		for k := range w.parts {
			delivered, done := step(k)
			if done {
				finished++
			}
			if delivered {
				progressed = true
				if b.abort.Load() {
					return
				}
			}
		}
		if finished == len(w.parts) {
			return
		}
		if idle.park(progressed) {
			park()
			idle.reset(b.cfg.Wait) // GOMAXPROCS may have changed
		}
	}
}

// deliver hands the n events from seq of partition pi to the Handler and
// every subscriber, then releases and counts them.
func (w *worker) deliver(pi int, p *partition, seq uint64, n int) {
	r := p.ring
	storeMax(&p.highWater, uint64(n))
	n = min(n, len(w.batch))
	batch := w.batch[:n]
	for i := range batch {
		batch[i] = r.Slot(seq + uint64(i))
	}
	w.handOn(pi, batch)
	// Released before it is counted, and Stats reads delivered before
	// the queue length, so a snapshot never counts an event twice.
	r.Release(n)
	p.delivered.Add(uint64(n))
}

// handOn gives batch, events of partition pi, to the Handler and then to
// every subscriber.
func (w *worker) handOn(pi int, batch []*schema.Event) {
	b := w.bus
	if w.h != nil {
		w.state.Store(workerInHandler)
		w.h(pi, batch)
		w.state.Store(workerBusy)
	}
	if subs := *b.subs.Load(); len(subs) > 0 {
		own := batch
		if b.route != nil {
			own = w.ownEvents(pi, batch)
		}
		for _, s := range subs {
			s.offer(w, own)
		}
	}
}

// ownEvents returns the events of batch (from partition pi) whose entity
// partition is pi: routed copies reach the Handler only, so a subscriber
// sees every event once.
func (w *worker) ownEvents(pi int, batch []*schema.Event) []*schema.Event {
	own := w.own[:0]
	for _, ev := range batch {
		if w.bus.shard.of(ev.Entity) == pi {
			own = append(own, ev)
		}
	}
	return own
}

// pin binds w's thread to its CPU, if Config.CPUs names any, and reports
// whether it did. A failure is logged and the worker runs unpinned.
func (w *worker) pin() bool {
	cpus := w.bus.cfg.CPUs
	if len(cpus) == 0 || !canPin {
		return false
	}
	cpu := cpus[w.id%len(cpus)]
	if err := pinThread(cpu); err != nil {
		w.bus.log.Warn("engine: cannot pin worker", "worker", w.id, "partitions", w.parts, "cpu", cpu, "err", err)
		return false
	}
	return true
}

// exit marks w returned; the last worker out closes bus.stopped.
func (w *worker) exit() {
	// Lower running before marking the worker done: Shutdown, once it sees
	// no worker busy, reads running, and must not count one that is done.
	last := w.bus.running.Add(-1) == 0
	w.state.Store(workerDone)
	if last {
		close(w.bus.stopped)
	}
}

// idler is a worker's way from finding nothing to parking: it spins, then
// yields, for as many rounds as the wait strategy's phases say.
type idler struct{ idle, spin, yieldEnd int }

// reset reads w's phases (they depend on GOMAXPROCS) and starts afresh.
func (d *idler) reset(w ring.Wait) {
	d.idle = 0
	d.spin, d.yieldEnd = w.Phases()
}

// park records one round, progressed when it delivered something, and
// reports whether the worker should park now; it yields the processor in
// the yield phase.
func (d *idler) park(progressed bool) bool {
	if progressed {
		d.idle = 0
		return false
	}
	return d.idleRound()
}

// idleRound is park's round without progress: spin, yield or park.
func (d *idler) idleRound() bool {
	switch {
	case d.idle < d.spin:
		d.idle++
	case d.idle < d.yieldEnd:
		d.idle++
		runtime.Gosched()
	default:
		d.idle = 0
		return true
	}
	return false
}
