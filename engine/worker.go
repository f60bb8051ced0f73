package engine

import (
	"context"
	"runtime"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/schema"
)

// Worker states, for Shutdown to tell a worker about to return from one
// held up by its Handler.
const (
	workerBusy      int32 = iota // taking or offering a batch, or waiting
	workerInHandler              // inside a Handler call
	workerDone                   // returned
)

// worker drains one partition: it is the ring's only consumer.
type worker struct {
	bus   *Bus
	id    int
	p     *partition
	h     Handler
	batch []*schema.Event // reused for every Handler call; len BatchSize
	own   []*schema.Event // with Config.Route: the batch's entity-partition events, for subscribers
	dl    *deadline       // for blocking on a full subscriber queue

	// state is written only by the worker and read by Shutdown after an
	// abort; it publishes nothing but itself.
	state atomic.Int32
	_     [cacheLine]byte // workers sit in one slice: keep states apart
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

	r := w.p.ring
	ctx := context.Background() // the ring's Close is what ends the wait
	for !b.abort.Load() {
		seq, n, err := r.WaitRead(ctx)
		if err != nil {
			return // closed and drained
		}
		storeMax(&w.p.highWater, uint64(n))
		n = min(n, len(w.batch))
		batch := w.batch[:n]
		for i := range batch {
			batch[i] = r.Slot(seq + uint64(i))
		}
		if w.h != nil {
			w.state.Store(workerInHandler)
			w.h(w.id, batch)
			w.state.Store(workerBusy)
		}
		if subs := *b.subs.Load(); len(subs) > 0 {
			own := batch
			if b.route != nil {
				own = w.ownEvents(batch)
			}
			for _, s := range subs {
				s.offer(w, own)
			}
		}
		// Released before it is counted, and Stats reads delivered before
		// the queue length, so a snapshot never counts an event twice.
		r.Release(n)
		w.p.delivered.Add(uint64(n))
	}
}

// ownEvents returns the events of batch whose entity partition is w's:
// routed copies reach the Handler only, so a subscriber sees every event
// once.
func (w *worker) ownEvents(batch []*schema.Event) []*schema.Event {
	own := w.own[:0]
	for _, ev := range batch {
		if w.bus.shard.of(ev.Entity) == w.id {
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
		w.bus.log.Warn("engine: cannot pin worker", "partition", w.id, "cpu", cpu, "err", err)
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
