package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/rule"
)

// BenchmarkRunEndToEnd measures the command end to end: a JSON-lines log
// of generated sensor events (the demo mix, IDs in the default schema) read,
// decoded, published, detected by the example's rules and the alerts
// written, at the default number of partitions. It reports events/s over
// the whole run, set-up and shutdown included.
func BenchmarkRunEndToEnd(b *testing.B) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	dir := b.TempDir()
	log := filepath.Join(dir, "gen.jsonl")
	evs := demo.GenerateEvents(3, n, rule.DefaultRegistry())
	w, err := replay.Create(log, replay.WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if code := run(context.Background(), []string{"run", "-rules", exampleRules, "-log", log, "-q"}, io.Discard, io.Discard, false); code != exitOK {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
