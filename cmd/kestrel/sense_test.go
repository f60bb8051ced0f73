package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer written by the command and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls until s() contains want, for at most 10 s.
func waitFor(t *testing.T, what string, s func() string, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s(), want) {
			return
		}
	}
	t.Fatalf("no %q in %s:\n%s", want, what, s())
}

// TestSenseRecordReplay runs kestrel sense live, with a rule that fires on
// a marked /bin/true, records the events, and replays the recording with
// kestrel run: the same alerts, byte for byte.
func TestSenseRecordReplay(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("kestrel sense needs Linux and root (or CAP_BPF+CAP_PERFMON): skipped")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("the kernel has no BTF: skipped")
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	p := filepath.Join(rules, "marked_true")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(p, "manifest.json"), `{"metadata": {"rule_id": "marked-true", "rule_name": "marked true", "severity": "low"}}`)
	writeFile(t, filepath.Join(p, "rule.eql"), `sequence by process.entity_id
  [process where event.action == "exec" and process.name == "true" and process.command_line : "*kestrel-sense-marker*"]
  [process where event.action == "exit" and process.exit_code == 0]
with maxspan=30s`)
	rec := filepath.Join(dir, "live.kbin")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sense", "-rules", rules, "-record", rec, "-partitions", "2", "-no-files"}, &stdout, &stderr, false)
	}()
	waitFor(t, "stderr", stderr.String, "sensing")
	if err := exec.Command("/bin/true", "kestrel-sense-marker").Run(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alerts", stdout.String, `"marked-true"`)
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("sense: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "kestrel: live sensor:") || !strings.Contains(stderr.String(), "marked-true") {
		t.Errorf("summary:\n%s", stderr.String())
	}
	live := sortedLines(stdout.String())

	code, replayed, errs := kestrel(t, "run", "-rules", rules, "-log", rec, "-partitions", "1", "-q")
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, errs)
	}
	if got := sortedLines(replayed); strings.Join(got, "\n") != strings.Join(live, "\n") {
		t.Errorf("replayed alerts differ from live ones:\nlive:\n%s\nreplayed:\n%s", strings.Join(live, "\n"), strings.Join(got, "\n"))
	}
}
