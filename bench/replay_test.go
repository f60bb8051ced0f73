package bench

import (
	"context"
	"testing"
)

// BenchmarkReplayNode replays one generated JSON-lines log end to end
// through a node (as the replay/e2e scenario and kestrel run do) and
// through a bare bus fed by the replay loop (the scenario before it used
// node), so that what the node adds (its stop order, pprof labels and lag
// tracking per batch) reads as the ratio of the two.
func BenchmarkReplayNode(b *testing.B) {
	const events = 20000
	r := &runner{cfg: Config{Seed: 1}, w: newWorkload(1, events)}
	logs, err := buildReplayLogs(r.w, 1, events)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		run  func() (Figure, error)
	}{
		{"node", func() (Figure, error) { return replayNode(context.Background(), r, logs) }},
		{"bus", func() (Figure, error) { return replayTransport(context.Background(), r, ImplKestrel, logs) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(logs.jsonl)))
			b.ReportAllocs()
			for b.Loop() {
				fig, err := c.run()
				if err != nil {
					b.Fatal(err)
				}
				if fig.Events != events {
					b.Fatalf("%d events of %d", fig.Events, events)
				}
			}
			b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
