package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// idlePartitions is how many consumers wait in the idle scenario: one per
// core of the 2-core machines this runs on.
const idlePartitions = 2

// runIdleScenario measures the CPU that waiting costs: each implementation
// starts its consumers, receives nothing for a while, and the share of one
// core the process burns meanwhile is recorded. An embedded sensor runtime
// must not spin on an idle host; the bus's workers spin briefly, yield, then
// park.
func runIdleScenario(ctx context.Context, r *runner) ([]Result, error) {
	var out []Result
	for _, procs := range []int{1, 2} {
		res, err := idleAt(ctx, r, procs)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// idleAt measures the idle CPU with GOMAXPROCS set to procs.
func idleAt(ctx context.Context, r *runner, procs int) (Result, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	res := Result{
		Name:   fmt.Sprintf("idle/cpu/gomaxprocs%d", procs),
		Title:  fmt.Sprintf("CPU while idle, 2 partitions, GOMAXPROCS %d", procs),
		Metric: MetricCPU,
		Note:   "share of one core burnt by the waiting consumers (lower is better)",
	}
	window := max(r.cfg.Measure/2, 100*time.Millisecond)
	for _, impl := range queueImpls {
		r.progress(res.Name + " " + impl)
		tr, err := newTransport(impl, transportSpec{partitions: idlePartitions, producers: 1, queueSize: benchQueueSize, wait: r.cfg.wait()})
		if err != nil {
			return res, err
		}
		if err := tr.start(func(int, *schema.Event) {}); err != nil {
			return res, err
		}
		time.Sleep(r.cfg.Warmup) // let spinning waiters settle into parking
		m := startCPU()
		time.Sleep(window)
		u := m.stop()
		cpu, wall := u.cpu, u.wall
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = tr.stop(stopCtx)
		cancel()
		if err != nil {
			return res, err
		}
		res.Figures = append(res.Figures, Figure{Impl: impl, CoreShare: cpu.Seconds() / wall.Seconds()})
	}
	return res, nil
}
