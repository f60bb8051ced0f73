package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// funcSource is a Source made of a function.
type funcSource func(ctx context.Context, in Input) error

func (funcSource) Name() string                              { return "test" }
func (f funcSource) Run(ctx context.Context, in Input) error { return f(ctx, in) }

// copyRules copies the example rule packages named into a new directory.
func copyRules(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		src := filepath.Join("../examples/rules", name)
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"manifest.json", "rule.eql"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrNoRules) {
		t.Errorf("no rules: %v", err)
	}
	var re *RulesError
	bad := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bad, "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "r", "rule.eql"), []byte("process where ("), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{RulesDir: bad}); !errors.As(err, &re) {
		t.Errorf("bad rules: %v", err)
	}
	var se *StageError
	if _, err := New(Config{RulesDir: "../examples/rules", OutputsPath: filepath.Join(t.TempDir(), "missing.json")}); !errors.As(err, &se) || se.Stage != "outputs" {
		t.Errorf("missing outputs file: %v", err)
	}
	n, err := New(Config{RulesDir: "../examples/rules", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background(), funcSource(nil)); !errors.Is(err, ErrRunning) {
		t.Errorf("Run after Close: %v", err)
	}
}

// TestReloadUnderLoad publishes events from the source while the rules are
// reloaded again and again: every event is handled exactly once, by one
// rule set or another, the alerts of every set are counted, and, the
// rules being unchanged, their partial matches carry over: the alerts are
// those of a run without reloads, and no state is dropped.
func TestReloadUnderLoad(t *testing.T) {
	dir := copyRules(t, "credential_access", "curl_pipe_shell")
	writeRule(t, dir, "ab", "ab-1", `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`)
	// 500 users each start a sequence, then, 500 events later, finish
	// it: partial matches span every reload.
	evs := demo.GenerateEvents(7, 12000, nil)
	reg := rule.DefaultRegistry()
	for i := range evs {
		if i%2 == 1 {
			continue // the generator's events, for the other rules
		}
		name := []string{"a", "b"}[(i/1000)%2]
		e, err := schema.NewBuilder(reg).ID(evs[i].ID).TypeName("process_exec").Mono(evs[i].TsMono).Entity(evs[i].Entity).
			Path("user.id", value.StringValue(strconv.Itoa(i/2%500))).Path("process.name", value.StringValue(name)).Build()
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = e
	}
	run := func(reloads int) (Stats, []string) {
		var out bytes.Buffer
		n, err := New(Config{RulesDir: dir, Stdout: &out, Bus: engine.Config{Partitions: 4}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		src := funcSource(func(ctx context.Context, in Input) error {
			in.Ready()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range reloads {
					if err := n.Reload(); err != nil {
						t.Error(err)
					}
					time.Sleep(time.Millisecond)
				}
			}()
			for i := range evs {
				if err := in.Bus.Publish(&evs[i]); err != nil {
					return err
				}
			}
			wg.Wait()
			return nil
		})
		if err := n.Run(context.Background(), src); err != nil {
			t.Fatal(err)
		}
		return n.Stats(), alertIDs(t, out.Bytes())
	}
	st, got := run(10)
	if st.Detect.Events != uint64(len(evs)) || st.Reloads != 10 || st.LostEvents() != 0 {
		t.Fatalf("events %d of %d, reloads %d, lost %d", st.Detect.Events, len(evs), st.Reloads, st.LostEvents())
	}
	if tot := st.Bus.Total(); tot.Delivered != tot.Published || tot.Queued != 0 {
		t.Fatalf("bus %+v", tot)
	}
	if len(st.Detect.Rules) != 3 || st.Detect.Evicted.Reload != 0 {
		t.Fatalf("rules %+v", st.Detect.Rules)
	}
	ref, want := run(0)
	if len(want) == 0 || !slices.Equal(got, want) || st.Detect.Partials != ref.Detect.Partials {
		t.Fatalf("%d alerts and %d partials with reloads, %d and %d without", len(got), st.Detect.Partials, len(want), ref.Detect.Partials)
	}
}

// alertIDs returns the sorted alert ids of JSON lines of alerts.
func alertIDs(t *testing.T, b []byte) []string {
	t.Helper()
	var ids []string
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var a struct {
			ID string `json:"alert_id"`
		}
		if err := json.Unmarshal(line, &a); err != nil || a.ID == "" {
			t.Fatalf("alert %q: %v", line, err)
		}
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

// writeRule writes a rule package (manifest and rule.eql) into dir/name.
func writeRule(t *testing.T, dir, name, id, eql string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	m := `{"rule_id": "` + id + `", "rule_name": "` + name + `", "severity": "high"}`
	if err := os.WriteFile(filepath.Join(dir, name, "manifest.json"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "rule.eql"), []byte(eql), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsSequences: a sequence half matched before a reload
// completes after it when its rule is unchanged; a changed rule's half
// match is dropped, counted as a reload eviction in Stats and /metrics.
func TestReloadKeepsSequences(t *testing.T) {
	const ab = `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`
	dir := t.TempDir()
	writeRule(t, dir, "kept", "kept-1", ab)
	writeRule(t, dir, "changed", "changed-1", ab)
	var out bytes.Buffer
	n, err := New(Config{RulesDir: dir, Stdout: &out, Bus: engine.Config{Partitions: 3}})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id uint64, name string) *schema.Event {
		b := schema.NewBuilder(n.Registry()).ID(id).TypeName("process_exec").Mono(schema.TimestampMono(id*uint64(time.Second))).
			Entity(schema.EntityKeyFrom64(id)).Path("user.id", value.StringValue("5")).Path("process.name", value.StringValue(name))
		e, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return &e
	}
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		if err := in.Bus.Publish(mk(1, "a")); err != nil {
			return err
		}
		for n.Stats().Detect.Partials < 2 { // both rules hold a half match
			time.Sleep(time.Millisecond)
		}
		writeRule(t, dir, "changed", "changed-1", ab+` with maxspan=1h`)
		if err := n.Reload(); err != nil {
			return err
		}
		return in.Bus.Publish(mk(2, "b"))
	})
	h := Handler(n)
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := n.Stats()
	byID := map[string]detect.RuleStats{}
	for _, r := range st.Detect.Rules {
		byID[r.ID] = r
	}
	if k, c := byID["kept-1"], byID["changed-1"]; k.Alerts != 1 || k.Evicted.Total() != 0 || c.Alerts != 0 || c.Evicted.Reload != 1 || c.Evicted.Total() != 1 {
		t.Fatalf("kept %+v\nchanged %+v", k, c)
	}
	if st.Detect.Partials != 0 || st.Detect.Evicted.Reload != 1 || len(alertIDs(t, out.Bytes())) != 1 {
		t.Fatalf("detect %+v\n%s", st.Detect, out.Bytes())
	}
	mf := scrape(t, h)
	if v, ok := metric(mf, "kestrel_rule_evictions_total", "rule", "changed-1", "cause", "reload"); !ok || v != 1 {
		t.Errorf("reload evictions in /metrics: %v %v", v, ok)
	}
	if v, ok := metric(mf, "kestrel_rule_alerts_total", "rule", "kept-1"); !ok || v != 1 {
		t.Errorf("alerts in /metrics: %v %v", v, ok)
	}
}

// TestReloadFailureKeepsRules: a reload of a broken directory fails with
// the reason and the old rules keep running.
func TestReloadFailureKeepsRules(t *testing.T) {
	dir := copyRules(t, "credential_access")
	n, err := New(Config{RulesDir: dir, Stdout: io.Discard, Bus: engine.Config{Partitions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if err := os.WriteFile(filepath.Join(dir, "credential_access", "rule.eql"), []byte("sequence by"), 0o644); err != nil {
		t.Fatal(err)
	}
	var re *RulesError
	if err := n.Reload(); !errors.As(err, &re) {
		t.Fatalf("reload: %v", err)
	}
	st := n.Stats()
	if st.ReloadFailures != 1 || st.Reloads != 0 || len(st.Detect.Rules) != 1 {
		t.Fatalf("%+v", st)
	}
}

// TestHandleAllocs: the node's per-batch wrapper (pprof labels, the
// detector's pointer) allocates nothing.
func TestHandleAllocs(t *testing.T) {
	var seen atomic.Int64
	n, err := New(Config{Handler: func(_ int, b []*schema.Event) { seen.Add(int64(len(b))) }, Bus: engine.Config{Partitions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	evs := demo.GenerateEvents(1, 4, nil)
	batch := []*schema.Event{&evs[0], &evs[1]}
	if a := testing.AllocsPerRun(100, func() { n.handle(1, batch) }); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
}

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

func metric(mf map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := mf[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		if c := m.GetCounter(); c != nil {
			return c.GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func status(h http.Handler, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code
}

// TestEndpoints: /readyz flips when the source is connected and back when
// the node stops; /metrics matches Stats, partition by partition and rule
// by rule; pprof answers.
func TestEndpoints(t *testing.T) {
	n, err := New(Config{RulesDir: "../examples/rules", Stdout: io.Discard, Bus: engine.Config{Partitions: 3}})
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(n)
	if c := status(h, "/readyz"); c != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before Run: %d", c)
	}
	if c := status(h, "/healthz"); c != 200 {
		t.Fatalf("/healthz: %d", c)
	}
	connected, proceed := make(chan struct{}), make(chan struct{})
	rp := &ReplaySource{Path: "../examples/attack.jsonl"}
	src := funcSource(func(ctx context.Context, in Input) error {
		if status(h, "/readyz") != http.StatusServiceUnavailable {
			t.Error("ready before the source connected")
		}
		ready := in.Ready
		in.Ready = func() { ready(); close(connected); <-proceed }
		return rp.Run(ctx, in)
	})
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background(), src) }()
	<-connected
	if c := status(h, "/readyz"); c != 200 {
		t.Errorf("/readyz once connected: %d", c)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := status(h, "/readyz"); c != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the stop: %d", c)
	}
	if c := status(h, "/debug/pprof/"); c != 200 {
		t.Errorf("pprof: %d", c)
	}
	st := n.Stats()
	mf := scrape(t, h)
	check := func(name string, want uint64, labels ...string) {
		t.Helper()
		got, ok := metric(mf, name, labels...)
		if !ok || got != float64(want) {
			t.Errorf("%s%q = %v (%v), Stats say %d", name, labels, got, ok, want)
		}
	}
	for i, p := range st.Bus.Partitions {
		l := []string{"partition", string(rune('0' + i))}
		check("kestrel_bus_published_total", p.Published, l...)
		check("kestrel_bus_delivered_total", p.Delivered, l...)
		check("kestrel_bus_dropped_total", p.Dropped, l...)
		check("kestrel_bus_timed_out_total", p.TimedOut, l...)
		check("kestrel_bus_queue_depth", p.Queued, l...)
		if st.Lag[i] != 0 { // stopped: every queue is empty
			t.Errorf("partition %d lags %v", i, st.Lag[i])
		}
		check("kestrel_bus_lag_seconds", 0, l...)
	}
	check("kestrel_detect_events_total", st.Detect.Events)
	check("kestrel_detect_routed_copies_total", st.Detect.Copies)
	for _, r := range st.Detect.Rules {
		check("kestrel_rule_alerts_total", r.Alerts, "rule", r.ID)
	}
	for _, d := range st.Sink.Destinations {
		check("kestrel_output_delivered_total", d.Delivered, "output", d.Name)
		check("kestrel_output_dropped_total", d.Dropped, "output", d.Name)
	}
	if st.Replay != nil {
		t.Errorf("a wrapped source's stats: %+v", st.Replay)
	}
	if rs := rp.Stats(); rs.Published != 27 {
		t.Errorf("replay %+v", rs)
	}
	if st.Detect.Events != 27 || st.Detect.Alerts != 6 {
		t.Fatalf("stats %+v", st.Detect)
	}
}

// TestReplaySourceReader: a log held in memory replays as its file does.
func TestReplaySourceReader(t *testing.T) {
	b, err := os.ReadFile("../examples/attack.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{RulesDir: "../examples/rules", Stdout: io.Discard, Bus: engine.Config{Partitions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	src := &ReplaySource{Path: "attack (in memory)", Reader: bytes.NewReader(b)}
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := n.Stats()
	if st.Replay == nil || st.Replay.Published != 27 || st.Detect.Events != 27 || st.Detect.Alerts != 6 {
		t.Fatalf("replay %+v, detect %+v", st.Replay, st.Detect)
	}
	bad := &ReplaySource{Path: "garbage", Reader: strings.NewReader("{not json\n")}
	n, err = New(Config{RulesDir: "../examples/rules", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "garbage") {
		t.Fatalf("bad log: %v", err)
	}
}
