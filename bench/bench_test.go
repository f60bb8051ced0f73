package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

func TestHistPercentiles(t *testing.T) {
	h := NewHist()
	for i := int64(1); i <= 10000; i++ {
		h.Record(i * 100) // 100 ns .. 1 ms, uniform
	}
	p := h.Percentiles()
	if p.Count != 10000 {
		t.Fatalf("count %d", p.Count)
	}
	within := func(name string, got, want int64) {
		t.Helper()
		if d := math.Abs(float64(got-want)) / float64(want); d > 0.002 { // 3 significant digits
			t.Errorf("%s = %d, want %d ±0.2%%", name, got, want)
		}
	}
	within("P50", p.P50, 500_000)
	within("P90", p.P90, 900_000)
	within("P99", p.P99, 990_000)
	within("P99.9", p.P999, 999_000)
	within("max", p.Max, 1_000_000)
	if math.Abs(p.Mean-500_050) > 1000 {
		t.Errorf("mean %v", p.Mean)
	}

	// Out-of-range values are clamped, never lost.
	h2 := NewHist()
	h2.Record(-5)
	h2.Record(int64(time.Hour))
	if h2.Count() != 2 || h2.dropped != 1 {
		t.Errorf("clamping: count %d, dropped %d", h2.Count(), h2.dropped)
	}
	h.Merge(h2)
	if h.Count() != 10002 {
		t.Errorf("merge: count %d", h.Count())
	}
	if (&Hist{h: NewHist().h}).Percentiles() != (Percentiles{}) {
		t.Error("empty histogram has percentiles")
	}
}

func TestHistCurve(t *testing.T) {
	h := NewHist()
	for i := int64(1); i <= 100000; i++ {
		h.Record(i)
	}
	c := h.Curve()
	if len(c) < 20 || c[len(c)-1].Percentile != 100 || c[len(c)-1].Nanos != h.Percentiles().Max {
		t.Fatalf("curve %v", c)
	}
	for i := 1; i < len(c); i++ {
		if c[i].Percentile <= c[i-1].Percentile || c[i].Nanos < c[i-1].Nanos {
			t.Fatalf("curve not monotonic at %d: %v then %v", i, c[i-1], c[i])
		}
	}
	if NewHist().Curve() != nil {
		t.Error("empty histogram has a curve")
	}
}

func latencyResult(name string, ours, channel int64) Result {
	return Result{Name: name, Metric: MetricP99, Figures: []Figure{
		{Impl: ImplKestrel, Latency: &Percentiles{P99: ours}},
		{Impl: ImplChannel, Latency: &Percentiles{P99: channel}},
	}}
}

func TestRatio(t *testing.T) {
	r := latencyResult("x", 100, 400)
	if got := r.Ratio(ImplChannel); got != 4 {
		t.Errorf("latency ratio %v, want 4 (lower is better)", got)
	}
	if got := r.Ratio(ImplWorkiva); got != 0 {
		t.Errorf("missing peer ratio %v, want 0", got)
	}
	rate := Result{Metric: MetricRate, Figures: []Figure{{Impl: ImplKestrel, Rate: 3e6}, {Impl: ImplChannel, Rate: 1e6}}}
	if got := rate.Ratio(ImplChannel); got != 3 {
		t.Errorf("rate ratio %v, want 3 (higher is better)", got)
	}
	zero := Result{Metric: MetricRate, Figures: []Figure{{Impl: ImplKestrel, Rate: 0}, {Impl: ImplChannel, Rate: 1e6}}}
	if got := zero.Ratio(ImplChannel); got != 0 {
		t.Errorf("ratio with a zero figure %v, want 0", got)
	}
}

func TestVerdicts(t *testing.T) {
	results := []Result{
		latencyResult(ResultPublishSteady, 900, 2000),
		latencyResult(ResultSubscribeSteady, 6000, 9000), // misses the 5 µs target
		{Name: ResultReplayJSON, Metric: MetricRate, Figures: []Figure{{Impl: ImplKestrel, Rate: 200_000}}},
	}
	vs := Check(results, SeedTargets())
	if len(vs) != 3 {
		t.Fatalf("%d verdicts", len(vs))
	}
	if !vs[0].Met || vs[1].Met || !vs[2].Met {
		t.Fatalf("verdicts %+v", vs)
	}
	if Passed(vs) {
		t.Fatal("a missed gating target passed")
	}
	if !strings.Contains(vs[1].String(), "MISSED") {
		t.Errorf("missed verdict reads %q", vs[1].String())
	}
	// Stretch goals never gate.
	goals := Check(results, StretchGoals())
	if !Passed(goals) {
		t.Error("a stretch goal gated")
	}
	if goals[0].Met || goals[0].String() == "" || !strings.Contains(goals[0].String(), "not yet") {
		t.Errorf("goal verdict %q", goals[0].String())
	}
	// A target without a figure is missed, not passed.
	vs = Check(nil, SeedTargets())
	if Passed(vs) || !vs[0].Missing {
		t.Errorf("missing results passed: %+v", vs)
	}
	// The boundary: a rate target is met at exactly its bound, a latency
	// target is not.
	edge := Check([]Result{latencyResult(ResultPublishSteady, 10_000, 1)}, SeedTargets()[:1])
	if edge[0].Met {
		t.Error("P99 equal to the bound met a < target")
	}
}

