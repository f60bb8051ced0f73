package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The tests here run the real binary, built once, to send it signals.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// binary builds cmd/kestrel into a temporary directory, once per test
// process.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kestrel-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kestrel")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// opsClient keeps no idle connections, which goleak would see.
var opsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// proc is a started kestrel.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	addr           string
	done           chan error
}

// freeAddr returns a loopback address nothing listens on (now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the binary with args plus -listen on a free loopback port.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, addr: freeAddr(t), done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t), append(args, "-listen", p.addr)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) get(path string) (int, string) {
	resp, err := opsClient.Get("http://" + p.addr + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers 200.
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := p.get("/readyz"); code == 200 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never ready\nstderr:\n%s", p.stderr.String())
}

// metrics scrapes /metrics with the Prometheus text parser.
func (p *proc) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := p.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// sum adds the values of every series of a family.
func sum(mf map[string]*dto.MetricFamily, name string) float64 {
	var s float64
	if f := mf[name]; f != nil {
		for _, m := range f.Metric {
			s += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return s
}

// waitMetric polls /metrics until name sums to at least want.
func (p *proc) waitMetric(t *testing.T, name string, want float64) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if mf := p.metrics(t); sum(mf, name) >= want {
			return mf
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never reached %v\nstderr:\n%s", name, want, p.stderr.String())
	return nil
}

// stop sends sig and returns the exit status.
func (p *proc) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after %v\nstderr:\n%s", sig, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// pacedLog writes n generated events spread evenly over span of recorded
// time, so that -speed 1 replays them for span.
func pacedLog(t *testing.T, n int, span time.Duration) string {
	t.Helper()
	evs := demo.GenerateEvents(3, n, rule.DefaultRegistry())
	for i := range evs {
		evs[i].TsMono = schema.TimestampMono(uint64(i) * uint64(span) / uint64(n))
	}
	path := filepath.Join(t.TempDir(), "paced.kbin")
	writeLog(t, path, evs)
	return path
}

// TestBinaryReplaySIGTERM: a SIGTERM in the middle of a paced replay stops
// the input, drains, prints the summary with where the input stopped and
// exits 0: every event read was handled. Before it, /readyz is 200 and
// /metrics agrees with itself: events read = published = detected.
func TestBinaryReplaySIGTERM(t *testing.T) {
	t.Parallel()
	log := pacedLog(t, 20000, 20*time.Second)
	p := start(t, "run", "-rules", exampleRules, "-log", log, "-speed", "1", "-partitions", "2", "-log-format", "json", "-log-level", "info")
	p.waitReady(t)
	mf := p.waitMetric(t, "kestrel_detect_events_total", 100)
	if sum(mf, "kestrel_bus_published_total") < sum(mf, "kestrel_detect_events_total") {
		t.Errorf("bus published %v < detected %v", sum(mf, "kestrel_bus_published_total"), sum(mf, "kestrel_detect_events_total"))
	}
	if code, _ := p.get("/debug/pprof/goroutine?debug=1"); code != 200 {
		t.Errorf("pprof: %d", code)
	}
	if code := p.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderr.String())
	}
	se := p.stderr.String()
	if !strings.Contains(se, "interrupted: input stopped after") || !strings.Contains(se, "drops: events 0 (bus full), alerts 0") {
		t.Fatalf("summary:\n%s", se)
	}
	var read, detected int
	if _, err := fmt.Sscanf(se[strings.Index(se, "kestrel: "+log+": "):], "kestrel: "+log+": %d events", &detected); err != nil {
		t.Fatalf("summary: %v\n%s", err, se)
	}
	read = detected
	if read == 0 || read >= 20000 {
		t.Fatalf("%d events: the replay was not interrupted in the middle\n%s", read, se)
	}
	if !strings.Contains(se, `"msg":"node: source stopped"`) {
		t.Errorf("no JSON log line:\n%s", se)
	}
}

// TestBinaryReloadUnderLoad sends SIGHUP again and again during a paced
// replay: the rules reload, the replay reads every event, detection
// handles every one and nothing is lost. A reload of a broken directory
// then fails and keeps the old rules.
func TestBinaryReloadUnderLoad(t *testing.T) {
	t.Parallel()
	const n = 6000
	log := pacedLog(t, n, 1500*time.Millisecond)
	dir := t.TempDir()
	for _, r := range []string{"credential_access", "curl_pipe_shell"} {
		if err := os.CopyFS(filepath.Join(dir, r), os.DirFS(filepath.Join(exampleRules, r))); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t, "run", "-rules", dir, "-log", log, "-speed", "1", "-partitions", "3")
	p.waitReady(t)
	for range 5 {
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.waitMetric(t, "kestrel_rule_reloads_total", 1)
	// Break the rules: the next reload fails and says why.
	if err := os.WriteFile(filepath.Join(dir, "curl_pipe_shell", "rule.eql"), []byte("sequence by"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("replay did not end\n%s", p.stderr.String())
	}
	se := p.stderr.String()
	if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
		t.Fatalf("exit %d\n%s", code, se)
	}
	want := fmt.Sprintf("%d events in", n)
	if !strings.Contains(se, want) || !strings.Contains(se, "drops: events 0 (bus full), alerts 0") || !strings.Contains(se, "rules: reloaded") {
		t.Fatalf("summary lacks %q, drops or reloads:\n%s", want, se)
	}
	if !strings.Contains(se, ", reload 0;") { // the rules did not change: their partial matches carried over
		t.Errorf("partial matches dropped by a reload of unchanged rules:\n%s", se)
	}
	if !strings.Contains(se, "reload failed, old rules kept") && !strings.Contains(se, "1 reloads failed") {
		t.Logf("the failing reload came after the end of the replay:\n%s", se)
	}
}

// TestBinaryKafkaSIGTERM: a node in a consumer group, sent SIGTERM once
// it handled the topic, commits, flushes and exits 0 with the golden
// alerts; a second node of the group then finds nothing left to read.
func TestBinaryKafkaSIGTERM(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 4, "events")
	brokers := strings.Join(c.ListenAddrs(), ",")
	if code, _, se := kestrel(t, "forward", "-log", exampleLog, "-brokers", brokers, "-topic", "events", "-q"); code != exitOK {
		t.Fatalf("forward: exit %d\n%s", code, se)
	}
	args := []string{"run", "-brokers", brokers, "-topic", "events", "-group", "sigterm", "-dlq-topic", "-",
		"-rules", exampleRules, "-commit-interval", "50ms"}
	p := start(t, args...)
	p.waitReady(t)
	p.waitMetric(t, "kestrel_detect_events_total", 27)
	mf := p.waitMetric(t, "kestrel_output_delivered_total", 6) // the golden alerts: the node is idle now
	if code := p.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderr.String())
	}
	se := p.stderr.String()
	checkSummary(t, mf, se)
	if !strings.Contains(se, "27 events handled") || !strings.Contains(se, "interrupted: input stopped") || strings.Contains(se, "commits 0 ") {
		t.Fatalf("summary:\n%s", se)
	}
	golden, err := os.ReadFile(exampleDir + "/alerts.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sortedAlertIDs(t, p.stdout.String()), sortedAlertIDs(t, string(golden)); !slices.Equal(got, want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}

	// The offsets were committed: the group's next member reads nothing.
	q := start(t, args...)
	q.waitReady(t)
	time.Sleep(300 * time.Millisecond)
	if code := q.stop(t, syscall.SIGINT); code != exitOK || !strings.Contains(q.stderr.String(), "0 events handled") {
		t.Fatalf("second member: exit %d\n%s", code, q.stderr.String())
	}
}
