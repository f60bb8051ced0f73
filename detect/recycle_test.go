package detect

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// releaseAlerts counts alerts and releases each at once, as an Output
// whose destinations are done at once would.
type releaseAlerts struct{ n int }

func (r *releaseAlerts) Emit(a *sink.Alert) error { r.n++; a.Release(); return nil }

// idle counts the slab's alerts that are back: in its local free list or
// in its pool. Only the worker's goroutine may call it.
func (s *alertSlab) idle() int {
	n := 0
	for sa := s.local; sa != nil; sa = sa.next {
		n++
	}
	if s.pool != nil {
		if top := s.pool.free.Load(); top != nil {
			n += int(top.depth.Load())
		}
	}
	return n
}

// TestAlertsRecycledNoAllocs: with an Emitter that releases what it
// takes, raising alerts allocates nothing once the slab is warm, event
// and sequence rules alike, field strings included.
func TestAlertsRecycledNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	out := &releaseAlerts{}
	d, err := New(Config{Output: out, Rules: alertingRules(t)})
	if err != nil {
		t.Fatal(err)
	}
	batch := alertingBatch(t, 128)
	d.Handle(0, batch) // warm
	before := out.n
	// One run of 20 batches: AllocsPerRun's average is truncated, so only
	// this reads a single allocation among 5120 alerts.
	n := testing.AllocsPerRun(1, func() {
		for range 20 {
			d.Handle(0, batch)
		}
	})
	if got := out.n - before; got != 2*20*256 {
		t.Fatalf("%d alerts, want %d", got, 2*20*256)
	}
	if n != 0 {
		t.Errorf("%v allocs per %d alerts", n, 20*256)
	}
	if made := d.workers[0].slab.made; made > slabAlerts {
		t.Errorf("%d alerts made for one in flight at a time", made)
	}
}

// TestAlertsThroughOutputNoAllocs is the steady state of detection and
// delivery: events through a Detector whose rules alert on every event,
// into a sink.Output that delivers them to a destination, allocate
// nothing per event once warm, anywhere in the process (AllocsPerRun
// counts every goroutine's allocations: the Output's dispatcher and
// destination worker too). Each run waits until the Output has handed
// every alert back, so the figure does not depend on scheduling.
func TestAlertsThroughOutputNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	file, err := sink.NewFileDestination(sink.FileConfig{Name: "file", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, dest := range []sink.Destination{sink.NewWriterDestination("discard", io.Discard), file} {
		t.Run(dest.Name(), func(t *testing.T) {
			d, o := alertingDetector(t, sink.DestinationConfig{Dest: dest})
			defer o.Close(context.Background())
			batch := alertingBatch(t, 32) // 64 events, 64 alerts
			slab := &d.workers[0].slab
			round := func() {
				d.Handle(0, batch)
				for slab.idle() < slab.made {
					runtime.Gosched() // the Output's goroutines hand the alerts back
				}
			}
			for range 50 { // warm: the slab, the queue, the destination's buffers
				round()
			}
			const rounds = 200
			n := testing.AllocsPerRun(1, func() {
				for range rounds {
					round()
				}
			})
			if n != 0 {
				t.Errorf("%v allocs per %d events (%d alerts)", n, rounds*len(batch), rounds*len(batch))
			}
			t.Logf("%d alerts made for %d events", slab.made, (50+2*rounds)*len(batch))
			if err := o.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := o.Stats()
			// AllocsPerRun runs its function once more to warm up.
			if want := uint64((50 + 2*rounds) * len(batch)); s.Destinations[0].Delivered != want {
				t.Errorf("delivered %d, want %d", s.Destinations[0].Delivered, want)
			}
		})
	}
	// The file holds every alert, whole: none was overwritten by a later
	// one while the destination still read it.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		var a sink.Alert
		if err := a.UnmarshalJSON([]byte(l)); err != nil || a.ID != sink.NewAlertID(a.RuleID, a.EventIDs) {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
	}
}

// holdingEmitter keeps the latest alerts it took, and releases the oldest
// once it holds hold of them, after checking it still reads as it did
// when taken: the slab must not have written over a held alert while
// building later ones in the memory of released ones.
type holdingEmitter struct {
	t    *testing.T
	hold int
	held []*sink.Alert
	json []string
}

func (h *holdingEmitter) Emit(a *sink.Alert) error {
	h.held = append(h.held, a)
	h.json = append(h.json, string(a.AppendJSON(nil)))
	if len(h.held) > h.hold {
		h.releaseOldest()
	}
	return nil
}

func (h *holdingEmitter) releaseOldest() {
	a, want := h.held[0], h.json[0]
	if got := string(a.AppendJSON(nil)); got != want {
		h.t.Fatalf("a held alert changed:\n%s\nwas\n%s", got, want)
	}
	h.held, h.json = h.held[1:], h.json[1:]
	a.Release()
}

// TestAlertSlabReuse: alerts of every size, from empty strings to values
// bigger than a byte chunk, built in recycled memory while others are
// still held, each read back unchanged when released (the regions of
// recycled alerts grow and move, never into a neighbour's), and the slab
// settles on a bounded number of alerts.
func TestAlertSlabReuse(t *testing.T) {
	rules := []*rule.Package{
		pkg(t, "cmd", `process where process.command_line : "nc*"`),
		pkg(t, "seq", `sequence by process.entity_id [process where process.command_line : "nc*"] [network where network.dest_port == 4444]`),
	}
	out := &holdingEmitter{t: t, hold: 20}
	d, err := New(Config{Output: out, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 10, 600, 40, 3000, 5, 20 << 10, 100, 1, 900}
	var evs []schema.Event
	for i := range 400 {
		cmd := "nc " + strings.Repeat(string(rune('a'+i%26)), sizes[i%len(sizes)]+i%7)
		evs = append(evs,
			ev{uint64(2 * i), "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.command_line", cmd}}.build(t),
			ev{uint64(2*i + 1), "network_connect", time.Second, 1, []any{"process.entity_id", "p1", "network.dest_port", uint64(4444)}}.build(t))
	}
	for i := range evs {
		d.Handle(0, []*schema.Event{&evs[i]})
	}
	for len(out.held) > 0 {
		out.releaseOldest()
	}
	if made := d.workers[0].slab.made; made > 2*slabAlerts {
		t.Errorf("%d alerts made for at most %d held at once", made, out.hold+1)
	}
}

// TestAlertSlabReload: alerts raised before a reload and released after
// it come back to the slab the reloaded Detector's worker took over, so
// the new Detector builds its alerts in them instead of new memory.
func TestAlertSlabReload(t *testing.T) {
	out := &holdingEmitter{t: t, hold: 1 << 20}
	d, err := New(Config{Output: out, Rules: alertingRules(t)})
	if err != nil {
		t.Fatal(err)
	}
	batch := alertingBatch(t, 16)
	d.Handle(0, batch)
	before := map[*sink.Alert]bool{}
	for _, a := range out.held {
		before[a] = true
	}
	nd, _, err := d.Reload(Config{Output: out, Rules: alertingRules(t)})
	if err != nil {
		t.Fatal(err)
	}
	for len(out.held) > 0 {
		out.releaseOldest() // in flight across the reload
	}
	nd.Handle(0, batch)
	if len(out.held) != len(before) {
		t.Fatalf("%d alerts after the reload, %d before", len(out.held), len(before))
	}
	for _, a := range out.held {
		if !before[a] {
			t.Fatal("the reloaded Detector built an alert in new memory, not in a released one")
		}
	}
}
