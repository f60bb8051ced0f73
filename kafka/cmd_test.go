package kafka

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
)

// writeLog records evs in a log at path (format by extension).
func writeLog(t testing.TB, path string, evs []schema.Event) {
	t.Helper()
	w, err := replay.Create(path, replay.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCommands forwards a recorded log with "kestrel forward" and reads it
// back with "kestrel run -kafka-brokers": every event comes out as a JSON
// line.
func TestCommands(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 2, 4, "cmd")
	brokers := strings.Join(c.ListenAddrs(), ",")
	sent := events(500)
	for _, ext := range []string{".kbin", ".jsonl"} {
		path := filepath.Join(t.TempDir(), "attack"+ext)
		writeLog(t, path, sent)
		var stderr bytes.Buffer
		code := forwardMain(context.Background(), []string{"-log", path, "-brokers", brokers, "-topic", "cmd",
			"-format", map[string]string{".kbin": "kbin", ".jsonl": "jsonl"}[ext]}, &stderr, env(nil))
		if code != ExitOK || !strings.Contains(stderr.String(), "delivered 500 events") {
			t.Fatalf("forward %s: exit %d\n%s", ext, code, stderr.String())
		}
		t.Logf("%s", stderr.String())
	}

	// Brokers from the environment; the group reads both copies.
	var stdout, stderr bytes.Buffer
	cmd := RunCommand{LookupEnv: env(map[string]string{BrokersEnv: brokers})}
	code := cmd.Main(context.Background(), []string{"-topic", "cmd", "-group", "cmd-test", "-partitions", "2",
		"-max-events", "1000", "-dlq-topic", NoDeadLetter}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	seen := map[uint64]int{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var ev schema.Event
		if err := ev.UnmarshalJSON(sc.Bytes()); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seen[ev.ID]++
	}
	if len(seen) != len(sent) {
		t.Fatalf("run printed %d distinct events, want %d", len(seen), len(sent))
	}
	for id, n := range seen {
		if n != 2 {
			t.Fatalf("event %d printed %d times, want 2 (forwarded twice)", id, n)
		}
	}
	if !strings.Contains(stderr.String(), "1000 events handled") {
		t.Fatalf("summary:\n%s", stderr.String())
	}
}

// TestRunCommandHooks wires a caller's flags and handler into "kestrel run",
// as cmd/kestrel does with detection.
func TestRunCommandHooks(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "hooks")
	cfg := testConfig(t, c, "hooks")
	forward(t, cfg, events(100))
	var rules *string
	var handled atomic.Int64
	stopped := false
	cmd := RunCommand{
		Flags: func(fs *flag.FlagSet) { rules = fs.String("rules", "", "rule packages") },
		Handler: func(ctx context.Context, env RunEnv) (engine.Handler, func(context.Context) error, error) {
			if *rules != "dir" || env.Bus.Partitions() != 3 || env.Kafka.Topic != "hooks" || env.Kafka.AlertTopic != DefaultAlertTopic {
				t.Errorf("env: rules %q, %d partitions, %+v", *rules, env.Bus.Partitions(), env.Kafka)
			}
			return func(_ int, batch []*schema.Event) { handled.Add(int64(len(batch))) },
				func(context.Context) error { stopped = true; return nil }, nil
		},
	}
	var stdout, stderr bytes.Buffer
	code := cmd.Main(context.Background(), []string{"-kafka-brokers", strings.Join(c.ListenAddrs(), ","), "-topic", "hooks",
		"-rules", "dir", "-partitions", "3", "-max-events", "100", "-q", "-dlq-topic", "-"}, &stdout, &stderr)
	if code != ExitOK || handled.Load() != 100 || !stopped || stdout.Len() != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d, handled %d, stopped %v, stdout %q, stderr %q", code, handled.Load(), stopped, stdout.String(), stderr.String())
	}
}

