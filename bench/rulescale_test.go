package bench_test

// detect's cost as the rule set grows, on the harness's generated rules
// (ScaleRules) and workload; here rather than in detect because the root
// module does not import this one.

import (
	"fmt"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/bench"
	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// drop releases each alert at once, as a sink.Output does once its
// destinations are done with it (see bench's nullEmitter).
type drop struct{}

func (drop) Emit(a *sink.Alert) error { a.Release(); return nil }

// BenchmarkRuleScale measures one partition's cost per event of the
// harness's workload under bench.ScaleRules sets of 10 to 3000 rules
// (Elastic-shaped), indexed and not: go test -run '^$' -bench RuleScale
// -benchtime 200ms ./bench/.
func BenchmarkRuleScale(b *testing.B) {
	reg := demo.Registry()
	evs := demo.GenerateEvents(1, 4096, reg)
	for _, n := range bench.RuleScaleCounts {
		rules, err := bench.ScaleRules(n, reg)
		if err != nil {
			b.Fatal(err)
		}
		for _, noIndex := range []bool{false, true} {
			if noIndex && n > 100 {
				continue // the plain matcher's cost is linear: 10 and 100 show it
			}
			b.Run(fmt.Sprintf("rules=%d/index=%v", n, !noIndex), func(b *testing.B) {
				d, err := detect.New(detect.Config{Rules: rules, Output: drop{}, NoIndex: noIndex})
				if err != nil {
					b.Fatal(err)
				}
				batch := make([]*schema.Event, 0, 256)
				b.ReportAllocs()
				start := time.Now()
				events := 0
				for i := 0; b.Loop(); i++ {
					batch = batch[:0]
					for j := range 256 {
						batch = append(batch, &evs[(i*256+j)%len(evs)])
					}
					d.Handle(0, batch)
					events += len(batch)
				}
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(events), "ns/event")
			})
		}
	}
}

// TestRuleScaleNoAllocs: with 1000 indexed rules, the events of the
// workload that raise no alert and start no new join key cost no
// allocation (alerts and new keys allocate by design).
func TestRuleScaleNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	reg := demo.Registry()
	evs := demo.GenerateEvents(1, 4096, reg)
	rules, err := bench.ScaleRules(1000, reg)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	d, err := detect.New(detect.Config{Rules: rules, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	var quiet []*schema.Event
	for i := range evs {
		before := c.n
		d.Handle(0, []*schema.Event{&evs[i]})
		if c.n == before {
			quiet = append(quiet, &evs[i])
		}
	}
	if len(quiet) < len(evs)/2 {
		t.Fatalf("only %d of %d events raise no alert", len(quiet), len(evs))
	}
	d.Handle(0, quiet) // warm: every key these events touch exists now
	if n := testing.AllocsPerRun(20, func() { d.Handle(0, quiet) }); n != 0 {
		t.Fatalf("%v allocs per %d events", n, len(quiet))
	}
}

type counter struct{ n int }

func (c *counter) Emit(*sink.Alert) error { c.n++; return nil }

// TestRuleScaleAlertsNoAllocs: the whole workload, alerts included, costs
// no allocation once warm at every size of bench.RuleScaleCounts, when
// the alerts are released as an Output releases them (drop): the
// Detector raises its alerts in recycled memory.
func TestRuleScaleAlertsNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	reg := demo.Registry()
	evs := demo.GenerateEvents(1, 4096, reg)
	batches := make([][]*schema.Event, 0, len(evs)/256)
	for i := 0; i < len(evs); i += 256 {
		b := make([]*schema.Event, 0, 256)
		for j := i; j < i+256; j++ {
			b = append(b, &evs[j])
		}
		batches = append(batches, b)
	}
	for _, n := range bench.RuleScaleCounts {
		rules, err := bench.ScaleRules(n, reg)
		if err != nil {
			t.Fatal(err)
		}
		d, err := detect.New(detect.Config{Rules: rules, Output: drop{}})
		if err != nil {
			t.Fatal(err)
		}
		round := func() {
			for _, b := range batches {
				d.Handle(0, b)
			}
		}
		round() // warm: join keys, arenas, the alert slab
		if a := testing.AllocsPerRun(1, round); a != 0 {
			t.Errorf("%d rules: %v allocs per %d events", n, a, len(evs))
		}
	}
}
