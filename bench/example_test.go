package bench_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kestrel-sec/kestrel/bench"
)

// Run measures the selected scenarios and judges them; the report prints
// as a table, Markdown or JSON. (Not run as a test: its figures vary.)
func ExampleRun() {
	rep, err := bench.Run(context.Background(), bench.Config{Quick: true, Only: "publish,subscribe", Measure: 200 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = rep.WriteText(os.Stdout)
	if !rep.Passed() {
		fmt.Println("a seed target was missed")
	}
}

// Check judges results against targets: seed targets gate, stretch goals
// are reported only.
func ExampleCheck() {
	results := []bench.Result{{
		Name:   bench.ResultPublishSteady,
		Metric: bench.MetricP99,
		Figures: []bench.Figure{
			{Impl: bench.ImplKestrel, Latency: &bench.Percentiles{P99: 700}},
			{Impl: bench.ImplChannel, Latency: &bench.Percentiles{P99: 7000}},
		},
	}}
	verdicts := bench.Check(results, append(bench.SeedTargets()[:1], bench.StretchGoals()[:1]...))
	for _, v := range verdicts {
		fmt.Println(v.Name, v.Met, v.Gate)
	}
	fmt.Println("passed:", bench.Passed(verdicts), "ratio to the channel:", results[0].Ratio(bench.ImplChannel))
	// Output:
	// publish P99 < 10 µs true true
	// publish P99 < 250 ns false false
	// passed: true ratio to the channel: 10
}
