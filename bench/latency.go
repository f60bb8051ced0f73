package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/internal/pad"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
)

// flowSpec is one latency or throughput measurement of one implementation.
type flowSpec struct {
	impl       string
	partitions int
	producers  int
	queueSize  int
	// interval is the paced gap between one producer's events, in ns; 0
	// publishes as fast as the transport accepts (saturated).
	interval int64
	// batch > 0 publishes in batches of that many events (throughput).
	batch int
	// latency records publish and delivery latencies.
	latency bool
	// wait is the bus's wait strategy.
	wait ring.Wait
	// handlerDelay busy-waits this long per event in Kestrel's handler (a
	// forced regression, for testing the gate).
	handlerDelay time.Duration
	warmup       time.Duration
	measure      time.Duration
}

// flowResult is what one flow measured, over the recorded window only.
type flowResult struct {
	publish  *Rounds // time of one publish call (intended start to return when paced: the hand-over of an event built before, see builder)
	delivery *Rounds // publish stamp to consumer receipt
	// published and consumed count events in the recorded window.
	published, consumed int64
	// total counts every event published, warm-up included, and
	// allocsPerEvent is the process's heap allocations over the metered
	// window (from the meters' start, at most meterLead before the window,
	// to its end) per event published in it: the producers', the
	// transport's and the consumers', and none of the set-up's.
	total          int64
	allocsPerEvent float64
	window         time.Duration
	cpu            time.Duration
	// faults is the process's minor page faults over the window: memory
	// touched for the first time while measured, each fault 10-15 µs on
	// the VMs this runs on (see NewHist).
	faults int64
	// disturb is what the rest of the machine did over the window.
	disturb Disturbance
}

// partState is a consumer's private state, padded so neighbouring
// partitions' consumers do not share cache lines.
type partState struct {
	hist     *Rounds
	consumed atomic.Int64
	_        pad.Line
}

// window is the measured stretch of a flow: events stamped in [from, to)
// are recorded, the rest (warm-up, the tail) only run.
type window struct{ from, to int64 }

func (w window) has(stamp int64) bool { return stamp >= w.from && stamp < w.to }

func (w window) rounds() *Rounds { return NewRounds(w.from, w.to-w.from, latencyRounds) }

// runFlow runs producers against a transport for warm-up plus measurement
// and returns the figures of the measured window.
//
// Latency is measured without coordinated omission: a paced producer owns a
// schedule (event i is due interval after event i-1) and stamps each event
// with its due time, not with the time it got round to sending it, so a
// call that blocks past the next events' due times counts against every
// event it delayed, in both the publish and the delivery latency. Only the
// system under test is charged that way: when the producer finds itself
// late although its previous call returned in time, the delay is the load
// generator's own (the OS or the hypervisor took its core: on the 2-vCPU
// machines this runs on that alone is several microseconds at P99, as
// TestPacingFloor shows), and the schedule moves to the present instead.
// Saturated runs have no schedule; they stamp the actual call time.
func runFlow(ctx context.Context, w *workload, s flowSpec) (*flowResult, error) {
	tr, err := newTransport(s.impl, transportSpec{partitions: s.partitions, producers: s.producers, queueSize: s.queueSize, wait: s.wait, handlerDelay: s.handlerDelay})
	if err != nil {
		return nil, err
	}
	parts := make([]partState, s.partitions)
	copies := make([][]schema.Event, s.producers)
	for p := range copies {
		copies[p] = w.copyFor(p)
	}
	// Start from a clean heap, as testing.B does, so that a collection the
	// set-up made due does not run inside the measurement.
	runtime.GC()
	t0 := nanotime()
	win := window{from: t0 + int64(s.warmup)}
	win.to = win.from + int64(s.measure)
	for i := range parts {
		parts[i].hist = win.rounds()
	}
	if err := tr.start(consumer(parts, win, s.latency)); err != nil {
		return nil, err
	}
	res, used, disturb := runProducers(tr, copies, s, win)
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tr.stop(stopCtx); err != nil {
		return nil, fmt.Errorf("%s: stop: %w", s.impl, err)
	}

	out := &flowResult{
		publish: win.rounds(), delivery: win.rounds(),
		window: s.measure, cpu: used.cpu, faults: used.faults, disturb: disturb,
	}
	for i := range res {
		if res[i].err != nil {
			return nil, fmt.Errorf("%s: producer %d: %w", s.impl, i, res[i].err)
		}
		out.publish.Merge(res[i].hist)
		out.published += res[i].published
		out.total += res[i].total
	}
	if out.published > 0 {
		out.allocsPerEvent = float64(used.allocs) / float64(out.published)
	}
	for i := range parts {
		out.delivery.Merge(parts[i].hist)
		out.consumed += parts[i].consumed.Load()
	}
	if out.consumed != out.published {
		return nil, fmt.Errorf("%s: %d events published in the window, %d consumed", s.impl, out.published, out.consumed)
	}
	return out, nil
}