func sampleReport() *Report {
	pub := latencyResult(ResultPublishSteady, 300, 900)
	pub.Title = "publish"
	pub.Figures[0].Curve = []CurvePoint{{0, 100}, {50, 200}, {99, 300}, {100, 900}}
	pub.Figures[1].Curve = []CurvePoint{{0, 300}, {50, 500}, {99, 900}, {100, 5000}}
	r := &Report{
		Started: time.Unix(1700000000, 0).UTC(), Duration: 3 * time.Second,
		Machine: ThisMachine(), Config: Config{Quick: true}.withDefaults(),
		Results: []Result{pub},
	}
	r.Verdicts = Check(r.Results, SeedTargets()[:1])
	return r
}

// TestReportJSONSchema pins the JSON report's field names: tools read it.
func TestReportJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"started", "duration_ns", "machine", "config", "results", "verdicts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	mach := m["machine"].(map[string]any)
	for _, k := range []string{"cpu", "cores", "gomaxprocs", "go_version", "os", "arch"} {
		if _, ok := mach[k]; !ok {
			t.Errorf("machine lacks %q", k)
		}
	}
	res := m["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "title", "metric", "figures"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
	fig := res["figures"].([]any)[0].(map[string]any)
	lat := fig["latency"].(map[string]any)
	for _, k := range []string{"p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "count"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency lacks %q", k)
		}
	}
	v := m["verdicts"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "result", "metric", "bound", "gate", "value", "met"} {
		if _, ok := v[k]; !ok {
			t.Errorf("verdict lacks %q", k)
		}
	}
	cfg := m["config"].(map[string]any)
	if cfg["quick"] != true || cfg["measure_ns"] == nil {
		t.Errorf("config %v", cfg)
	}
}

func TestReportTables(t *testing.T) {
	r := sampleReport()
	var text, md, svg bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario", "publish", "300 ns", "900 ns", "3.0x", "< 10.0 µs", "yes", "all targets met"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, text.String())
		}
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| publish | P99* | 300 ns | 900 ns |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if err := WritePlotSVG(&svg, r.Results); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "<polyline") || !strings.Contains(svg.String(), "99.9%") {
		t.Errorf("svg:\n%s", svg.String())
	}
	r.Verdicts[0].Met = false
	text.Reset()
	_ = r.WriteText(&text)
	if !strings.Contains(text.String(), "TARGET MISSED") {
		t.Errorf("a missed target reads:\n%s", text.String())
	}
}

// TestTopFunctions profiles a known hot function and reads it back.
func TestTopFunctions(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("cannot profile: %v", err)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	var x uint64
	for time.Now().Before(deadline) {
		x = burnCPU(x)
	}
	pprof.StopCPUProfile()
	top, err := TopFunctions(&buf, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) == 0 {
		t.Skip("no samples (machine too busy or profiling unavailable)")
	}
	found := false
	for _, f := range top {
		if strings.HasSuffix(f.Name, "burnCPU") {
			found = true
			if f.FlatPercent <= 0 || f.CumPercent < f.FlatPercent {
				t.Errorf("%+v", f)
			}
		}
	}
	if !found {
		t.Errorf("burnCPU not among %+v", top)
	}
	if _, err := TopFunctions(strings.NewReader("not a profile"), 5); err == nil {
		t.Error("garbage parsed as a profile")
	}
}

