package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kfake"
)

// env is a lookupEnv over m.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// newCluster starts an in-process Kafka cluster with topic (partitions),
// closed when the test ends.
func newCluster(t testing.TB, brokers int, partitions int32, topic string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.AllowAutoTopicCreation(), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestCommands forwards a recorded log with "kestrel forward" and reads it
// back with "kestrel run -brokers" (brokers from the environment): every
// event comes out as a JSON line.
func TestCommands(t *testing.T) {
	c := newCluster(t, 2, 4, "cmd")
	brokers := strings.Join(c.ListenAddrs(), ",")
	sent := demo.GenerateEvents(1, 500, nil)
	for _, ext := range []string{".kbin", ".jsonl"} {
		path := filepath.Join(t.TempDir(), "attack"+ext)
		writeLog(t, path, sent)
		var stderr bytes.Buffer
		code := runForward(context.Background(), []string{"-log", path, "-brokers", brokers, "-topic", "cmd",
			"-format", map[string]string{".kbin": "kbin", ".jsonl": "jsonl"}[ext]}, &stderr, env(nil))
		if code != exitOK || !strings.Contains(stderr.String(), "delivered 500 events") {
			t.Fatalf("forward %s: exit %d\n%s", ext, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	code := runKafka(context.Background(), []string{"-kafka-brokers", "", "-topic", "cmd", "-group", "cmd-test", "-partitions", "2",
		"-max-events", "1000", "-dlq-topic", kafka.NoDeadLetter}, &stdout, &stderr, env(map[string]string{brokersEnv: brokers}))
	if code != exitOK {
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
	if !strings.Contains(stderr.String(), "1000 events handled") {
		t.Fatalf("summary:\n%s", stderr.String())
	}
}

func TestCommandUsage(t *testing.T) {
	log := filepath.Join(t.TempDir(), "x.jsonl")
	writeLog(t, log, demo.GenerateEvents(1, 3, nil))
	fwd := func(want int, args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		if code := runForward(context.Background(), args, &stderr, env(nil)); code != want {
			t.Fatalf("forward %q: exit %d, want %d\n%s", args, code, want, stderr.String())
		}
	}
	fwd(exitUsage, "-brokers", "b:1")
	fwd(exitUsage, "-log", log)
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "extra")
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "-speed", "-1")
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "-format", "avro")
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "-acks", "2")
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "-topic", "a b")
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "-sasl", "PLAIN", "-sasl-user", "u") // no password in the environment
	fwd(exitUsage, "-log", log, "-brokers", "b:1", "-log-format", "xml")
	fwd(exitUsage, "-nope")
	fwd(exitFail, "-log", filepath.Join(t.TempDir(), "missing.kbin"), "-brokers", "127.0.0.1:1", "-q")

	run := func(args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := runKafka(context.Background(), args, &stdout, &stderr, env(nil)); code != exitUsage {
			t.Fatalf("run %q: exit %d, want %d\n%s", args, code, exitUsage, stderr.String())
		}
	}
	run("-topic", "t")
	run("-brokers", "b:1", "-start", "middle")
	run("-brokers", "b:1", "-max-events", "-1")
	run("-brokers", "b:1", "-partitions", "0")
	run("-brokers", "b:1", "arg")
	run("-brokers", "b:1", "-group", " g")
	run("-kafka-brokers", "b:1", "-log-level", "loud")
}

// TestInsecureSASLFlag: -sasl PLAIN without TLS is refused unless
// -kafka-insecure-sasl is given; -tls makes it acceptable too.
func TestInsecureSASLFlag(t *testing.T) {
	validate := func(args ...string) error {
		t.Helper()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c := addConnFlags(fs)
		if err := fs.Parse(append([]string{"-brokers", "b:1", "-sasl", "PLAIN", "-sasl-user", "u"}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := c.config(env(map[string]string{kafka.DefaultPasswordEnv: "p"}), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Validate()
	}
	if err := validate(); !errors.Is(err, kafka.ErrInsecureSASL) {
		t.Errorf("no TLS: %v, want ErrInsecureSASL", err)
	}
	if err := validate("-kafka-insecure-sasl"); err != nil {
		t.Errorf("-kafka-insecure-sasl: %v", err)
	}
	if err := validate("-tls"); err != nil {
		t.Errorf("-tls: %v", err)
	}

	log := filepath.Join(t.TempDir(), "x.jsonl")
	writeLog(t, log, demo.GenerateEvents(1, 3, nil))
	var stderr bytes.Buffer
	code := runForward(context.Background(), []string{"-log", log, "-brokers", "b:1", "-sasl", "PLAIN", "-sasl-user", "u"},
		&stderr, env(map[string]string{kafka.DefaultPasswordEnv: "p"}))
	if code != exitUsage || !strings.Contains(stderr.String(), "-kafka-insecure-sasl") {
		t.Errorf("forward, PLAIN without TLS: exit %d, want %d naming -kafka-insecure-sasl:\n%s", code, exitUsage, stderr.String())
	}
}

// TestVersion: -version prints the module's version line.
func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-version"}, &stdout, &stderr, false); code != exitOK || !strings.HasPrefix(stdout.String(), "kestrel ") {
		t.Fatalf("exit %d, %q %q", code, stdout.String(), stderr.String())
	}
}