// consumer is the transport's handler: it counts the events stamped in the
// window, per partition, and with latency records each one's delivery time.
func consumer(parts []partState, win window, latency bool) consumeFunc {
	if latency {
		return func(p int, ev *schema.Event) {
			now := nanotime()
			if st := int64(ev.TsMono); win.has(st) {
				parts[p].hist.Record(st, now-st)
				parts[p].consumed.Add(1)
			}
		}
	}
	return func(p int, ev *schema.Event) {
		if win.has(int64(ev.TsMono)) {
			parts[p].consumed.Add(1)
		}
	}
}

// prodResult is what one producer of a flow did.
type prodResult struct {
	hist      *Rounds
	published int64 // in the recorded window
	total     int64 // warm-up included
	err       error
}

// meterLead is how long before the window opens a producer starts the
// meters: reading /proc takes 0.5-1.5 ms of system calls on a quiet
// machine, more on a busy one, and at GOMAXPROCS 1 nothing else runs
// meanwhile, so read inside the window it would delay the events queued
// behind it and be charged to the system under test. A read that still
// ends inside the window marks it disturbed (Disturbance.LateStart). The
// CPU the process used over the lead is taken out of the figure (see
// runProducers).
const meterLead = 5 * time.Millisecond

// meterFallback is how long after the window opens runProducers starts
// the meters itself when no producer has (one that got no CPU at all):
// late enough that it never races a live producer, which starts them
// meterLead before the window.
const meterFallback = 10 * time.Millisecond

// runProducers runs one producer goroutine per copy of the workload until
// the window closes, and returns each one's figures, with what the process
// used over the window (CPU, minor page faults, heap allocations) and what
// the rest of the machine did. The meters start just before the window (meterLead): a
// producer starts them, so that they are off the measured path; for
// batches, and for producers that got no CPU, they start here at the
// window's start (or meterFallback after it).
func runProducers(tr transport, copies [][]schema.Event, s flowSpec, win window) ([]prodResult, meterReading, Disturbance) {
	res := make([]prodResult, len(copies))
	// Paced producers spin out the last stretch before each send only when
	// every spinner (they and one consumer) has a processor of its own;
	// otherwise a spinning producer would starve the consumer it measures.
	spinOK := len(copies)+1 <= runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var cpu cpuMeter
	var m0 machineSample
	var cpuOnce sync.Once
	var metersAt int64                                                                      // when the meters had started
	startMeters := func() { m0 = sampleMachine(); cpu = startCPU(); metersAt = nanotime() } // the meters' own work not counted
	for p, evs := range copies {
		res[p].hist = win.rounds()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &res[p]
			if s.batch > 0 {
				r.published, r.total, r.err = produceBatches(tr, p, evs, s.batch, win.from, win.to)
			} else {
				r.published, r.total, r.err = produce(tr, p, evs, s.interval, spinOK, r.hist, win.from, win.to, func() {
					cpuOnce.Do(startMeters)
				})
			}
		}()
	}
	// The window opens here for batches. One-at-a-time producers start the
	// meters themselves; this goroutine does only if none has by
	// meterFallback, so that a producer that gets no CPU in the whole
	// window still leaves a measured (and so disturbed) window, not an
	// unmeasured one. Racing a live producer for it would put the read
	// inside the window whenever this goroutine's timer won.
	if s.batch > 0 {
		sleepUntil(win.from)
	} else {
		sleepUntil(win.from + int64(meterFallback))
	}
	cpuOnce.Do(startMeters)
	wg.Wait()
	used := cpu.stop()
	// The CPU meter ran from just before the window (meterLead) to its
	// end: scale to the window, the flows being steady.
	if window := time.Duration(win.to - win.from); used.wall > 0 {
		used.cpu = time.Duration(float64(used.cpu) * window.Seconds() / used.wall.Seconds())
	}
	d := disturbanceBetween(m0, sampleMachine())
	d.LateStart = max(0, float64(metersAt-win.from)/float64(win.to-win.from))
	return res, used, d
}

