package bench

import (
	"fmt"
	"strings"
)

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
	// Empty means the figure holds no measurement (a latency figure with
	// no event delivered in its window): a miss, never a pass, which the
	// gate measures again like any other miss.
	Empty bool `json:"empty,omitempty"`
	// Attempts lists every measurement of a gating latency target that
	// missed at first: the run's own, then each re-measurement, up to
	// gateAttempts in all, stopping at the first that meets the bound.
	// Noise on the machine can only add latency, never remove it, so one
	// attempt under the bound shows what the code does; Value is then that
	// attempt's figure.
	Attempts []Attempt `json:"attempts,omitempty"`
	// Disturbed marks a gating target missed in every attempt while every
	// attempt's machine was disturbed (Disturbance.Disturbed) and its
	// median (P50) still met the bound: the tail is the machine's, so the
	// verdict is reported, not failed. A miss in any undisturbed attempt,
	// or a median over the bound, is a real miss.
	Disturbed bool `json:"disturbed,omitempty"`
}

// Attempt is one measurement of a gating latency target.
type Attempt struct {
	Value       float64     `json:"value"`
	P50         float64     `json:"p50_ns"`
	Met         bool        `json:"met"`
	Empty       bool        `json:"empty,omitempty"`
	Disturbance Disturbance `json:"disturbance"`
}

// gateAttempts is how many times a gating latency target is measured
// before a miss counts.
const gateAttempts = 3

// attemptOf returns f's measurement against t.
func attemptOf(t Target, f *Figure) Attempt {
	a := Attempt{Value: f.Value(t.Metric), Empty: f.empty(t.Metric)}
	if f.Latency != nil {
		a.P50 = float64(f.Latency.P50)
	}
	if f.Disturbance != nil {
		a.Disturbance = *f.Disturbance
	}
	a.Met = !a.Empty && a.Value < t.Bound
	return a
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
		} else if v.Empty = f.empty(t.Metric); !v.Empty {
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

// Passed reports whether every gating verdict is met or was missed only on
// a disturbed machine (Verdict.Disturbed).
func Passed(vs []Verdict) bool {
	for _, v := range vs {
		if v.Gate && !v.Met && !v.Disturbed {
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
	case v.Empty && !v.Disturbed:
		state = "NO DATA: nothing was measured in the window"
	case v.Disturbed:
		state = "DISTURBED: missed in every attempt on a disturbed machine, not judged"
	case !v.Met && v.Gate:
		state = "MISSED"
	case !v.Met:
		state = "not yet"
	}
	if n := len(v.Attempts); n > 1 {
		var vals []string
		for _, a := range v.Attempts {
			x := formatValue(v.Metric, a.Value)
			if a.Empty {
				x = "no data"
			}
			if a.Disturbance.Disturbed() {
				x += " (disturbed)"
			}
			vals = append(vals, x)
		}
		state += fmt.Sprintf(" [%d attempts: %s]", n, strings.Join(vals, ", "))
	}
	kind := "goal"
	if v.Gate {
		kind = "target"
	}
	return fmt.Sprintf("%-6s %-40s %12s  %s", kind, v.Name, formatValue(v.Metric, v.Value), state)
}
