package bench

import (
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

// workload is the seeded set of realistic sensor events every scenario
// publishes (demo.GenerateEvents: exec, open and connect events with 6 to
// 10 fields from about 64 processes), so that runs with the same seed are
// comparable.
type workload struct {
	reg    *schema.Registry
	events []schema.Event
}

// workloadEvents is how many distinct events a producer cycles through:
// enough to spread over partitions and defeat trivial caching, few enough to
// stay in cache as a sensor's recent events would.
const workloadEvents = 4096

func newWorkload(seed int64, n int) *workload {
	reg := demo.Registry()
	return &workload{reg: reg, events: demo.GenerateEvents(seed, n, reg)}
}

// copyFor returns producer p's private copy of the events (producers stamp
// events before publishing them, so each needs its own). Field values are
// shared; they are never written.
func (w *workload) copyFor(int) []schema.Event {
	out := make([]schema.Event, len(w.events))
	for i := range w.events {
		out[i].CopyFrom(&w.events[i])
	}
	return out
}
