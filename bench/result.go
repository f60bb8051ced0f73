package bench

// The implementations a scenario measures in the same run.
const (
	ImplKestrel = "kestrel"
	ImplChannel = "channel"
	ImplWorkiva = "workiva"
)

// Metric says what a Result's headline figure is and which way is better.
type Metric string

// The metrics.
const (
	// MetricP99 is a latency percentile in ns: lower is better.
	MetricP99 Metric = "p99_ns"
	// MetricRate is a rate in events (or alerts) per second: higher is better.
	MetricRate Metric = "events_per_s"
	// MetricCPU is a share of one core, 0..1: lower is better.
	MetricCPU Metric = "cpu_core_share"
)

// LowerIsBetter reports the direction of m.
func (m Metric) LowerIsBetter() bool { return m != MetricRate }

// Figure is one implementation's measurement in one scenario.
type Figure struct {
	Impl string `json:"impl"`
	// Latency is set for latency scenarios.
	Latency *Percentiles `json:"latency,omitempty"`
	// RoundP99 is the P99 of each consecutive round of the window; the
	// headline P99 (Value) is their median. Latency.P99 is the whole
	// window's.
	RoundP99 []int64 `json:"round_p99_ns,omitempty"`
	// Curve is the latency distribution, for plots.
	Curve []CurvePoint `json:"curve,omitempty"`
	// Rate is events per second (throughput scenarios, and the rate a
	// latency scenario actually achieved).
	Rate float64 `json:"events_per_s,omitempty"`
	// Events is how many events the measurement covered.
	Events int64 `json:"events"`
	// CPUSecondsPerMillion is the process CPU time spent per million events
	// (user + system, all threads), the price of the figure.
	CPUSecondsPerMillion float64 `json:"cpu_s_per_million,omitempty"`
	// AllocsPerEvent is the process's heap allocations per event
	// published: for latency and throughput scenarios over the measured
	// window (from the meters' start, at most 5 ms before it), for the
	// rule-scale ones over their timed rounds: producers, queue and
	// consumers together, set-up not counted.
	AllocsPerEvent float64 `json:"allocs_per_event"`
	// PageFaults is, for latency and throughput scenarios, the process's
	// minor page faults over the measured window: memory touched there for
	// the first time, 10-15 µs each on a VM. In a steady state it is 0.
	PageFaults *int64 `json:"page_faults,omitempty"`
	// CoreShare is, for idle scenarios, the share of one core burnt.
	CoreShare float64 `json:"core_share,omitempty"`
	// Disturbance is what the rest of the machine did during a latency
	// or throughput measurement.
	Disturbance *Disturbance `json:"disturbance,omitempty"`
}

// Value returns the figure's headline value for metric m.
func (f *Figure) Value(m Metric) float64 {
	switch m {
	case MetricP99:
		if m := medianP99(f.RoundP99); m > 0 {
			return float64(m)
		}
		if f.Latency != nil {
			return float64(f.Latency.P99)
		}
	case MetricRate:
		return f.Rate
	case MetricCPU:
		return f.CoreShare
	}
	return 0
}

// Result is one scenario: the same workload over Kestrel and its peers.
type Result struct {
	// Name identifies the scenario, e.g. "publish/1p/steady".
	Name string `json:"name"`
	// Title is the human name used in tables.
	Title   string   `json:"title"`
	Metric  Metric   `json:"metric"`
	Figures []Figure `json:"figures"`
	// Baseline is the peer the headline ratio is taken against; empty
	// means ImplChannel.
	Baseline string `json:"baseline,omitempty"`
	// Note explains anything unusual about the measurement.
	Note string `json:"note,omitempty"`
}

// BaselineImpl returns the peer the headline ratio compares against.
func (r *Result) BaselineImpl() string {
	if r.Baseline == "" {
		return ImplChannel
	}
	return r.Baseline
}

// Figure returns the figure for impl, or nil.
func (r *Result) Figure(impl string) *Figure {
	for i := range r.Figures {
		if r.Figures[i].Impl == impl {
			return &r.Figures[i]
		}
	}
	return nil
}

// Ratio returns how many times better Kestrel's figure is than impl's in
// this result (above 1: Kestrel is better), or 0 when either is missing.
func (r *Result) Ratio(impl string) float64 {
	ours, peer := r.Figure(ImplKestrel), r.Figure(impl)
	if ours == nil || peer == nil {
		return 0
	}
	a, b := ours.Value(r.Metric), peer.Value(r.Metric)
	if a <= 0 || b <= 0 {
		return 0
	}
	if r.Metric == MetricCPU && max(a, b) < idleNoise {
		return 0 // both at the noise floor: no ratio to speak of
	}
	if r.Metric.LowerIsBetter() {
		return b / a
	}
	return a / b
}

// idleNoise is the CPU share (1% of a core) below which idle figures are
// noise: the process's own timers and the measurement itself.
const idleNoise = 0.01

// Names of the results that targets refer to.
const (
	ResultPublishSteady   = "publish/1p/steady"
	ResultSubscribeSteady = "subscribe/1p/steady"
	ResultReplayJSON      = "replay/json/decode"
)

// empty reports whether f holds no measurement of m: a latency figure with
// no event delivered in its window (no real P99 is 0 ns), or a rate over no
// events. Its Value is 0, which must not read as a fast result.
func (f *Figure) empty(m Metric) bool {
	return (m == MetricP99 || m == MetricRate) && f.Value(m) <= 0
}
