package node

import (
	"context"
	"testing"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

var sinkCount int

// BenchmarkHandle is what the node adds to each batch a worker hands it
// (pprof labels, the detector's pointer, the lag's clock read and
// atomics), against the handler called directly: batches of one event,
// the worst case, as when a worker keeps up with its input.
func BenchmarkHandle(b *testing.B) {
	h := func(_ int, batch []*schema.Event) { sinkCount += len(batch) }
	n, err := New(Config{Handler: h, Bus: engine.Config{Partitions: 2}})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close(context.Background())
	evs := demo.GenerateEvents(1, 1, nil)
	batch := []*schema.Event{&evs[0]}
	b.Run("node", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n.handle(1, batch)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h(1, batch)
		}
	})
}
