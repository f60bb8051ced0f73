package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/kestrel-sec/kestrel/bench"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBadUsageExits2(t *testing.T) {
	for _, args := range [][]string{
		{"-no-such-flag"},
		{"-measure", "soon"},
		{"-measure", "-1s"},
		{"-latency-procs", "-2"},
		{"extra-argument"},
		{"-plot", "out.png"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, false); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: no message on stderr", args)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr, false); code != exitMet || !strings.Contains(stderr.String(), "-quick") {
		t.Errorf("-h: exit %d, usage %q", code, stderr.String())
	}
}

// TestRunWritesReports runs one cheap scenario with every output and
// profile flag, and checks what lands on disk.
func TestRunWritesReports(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-quick", "-only", "idle", "-measure", "100ms",
		"-json", path("r.json"), "-plot", path("p.svg"), "-markdown",
		"-cpuprofile", path("cpu.pprof"), "-memprofile", path("mem.pprof"),
		"-mutexprofile", path("mutex.pprof"), "-blockprofile", path("block.pprof"),
		"-pprof", "127.0.0.1:0", "-trace", path("run.trace"),
	}, &stdout, &stderr, true)
	if code != exitMet {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "| CPU while idle, 2 partitions, GOMAXPROCS 1 | CPU |") {
		t.Errorf("markdown table:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "measuring idle/cpu") {
		t.Errorf("no progress on a terminal: %q", stderr.String())
	}
	var rep struct {
		Machine struct{ Cores int }     `json:"machine"`
		Results []struct{ Name string } `json:"results"`
	}
	b, err := os.ReadFile(path("r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil || rep.Machine.Cores == 0 || len(rep.Results) != 2 || rep.Results[0].Name != "idle/cpu/gomaxprocs1" {
		t.Errorf("json report %s (%v)", b, err)
	}
	for _, f := range []string{"p.svg", "cpu.pprof", "mem.pprof", "mutex.pprof", "block.pprof", "run.trace"} {
		if st, err := os.Stat(path(f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestNoProgressWithoutTerminal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-quick", "-only", "idle", "-measure", "50ms"}, &stdout, &stderr, false); code != exitMet {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr not empty: %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), "all targets met") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// A run that misses a seed target exits 1; one that misses only a stretch
// goal exits 0.
func TestForcedMissExits1(t *testing.T) {
	res := []bench.Result{{Name: bench.ResultPublishSteady, Metric: bench.MetricP99,
		Figures: []bench.Figure{{Impl: bench.ImplKestrel, Latency: &bench.Percentiles{P99: 50_000}}}}}
	missed := &bench.Report{Results: res, Verdicts: bench.Check(res, bench.SeedTargets()[:1])}
	if code := exitCode(missed); code != exitMissed {
		t.Errorf("missed target: exit %d, want %d", code, exitMissed)
	}
	res[0].Figures[0].Latency.P99 = 500 // meets 10 µs, misses the 250 ns goal
	goalOnly := &bench.Report{Results: res, Verdicts: bench.Check(res, append(bench.SeedTargets()[:1], bench.StretchGoals()[:1]...))}
	if code := exitCode(goalOnly); code != exitMet {
		t.Errorf("missed goal only: exit %d, want %d", code, exitMet)
	}
}