func TestCommandUsage(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "x.jsonl")
	writeLog(t, log, events(3))
	fwd := func(want int, args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		if code := forwardMain(context.Background(), args, &stderr, env(nil)); code != want {
			t.Fatalf("forward %q: exit %d, want %d\n%s", args, code, want, stderr.String())
		}
	}
	fwd(ExitUsage, "-brokers", "b:1")
	fwd(ExitUsage, "-log", log)
	fwd(ExitUsage, "-log", log, "-brokers", "b:1", "extra")
	fwd(ExitUsage, "-log", log, "-brokers", "b:1", "-speed", "-1")
	fwd(ExitUsage, "-log", log, "-brokers", "b:1", "-format", "avro")
	fwd(ExitUsage, "-log", log, "-brokers", "b:1", "-acks", "2")
	fwd(ExitUsage, "-log", log, "-brokers", "b:1", "-topic", "a b")
	fwd(ExitUsage, "-log", log, "-brokers", "b:1", "-sasl", "PLAIN", "-sasl-user", "u") // no password in the environment
	fwd(ExitUsage, "-nope")
	fwd(ExitFail, "-log", filepath.Join(t.TempDir(), "missing.kbin"), "-brokers", "127.0.0.1:1", "-q")

	run := func(args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := RunCommand{LookupEnv: env(nil)}
		if code := cmd.Main(context.Background(), args, &stdout, &stderr); code != ExitUsage {
			t.Fatalf("run %q: exit %d, want %d\n%s", args, code, ExitUsage, stderr.String())
		}
	}
	run("-topic", "t")
	run("-kafka-brokers", "b:1", "-start", "middle")
	run("-kafka-brokers", "b:1", "-max-events", "-1")
	run("-kafka-brokers", "b:1", "-partitions", "0")
	run("-kafka-brokers", "b:1", "arg")
	run("-kafka-brokers", "b:1", "-group", " g")
}

// A Handler that returns no handler (and no error) gets the printer, not a
// nil handler on the workers.
func TestRunCommandNilHandler(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "nilhandler")
	forward(t, testConfig(t, c, "nilhandler"), events(10))
	var stdout, stderr bytes.Buffer
	cmd := RunCommand{Handler: func(context.Context, RunEnv) (engine.Handler, func(context.Context) error, error) {
		return nil, nil, nil
	}}
	code := cmd.Main(context.Background(), []string{"-kafka-brokers", strings.Join(c.ListenAddrs(), ","), "-topic", "nilhandler",
		"-group", "nil", "-max-events", "10", "-dlq-topic", NoDeadLetter, "-q"}, &stdout, &stderr)
	if code != ExitOK || strings.Count(stdout.String(), `"event_id"`) != 10 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}

// TestInsecureSASLFlag: -sasl PLAIN without TLS is refused unless
// -kafka-insecure-sasl is given; -tls makes it acceptable too.
func TestInsecureSASLFlag(t *testing.T) {
	t.Parallel()
	validate := func(args ...string) error {
		t.Helper()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c := addConnFlags(fs, "brokers")
		if err := fs.Parse(append([]string{"-brokers", "b:1", "-sasl", "PLAIN", "-sasl-user", "u"}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := c.config(env(map[string]string{DefaultPasswordEnv: "p"}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Validate()
	}
	if err := validate(); !errors.Is(err, ErrInsecureSASL) {
		t.Errorf("no TLS: %v, want ErrInsecureSASL", err)
	}
	if err := validate("-kafka-insecure-sasl"); err != nil {
		t.Errorf("-kafka-insecure-sasl: %v", err)
	}
	if err := validate("-tls"); err != nil {
		t.Errorf("-tls: %v", err)
	}

	log := filepath.Join(t.TempDir(), "x.jsonl")
	writeLog(t, log, events(3))
	var stderr bytes.Buffer
	code := forwardMain(context.Background(), []string{"-log", log, "-brokers", "b:1", "-sasl", "PLAIN", "-sasl-user", "u"},
		&stderr, env(map[string]string{DefaultPasswordEnv: "p"}))
	if code != ExitUsage || !strings.Contains(stderr.String(), "-kafka-insecure-sasl") {
		t.Errorf("forward, PLAIN without TLS: exit %d, want %d naming -kafka-insecure-sasl:\n%s", code, ExitUsage, stderr.String())
	}
}
