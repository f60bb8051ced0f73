package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// queueImpls are the implementations every queueing scenario measures, in
// table order.
var queueImpls = []string{ImplKestrel, ImplChannel, ImplWorkiva}

// Queue sizes: the bus's default ring, and the same capacity for the peers.
const benchQueueSize = 4096

// throughputBatch is the batch size of the throughput grid's producers.
const throughputBatch = 64

// scenario is one named measurement of the run.
type scenario struct {
	// names are the prefixes of the results it produces, matched by
	// Config.Only.
	names []string
	run   func(ctx context.Context, r *runner) ([]Result, error)
}

// runner carries what scenarios share.
type runner struct {
	cfg Config
	w   *workload
}

func (r *runner) progress(step string) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(step)
	}
}

// scenarios lists every scenario in run order.
func scenarios() []scenario {
	return []scenario{
		{[]string{"publish", "subscribe"}, runLatencyScenarios},
		{[]string{"throughput"}, runThroughputScenarios},
		{[]string{"replay"}, runReplayScenarios},
		{[]string{"alerts"}, runAlertScenarios},
		{[]string{"idle"}, runIdleScenario},
	}
}

// Run measures every scenario that cfg selects and checks the results
// against the seed's targets (which gate: Report.Passed) and the project's
// stretch goals (which do not). It returns an error only when a scenario
// could not run at all; a missed target is a verdict, not an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	cfg = cfg.withDefaults()
	r := &runner{cfg: cfg, w: newWorkload(cfg.Seed, workloadEvents)}
	rep := &Report{Started: start.UTC(), Machine: ThisMachine(), Config: cfg}
	for _, sc := range scenarios() {
		if !slices.ContainsFunc(sc.names, func(n string) bool { return selected(cfg.Only, n) }) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err := sc.run(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("bench: scenario %s: %w", sc.names[0], err)
		}
		rep.Results = append(rep.Results, res...)
	}
	targets := append(SeedTargets(), StretchGoals()...)
	if cfg.Only != "" { // judge only what was asked for
		var kept []Target
		for _, t := range targets {
			if selected(cfg.Only, t.Result) {
				kept = append(kept, t)
			}
		}
		targets = kept
	}
	rep.Verdicts = Check(rep.Results, targets)
	rep.Duration = time.Since(start)
	return rep, nil
}

// selected reports whether a scenario or result name matches the Only
// filter: any of its comma-separated prefixes, in either direction (so
// "subscribe/1p" selects the scenario named "subscribe", and "publish"
// selects the result "publish/1p/steady").
func selected(only, name string) bool {
	if only == "" {
		return true
	}
	for _, p := range strings.Split(only, ",") {
		if p = strings.TrimSpace(p); p != "" && (strings.HasPrefix(name, p) || strings.HasPrefix(p, name)) {
			return true
		}
	}
	return false
}

// latencyFigure converts a flow's measurements into a Figure, from the
// publish or the delivery rounds.
func latencyFigure(impl string, f *flowResult, r *Rounds) Figure {
	all := r.All()
	p := all.Percentiles()
	return Figure{
		Impl:                 impl,
		Latency:              &p,
		RoundP99:             r.P99s(),
		Curve:                all.Curve(),
		Rate:                 float64(f.published) / f.window.Seconds(),
		Events:               f.published,
		CPUSecondsPerMillion: perMillion(f.cpu, f.published),
		AllocsPerEvent:       f.allocsPerEvent,
	}
}

// runLatencyScenarios measures publish latency (one Publish call) and
// delivery latency (publish stamp to the consumer, "subscribe") with 1 and
// 2 producers into one partition, paced at Config.SteadyRate per producer
// and saturated.
func runLatencyScenarios(ctx context.Context, r *runner) ([]Result, error) {
	var out []Result
	for _, producers := range []int{1, 2} {
		for _, steady := range []bool{true, false} {
			mode, interval := "saturated", int64(0)
			if steady {
				mode, interval = "steady", int64(time.Second)/int64(r.cfg.SteadyRate)
			}
			key := fmt.Sprintf("%dp/%s", producers, mode)
			pub := Result{Name: "publish/" + key, Metric: MetricP99,
				Title: fmt.Sprintf("publish latency, %d producer(s), %s", producers, mode)}
			sub := Result{Name: "subscribe/" + key, Metric: MetricP99,
				Title: fmt.Sprintf("publish-to-worker latency, %d producer(s), %s", producers, mode)}
			if steady {
				pub.Note = fmt.Sprintf("paced at %d events/s per producer, one partition; latency from the intended send time", r.cfg.SteadyRate)
			} else {
				pub.Note = "producers publish as fast as the queue accepts, one partition; latency includes waiting for room"
			}
			sub.Note = pub.Note
			for _, impl := range queueImpls {
				r.progress(pub.Name + " " + impl)
				f, err := runFlow(ctx, r.w, flowSpec{
					impl: impl, partitions: 1, producers: producers, queueSize: benchQueueSize,
					interval: interval, latency: true, wait: r.cfg.wait(), warmup: r.cfg.Warmup, measure: r.cfg.Measure,
				})
				if err != nil {
					return nil, fmt.Errorf("%s: %w", pub.Name, err)
				}
				pub.Figures = append(pub.Figures, latencyFigure(impl, f, f.publish))
				sub.Figures = append(sub.Figures, latencyFigure(impl, f, f.delivery))
			}
			out = append(out, pub, sub)
		}
	}
	return out, nil
}

// runThroughputScenarios measures events/s over the partitions x producers
// grid, producers publishing batches as fast as the bus takes them.
func runThroughputScenarios(ctx context.Context, r *runner) ([]Result, error) {
	var out []Result
	measure := max(r.cfg.Measure/2, 50*time.Millisecond)
	warmup := max(r.cfg.Warmup/2, 20*time.Millisecond)
	for _, parts := range r.cfg.Partitions {
		for _, producers := range r.cfg.Producers {
			res := Result{
				Name:   fmt.Sprintf("throughput/%dpart/%dp", parts, producers),
				Title:  fmt.Sprintf("throughput, %d partition(s), %d producer(s)", parts, producers),
				Metric: MetricRate,
				Note:   fmt.Sprintf("batches of %d (PublishBatch; the peers have no batch form and put one by one)", throughputBatch),
			}
			for _, impl := range queueImpls {
				r.progress(res.Name + " " + impl)
				f, err := runFlow(ctx, r.w, flowSpec{
					impl: impl, partitions: parts, producers: producers, queueSize: benchQueueSize,
					batch: throughputBatch, warmup: warmup, measure: measure, // default wait: see Config.DefaultWait
				})
				if err != nil {
					return nil, fmt.Errorf("%s: %w", res.Name, err)
				}
				res.Figures = append(res.Figures, Figure{
					Impl:                 impl,
					Rate:                 float64(f.consumed) / f.window.Seconds(),
					Events:               f.consumed,
					CPUSecondsPerMillion: perMillion(f.cpu, f.consumed),
					AllocsPerEvent:       f.allocsPerEvent,
				})
			}
			out = append(out, res)
		}
	}
	return out, nil
}
