package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

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
	warmup  time.Duration
	measure time.Duration
}

// flowResult is what one flow measured, over the recorded window only.
type flowResult struct {
	publish  *Hist // time of one publish call (intended start to return when paced)
	delivery *Hist // publish stamp to consumer receipt
	// published and consumed count events in the recorded window.
	published, consumed int64
	window              time.Duration
	cpu                 time.Duration
}

// partState is a consumer's private state, padded so neighbouring
// partitions' consumers do not share cache lines.
type partState struct {
	hist     *Hist
	consumed atomic.Int64
	_        [112]byte
}

// runFlow runs producers against a transport for warm-up plus measurement
// and returns the figures of the measured window.
//
// Latency is measured without coordinated omission: a paced producer owns a
// schedule (event i is due at start + i*interval) and stamps each event
// with its due time, not with the time it got round to sending it, so a
// stall that delays the producer counts against every event it delayed, in
// both the publish and the delivery latency. Saturated runs have no
// schedule; they stamp the actual call time.
func runFlow(ctx context.Context, w *workload, s flowSpec) (*flowResult, error) {
	tr, err := newTransport(s.impl, transportSpec{partitions: s.partitions, producers: s.producers, queueSize: s.queueSize, wait: benchWait})
	if err != nil {
		return nil, err
	}
	parts := make([]partState, s.partitions)
	for i := range parts {
		parts[i].hist = NewHist()
	}
	t0 := nanotime()
	recordFrom := t0 + int64(s.warmup)
	stopAt := recordFrom + int64(s.measure)
	var consume consumeFunc
	if s.latency {
		consume = func(p int, ev *schema.Event) {
			now := nanotime()
			if st := int64(ev.TsMono); st >= recordFrom && st < stopAt {
				parts[p].hist.Record(now - st)
				parts[p].consumed.Add(1)
			}
		}
	} else {
		consume = func(p int, ev *schema.Event) {
			if st := int64(ev.TsMono); st >= recordFrom && st < stopAt {
				parts[p].consumed.Add(1)
			}
		}
	}
	if err := tr.start(consume); err != nil {
		return nil, err
	}

	type prodResult struct {
		hist      *Hist
		published int64
		err       error
	}
	res := make([]prodResult, s.producers)
	var wg sync.WaitGroup
	var cpu cpuMeter
	var cpuOnce sync.Once
	for p := range s.producers {
		res[p].hist = NewHist()
		evs := w.copyFor(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &res[p]
			if s.batch > 0 {
				r.published, r.err = produceBatches(tr, p, evs, s.batch, recordFrom, stopAt)
			} else {
				r.published, r.err = produce(tr, p, evs, s.interval, r.hist, recordFrom, stopAt, func() {
					cpuOnce.Do(func() { cpu = startCPU() })
				})
			}
		}()
	}
	if s.batch > 0 {
		sleepUntil(recordFrom)
		cpuOnce.Do(func() { cpu = startCPU() })
	}
	wg.Wait()
	cpuUsed, _ := cpu.stop()
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := tr.stop(stopCtx); err != nil {
		return nil, fmt.Errorf("%s: stop: %w", s.impl, err)
	}

	out := &flowResult{publish: NewHist(), delivery: NewHist(), window: s.measure, cpu: cpuUsed}
	for i := range res {
		if res[i].err != nil {
			return nil, fmt.Errorf("%s: producer %d: %w", s.impl, i, res[i].err)
		}
		out.publish.Merge(res[i].hist)
		out.published += res[i].published
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

// produce publishes evs round and round, one at a time, paced at interval
// (0: saturated), until stopAt, and records each call's latency from
// recordFrom. It returns how many events it published with a stamp in the
// recorded window.
func produce(tr transport, p int, evs []schema.Event, interval int64, h *Hist, recordFrom, stopAt int64, recording func()) (int64, error) {
	var n int64
	started := false
	due := nanotime()
	for i := 0; ; i++ {
		ev := &evs[i%len(evs)]
		var stamp int64
		if interval > 0 {
			due += interval
			waitUntil(due)
			stamp = due
		} else {
			stamp = nanotime()
		}
		if stamp >= stopAt {
			return n, nil
		}
		ev.TsMono = schema.TimestampMono(stamp)
		if err := tr.publish(p, ev); err != nil {
			return n, err
		}
		if stamp >= recordFrom {
			if !started {
				started = true
				recording()
			}
			h.Record(nanotime() - stamp)
			n++
		}
	}
}

// produceBatches publishes evs in batches of size, as fast as the transport
// accepts, until stopAt, every event of a batch stamped with the batch's
// start.
func produceBatches(tr transport, p int, evs []schema.Event, size int, recordFrom, stopAt int64) (int64, error) {
	var n int64
	size = min(size, len(evs))
	for i := 0; ; i = (i + size) % (len(evs) - size + 1) {
		stamp := nanotime()
		if stamp >= stopAt {
			return n, nil
		}
		batch := evs[i : i+size]
		for j := range batch {
			batch[j].TsMono = schema.TimestampMono(stamp)
		}
		if err := tr.publishBatch(p, batch); err != nil {
			return n, err
		}
		if stamp >= recordFrom {
			n += int64(size)
		}
	}
}

// waitUntil returns at time t (nanotime), or at once if t has passed. It
// sleeps while t is far, then yields the processor until t: an OS sleep
// wakes tens of microseconds late, which would be charged to the system
// under test as lateness against the schedule.
func waitUntil(t int64) {
	for {
		d := t - nanotime()
		switch {
		case d <= 0:
			return
		case d > int64(200*time.Microsecond):
			time.Sleep(time.Duration(d) - 100*time.Microsecond)
		default:
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
