package kafka

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kfake"
)

// kcat runs kcat (librdkafka's command-line client, an implementation
// independent of franz-go) with args and stdin, and returns its stdout.
func kcat(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestKcatInterop checks the wire format against an independent client:
// kcat produces JSON-lines events (with and without the format header) that
// a Source consumes, and consumes the records a Forwarder produced.
func TestKcatInterop(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not installed (Debian package kcat; .ci/run installs it): skipping the interoperability test")
	}
	t.Parallel()
	c := newCluster(t, 2, 3, "from-kcat", kfake.SeedTopics(3, "to-kcat", "to-kcat-bin"))
	brokers := strings.Join(c.ListenAddrs(), ",")

	// kcat → Source: one event per record, keyed by entity.
	sent := events(300)
	var in [2]bytes.Buffer
	for i := range sent {
		ev := &sent[i]
		b := &in[i%2]
		b.WriteString(ev.Entity.String())
		b.WriteByte('\t')
		b.Write(ev.AppendJSON(nil))
		b.WriteByte('\n')
	}
	kcat(t, in[0].Bytes(), "-b", brokers, "-t", "from-kcat", "-P", "-K", "\t", "-H", HeaderFormat+"=jsonl/1")
	kcat(t, in[1].Bytes(), "-b", brokers, "-t", "from-kcat", "-P", "-K", "\t") // no header: sniffed
	cfg := testConfig(t, c, "from-kcat")
	col := &collector{}
	n := startNode(t, cfg, col, 1, 2)
	col.waitCount(t, len(sent), 20*time.Second)
	n.stop(t)
	// Two kcat runs interleave an entity's events across two producers,
	// so only delivery, not order, is checked here.
	col.mu.Lock()
	handled := len(col.got)
	col.mu.Unlock()
	if handled != len(sent) {
		t.Fatalf("handled %d events, want %d", handled, len(sent))
	}
	if st := n.src.Stats(); st.Poison != 0 || st.Records != uint64(len(sent)) {
		t.Fatalf("source stats %+v", st)
	}

	// Forwarder → kcat: JSON-lines records, read as text.
	cfg = testConfig(t, c, "to-kcat")
	cfg.Format = FormatJSON
	fst := forward(t, cfg, sent)
	meta := kcat(t, nil, "-b", brokers, "-t", "to-kcat", "-C", "-e", "-q", "-o", "beginning", "-f", "%k %h\n")
	lines := strings.Split(strings.TrimSpace(string(meta)), "\n")
	if len(lines) != int(fst.Records) {
		t.Fatalf("kcat read %d records, the forwarder produced %d", len(lines), fst.Records)
	}
	for _, l := range lines {
		key, hdr, _ := strings.Cut(l, " ")
		if _, err := schema.ParseEntityKey(key); err != nil || hdr != HeaderFormat+"=jsonl/1" {
			t.Fatalf("record key %q headers %q", key, hdr)
		}
	}
	values := kcat(t, nil, "-b", brokers, "-t", "to-kcat", "-C", "-e", "-q", "-o", "beginning", "-f", "%s")
	r, err := replay.NewReader(bytes.NewReader(values))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[uint64]bool{}
	var ev schema.Event
	for r.Next(&ev) == nil {
		got[ev.ID] = true
	}
	if len(got) != len(sent) {
		t.Fatalf("kcat read %d distinct events, want %d", len(got), len(sent))
	}

	// And binary records, one value at a time: each is a whole binary log.
	cfg = testConfig(t, c, "to-kcat-bin")
	forward(t, cfg, sent[:50])
	// One run, each value preceded by its size: partitions interleave
	// differently from one run to the next.
	raw := kcat(t, nil, "-b", brokers, "-t", "to-kcat-bin", "-C", "-e", "-q", "-o", "beginning", "-f", "%S\n%s")
	count := 0
	for len(raw) > 0 {
		line, rest, ok := bytes.Cut(raw, []byte("\n"))
		size, err := strconv.Atoi(string(line))
		if !ok || err != nil || size > len(rest) {
			t.Fatalf("value size %q", line)
		}
		r, err := replay.NewReader(bytes.NewReader(rest[:size]))
		if err != nil {
			t.Fatal(err)
		}
		for r.Next(&ev) == nil {
			count++
		}
		r.Close()
		raw = rest[size:]
	}
	if count != 50 || len(raw) != 0 {
		t.Fatalf("decoded %d events from kcat's binary values (%d bytes left), want 50", count, len(raw))
	}
}
