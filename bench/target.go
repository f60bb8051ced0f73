package bench

import "fmt"

// Target is a bound a scenario's Kestrel figure must meet.
type Target struct {
	// Name is the human name, e.g. "publish P99 < 10 µs".
	Name string `json:"name"`
	// Result is the Name of the Result it applies to.
	Result string `json:"result"`
	// Metric is the figure compared; its direction decides < or >=.
	Metric Metric `json:"metric"`
	// Bound is the limit: a maximum for lower-is-better metrics, a minimum
	// otherwise.
	Bound float64 `json:"bound"`
	// Gate makes a miss fail the run (exit status 1). The seed's targets
	// gate; the project's stretch goals are reported only.
	Gate bool `json:"gate"`
}

// Verdict is a Target checked against a run.
type Verdict struct {
	Target
	// Value is the measured figure (0 when Missing).
	Value float64 `json:"value"`
	Met   bool    `json:"met"`
	// Missing means the run has no figure for the target: that is a miss.
	Missing bool `json:"missing,omitempty"`
}

// SeedTargets are the targets every run must meet.
func SeedTargets() []Target {
	return []Target{
		{Name: "publish P99 < 10 µs", Result: ResultPublishSteady, Metric: MetricP99, Bound: 10_000, Gate: true},
		{Name: "subscribe P99 < 5 µs", Result: ResultSubscribeSteady, Metric: MetricP99, Bound: 5_000, Gate: true},
		{Name: "replay >= 10k events/s, one thread", Result: ResultReplayJSON, Metric: MetricRate, Bound: 10_000, Gate: true},
	}
}

// StretchGoals are the project's own goals, printed beside the targets.
func StretchGoals() []Target {
	return []Target{
		{Name: "publish P99 < 250 ns", Result: ResultPublishSteady, Metric: MetricP99, Bound: 250},
		{Name: "subscribe P99 < 1 µs", Result: ResultSubscribeSteady, Metric: MetricP99, Bound: 1_000},
		{Name: "JSON replay decode >= 1M events/s", Result: ResultReplayJSON, Metric: MetricRate, Bound: 1_000_000},
	}
}

// Check returns the verdict of every target against results.
func Check(results []Result, targets []Target) []Verdict {
	out := make([]Verdict, 0, len(targets))
	for _, t := range targets {
		v := Verdict{Target: t}
		var f *Figure
		for i := range results {
			if results[i].Name == t.Result {
				f = results[i].Figure(ImplKestrel)
				break
			}
		}
		if f == nil {
			v.Missing = true
		} else {
			v.Value = f.Value(t.Metric)
			if t.Metric.LowerIsBetter() {
				v.Met = v.Value < t.Bound
			} else {
				v.Met = v.Value >= t.Bound
			}
		}
		out = append(out, v)
	}
	return out
}

// Passed reports whether every gating verdict is met.
func Passed(vs []Verdict) bool {
	for _, v := range vs {
		if v.Gate && !v.Met {
			return false
		}
	}
	return true
}

// String describes v in one line.
func (v Verdict) String() string {
	state := "met"
	switch {
	case v.Missing:
		state = "MISSING"
	case !v.Met && v.Gate:
		state = "MISSED"
	case !v.Met:
		state = "not yet"
	}
	kind := "goal"
	if v.Gate {
		kind = "target"
	}
	return fmt.Sprintf("%-6s %-40s %12s  %s", kind, v.Name, formatValue(v.Metric, v.Value), state)
}