//go:noinline
func burnCPU(x uint64) uint64 {
	for i := 0; i < 100000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Measure: -1},
		{SteadyRate: -5},
		{Partitions: []int{0}},
		{Producers: []int{1000}},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Fatal(err)
	}
	d := zero.withDefaults()
	if d.Measure != time.Second || d.SteadyRate != 100_000 || len(d.Partitions) != 5 || d.Seed != 1 {
		t.Errorf("defaults %+v", d)
	}
	q := Config{Quick: true}.withDefaults()
	if q.Measure >= d.Measure || len(q.Partitions) >= len(d.Partitions) {
		t.Errorf("quick defaults %+v", q)
	}
}

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		only, name string
		want       bool
	}{
		{"", "anything", true},
		{"publish", "publish/1p/steady", true},
		{"publish", "subscribe/1p/steady", false},
		{"subscribe/1p", "subscribe/1p/steady", true},
		{"replay,alerts", "alerts/dispatch", true},
		{"replay", "throughput/1part/1p", false},
	} {
		if got := selected(c.only, c.name); got != c.want {
			t.Errorf("selected(%q, %q) = %v", c.only, c.name, got)
		}
	}
}

func TestRounds(t *testing.T) {
	r := NewRounds(1000, 500, 5) // rounds of 100 ns of stamps
	for stamp := int64(1000); stamp < 1500; stamp++ {
		v := int64(100)
		if stamp >= 1200 && stamp < 1300 { // one spoiled round
			v = 1_000_000
		}
		r.Record(stamp, v)
	}
	r.Record(0, 7)    // before the window: first round
	r.Record(9999, 7) // after it: last round
	p99s := r.P99s()
	if len(p99s) != 5 || p99s[2] < 990_000 || p99s[0] > 101 {
		t.Fatalf("round P99s %v", p99s)
	}
	if m := medianP99(p99s); m > 101 {
		t.Errorf("median P99 %d: one spoiled round moved it", m)
	}
	if all := r.All(); all.Count() != 502 || all.Quantile(99) < 990_000 {
		t.Errorf("whole window: %d values, P99 %d", all.Count(), all.Quantile(99))
	}
	f := Figure{Latency: &Percentiles{P99: 5}, RoundP99: p99s}
	if f.Value(MetricP99) != float64(medianP99(p99s)) {
		t.Errorf("headline %v", f.Value(MetricP99))
	}
	if medianP99(nil) != 0 || medianP99([]int64{0, 0}) != 0 {
		t.Error("median of nothing")
	}
	o := NewRounds(1000, 500, 5)
	o.Record(1000, 1)
	r.Merge(o)
	if r.All().Count() != 503 {
		t.Error("merge")
	}
}

// TestEmptyFigureIsNotMet: a latency figure with nothing in its window
// reads 0 ns, which must not pass a target; a rate over no events neither.
func TestEmptyFigureIsNotMet(t *testing.T) {
	empty := []Result{
		{Name: ResultPublishSteady, Metric: MetricP99, Figures: []Figure{{Impl: ImplKestrel, Latency: &Percentiles{}}}},
		{Name: ResultSubscribeSteady, Metric: MetricP99, Figures: []Figure{{Impl: ImplKestrel}}},
		{Name: ResultReplayJSON, Metric: MetricRate, Figures: []Figure{{Impl: ImplKestrel}}},
	}
	vs := Check(empty, SeedTargets())
	for _, v := range vs {
		if v.Met || !v.Empty || v.Missing {
			t.Errorf("%s: met %v, empty %v, missing %v; want an empty miss", v.Name, v.Met, v.Empty, v.Missing)
		}
		if !strings.Contains(v.String(), "NO DATA") {
			t.Errorf("%s: %q does not say there was no data", v.Name, v.String())
		}
	}
	if Passed(vs) {
		t.Error("a run with no data passed the gate")
	}
	if a := attemptOf(SeedTargets()[0], &empty[0].Figures[0]); a.Met || !a.Empty {
		t.Errorf("empty attempt: %+v", a)
	}
}

// allocSink keeps TestMeterCountsAllocs's objects on the heap.
var allocSink []*[64]byte

// TestMeterCountsAllocs: a cpuMeter counts the heap allocations made
// between its start and stop, and only those.
func TestMeterCountsAllocs(t *testing.T) {
	allocSink = make([]*[64]byte, 0, 1000)
	for range 100 { // before the meter: not counted
		allocSink = append(allocSink, new([64]byte))
	}
	m := startCPU()
	for range 500 {
		allocSink = append(allocSink, new([64]byte))
	}
	u := m.stop()
	allocSink = nil
	// The test binary's other goroutines may allocate a little meanwhile.
	if u.allocs < 500 || u.allocs > 550 {
		t.Fatalf("%d allocations counted, want 500", u.allocs)
	}
}