// produce publishes evs round and round, one at a time, paced at interval
// (0: saturated), until stopAt, and records each call's latency from
// recordFrom. It calls recording once, meterLead before recordFrom. It
// returns how many events it published with a stamp in the recorded window.
func produce(tr transport, p int, evs []schema.Event, interval int64, spin bool, h *Rounds, recordFrom, stopAt int64, recording func()) (n, total int64, err error) {
	started := false
	due := nanotime()
	prevEnd := due
	b, builds := tr.(builder)
	builds = builds && interval > 0
	for i := 0; ; i++ {
		ev := &evs[i%len(evs)]
		var stamp int64
		if interval > 0 {
			if builds {
				b.build(p, ev) // before the send time, as a sensor fills its event
			}
			due += interval
			if !started && due >= recordFrom-int64(meterLead) {
				// The window opens within meterLead: start the meters
				// now, before waiting for this send time, so that reading
				// /proc is not on the measured path (see meterLead). If
				// it makes the producer late, the schedule moves (below).
				started = true
				recording()
			}
			waitUntil(due, spin)
			if now := nanotime(); now > due && prevEnd <= due {
				// Late, but not because of the system under test: its
				// last call returned in time, so the load generator
				// itself was held up (its core taken by the OS or the
				// hypervisor, a late wake-up). Move the schedule rather
				// than charge the bus for it.
				due = now
			}
			stamp = due
		} else {
			stamp = nanotime()
			if !started && stamp >= recordFrom-int64(meterLead) {
				started = true // see meterLead
				recording()
				stamp = nanotime()
			}
		}
		if stamp >= stopAt {
			return n, total, nil
		}
		var err error
		if builds {
			err = b.publishBuilt(p, schema.TimestampMono(stamp))
		} else {
			ev.TsMono = schema.TimestampMono(stamp)
			err = tr.publish(p, ev)
		}
		if err != nil {
			return n, total, err
		}
		total++
		end := nanotime()
		prevEnd = end
		if interval > 0 && !spin {
			// Hand the processor over before building the next event, as
			// a sensor's producer does when it goes back to its source
			// for the next record: with the consumer waiting for this
			// processor, what the producer does next (recording, and
			// building an event into memory last written a ring lap ago,
			// 160-320 ns at P90 and up to 570 ns at P99) would otherwise
			// sit between this event and its delivery, for the
			// implementations that build (Kestrel, Workiva) and not for
			// the channel, which builds nothing.
			runtime.Gosched()
		}
		if stamp >= recordFrom {
			h.Record(stamp, end-stamp)
			n++
		}
	}
}

// produceBatches publishes evs in batches of size, as fast as the transport
// accepts, until stopAt, every event of a batch stamped with the batch's
// start.
func produceBatches(tr transport, p int, evs []schema.Event, size int, recordFrom, stopAt int64) (n, total int64, err error) {
	size = min(size, len(evs))
	for i := 0; ; i = (i + size) % (len(evs) - size + 1) {
		stamp := nanotime()
		if stamp >= stopAt {
			return n, total, nil
		}
		batch := evs[i : i+size]
		for j := range batch {
			batch[j].TsMono = schema.TimestampMono(stamp)
		}
		if err := tr.publishBatch(p, batch); err != nil {
			return n, total, err
		}
		total += int64(size)
		if stamp >= recordFrom {
			n += int64(size)
		}
	}
}

// waitUntil returns at time t (nanotime), or at once if t has passed. It
// sleeps while t is far, yields while it is near, and spins for the last
// stretch: an OS sleep wakes tens of microseconds late and a yield may run
// the scheduler for microseconds, and either would be charged to the system
// under test as lateness against the schedule. A paced producer owns its
// core, as a load generator must; without spin it yields instead, for when
// there are fewer cores than spinners.
func waitUntil(t int64, spin bool) {
	for {
		d := t - nanotime()
		switch {
		case d <= 0:
			return
		case d > int64(200*time.Microsecond):
			time.Sleep(time.Duration(d) - 100*time.Microsecond)
		case d > int64(50*time.Microsecond) || !spin:
			runtime.Gosched()
		}
	}
}

// sleepUntil sleeps until time t (nanotime).
func sleepUntil(t int64) {
	if d := t - nanotime(); d > 0 {
		time.Sleep(time.Duration(d))
	}
}
