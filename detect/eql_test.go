package detect

import (
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestElasticSequenceExamples runs the sequence examples of Elastic's EQL
// syntax reference (maxspan, by, until, runs), on our ECS field names.
func TestElasticSequenceExamples(t *testing.T) {
	const m = time.Minute
	cases := []struct {
		name string
		rule string
		evs  []ev
		want []string
	}{{
		name: "basic sequence",
		rule: `sequence
  [ process where process.name == "attrib.exe" ]
  [ file where file.path == "C:\\Windows\\System32\\evil.exe" ]`,
		evs: []ev{
			{1, "process_exec", 0, 1, []any{"process.name", "attrib.exe"}},
			{2, "file_open", time.Second, 2, []any{"file.path", `C:\Windows\System32\evil.exe`}}, // other entity: a global sequence takes it
			{3, "file_open", 2 * time.Second, 1, []any{"file.path", `C:\Windows\System32\evil.exe`}},
		},
		want: []string{"r:1,2"},
	}, {
		name: "maxspan",
		rule: `sequence with maxspan=15m
  [ file where file.extension == ".exe" ]
  [ process where true ]`,
		evs: []ev{
			{1, "file_create", 0, 1, []any{"file.extension", ".exe"}},
			{2, "process_exec", 10 * m, 1, nil},
			{3, "file_create", 20 * m, 1, []any{"file.extension", ".exe"}},
			{4, "process_exec", 36 * m, 1, nil}, // 16m after 3
		},
		want: []string{"r:1,2"},
	}, {
		name: "by on each step",
		rule: `sequence
  [ process where process.name == "attrib.exe" ] by process.pid
  [ file where file.path == "C:\\Windows\\System32\\evil.exe" ] by process.pid`,
		evs: []ev{
			{1, "process_exec", 0, 1, []any{"process.pid", 10, "process.name", "attrib.exe"}},
			{2, "process_exec", 1, 1, []any{"process.pid", 20, "process.name", "attrib.exe"}},
			{3, "file_open", 2, 1, []any{"process.pid", 10, "file.path", `C:\Windows\System32\evil.exe`}},
			{4, "file_open", 3, 1, []any{"process.pid", 30, "file.path", `C:\Windows\System32\evil.exe`}},
		},
		want: []string{"r:1,3"},
	}, {
		name: "sequence by shorthand",
		rule: `sequence by process.pid
  [ process where process.name == "attrib.exe" ]
  [ file where file.path == "C:\\Windows\\System32\\evil.exe" ]`,
		evs: []ev{
			{1, "process_exec", 0, 1, []any{"process.pid", 10, "process.name", "attrib.exe"}},
			{2, "process_exec", 1, 1, []any{"process.pid", 20, "process.name", "attrib.exe"}},
			{3, "file_open", 2, 1, []any{"process.pid", 20, "file.path", `C:\Windows\System32\evil.exe`}},
			{4, "file_open", 3, 1, []any{"file.path", `C:\Windows\System32\evil.exe`}}, // no pid: joins nothing
		},
		want: []string{"r:2,3"},
	}, {
		name: "by with different fields per step",
		rule: `sequence by user.name
  [ file where file.extension == ".exe" ] by file.path
  [ process where true ] by process.executable`,
		evs: []ev{
			{1, "file_create", 0, 1, []any{"user.name", "alice", "file.path", "/tmp/a.exe", "file.extension", ".exe"}},
			{2, "process_exec", 1, 1, []any{"user.name", "bob", "process.executable", "/tmp/a.exe"}},
			{3, "process_exec", 2, 1, []any{"user.name", "alice", "process.executable", "/tmp/b.exe"}},
			{4, "process_exec", 3, 1, []any{"user.name", "alice", "process.executable", "/tmp/a.exe"}},
		},
		want: []string{"r:1,4"},
	}, {
		name: "until",
		rule: `sequence by process.pid
  [ process where event.action == "start" and process.name == "cmd.exe" ]
  [ process where event.action == "start" and process.parent.name == "cmd.exe" ]
until [ process where event.action == "stop" ]`,
		evs: []ev{
			{1, "process_exec", 0, 1, []any{"process.pid", 7, "event.action", "start", "process.name", "cmd.exe"}},
			{2, "process_exit", 1, 1, []any{"process.pid", 7, "event.action", "stop"}},
			{3, "process_exec", 2, 1, []any{"process.pid", 7, "event.action", "start", "process.parent.name", "cmd.exe"}},
			{4, "process_exec", 3, 1, []any{"process.pid", 7, "event.action", "start", "process.name", "cmd.exe"}},
			{5, "process_exit", 4, 1, []any{"process.pid", 8, "event.action", "stop"}}, // another pid's stop
			{6, "process_exec", 5, 1, []any{"process.pid", 7, "event.action", "start", "process.parent.name", "cmd.exe"}},
		},
		want: []string{"r:4,6"},
	}, {
		name: "runs",
		rule: `sequence
  [ file where file.extension == ".exe" ] with runs=3
  [ process where true ]`,
		evs: []ev{
			{1, "file_create", 0, 1, []any{"file.extension", ".exe"}},
			{2, "file_create", 1, 1, []any{"file.extension", ".exe"}},
			{3, "process_exec", 2, 1, nil}, // two runs only: no match
			{4, "file_create", 3, 1, []any{"file.extension", ".exe"}},
			{5, "file_create", 4, 1, []any{"file.extension", ".exe"}},
			{6, "file_create", 5, 1, []any{"file.extension", ".exe"}},
			{7, "process_exec", 6, 1, nil},
		},
		want: []string{"r:4,5,6,7"},
	}, {
		name: "runs equals repeated steps",
		rule: `sequence
  [ file where file.extension == ".exe" ]
  [ file where file.extension == ".exe" ]
  [ file where file.extension == ".exe" ]
  [ process where true ]`,
		evs: []ev{
			{4, "file_create", 3, 1, []any{"file.extension", ".exe"}},
			{5, "file_create", 4, 1, []any{"file.extension", ".exe"}},
			{6, "file_create", 5, 1, []any{"file.extension", ".exe"}},
			{7, "process_exec", 6, 1, nil},
		},
		want: []string{"r:4,5,6,7"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got := run(t, Config{Rules: []*rule.Package{pkg(t, "r", c.rule)}}, c.evs)
			expectAlerts(t, got, c.want...)
		})
	}
}

func TestSequenceSemantics(t *testing.T) {
	two := `sequence [process where process.name == "a"] [process where process.name == "b"]`
	t.Run("newer partial replaces older", func(t *testing.T) {
		d, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", two)}}, []ev{
			{1, "process_exec", 0, 1, []any{"process.name", "a"}},
			{2, "process_exec", 1, 1, []any{"process.name", "a"}},
			{3, "process_exec", 2, 1, []any{"process.name", "b"}},
			{4, "process_exec", 3, 1, []any{"process.name", "b"}}, // nothing left to complete
		})
		expectAlerts(t, c, "r:2,3")
		if s := d.Stats(); s.Rules[0].Replaced != 1 || s.States != 0 || s.Partials != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("one event does not advance two steps", func(t *testing.T) {
		_, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r",
			`sequence [process where true] [process where true] [process where true]`)}}, []ev{
			{1, "process_exec", 0, 1, nil},
			{2, "process_exec", 1, 1, nil},
			{3, "process_exec", 2, 1, nil},
			{4, "process_exec", 3, 1, nil},
		})
		// 3 completes (1,2,3); 4 completes (2,3,4): each event started one
		// match and advanced the others by one step only.
		expectAlerts(t, c, "r:1,2,3", "r:2,3,4")
	})
	t.Run("join key isolation", func(t *testing.T) {
		byEntity := `sequence by process.entity_id [process where process.name == "a"] [process where process.name == "b"]`
		_, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", byEntity)}}, []ev{
			{1, "process_exec", 0, 1, []any{"process.name", "a", "process.entity_id", "e1"}},
			{2, "process_exec", 1, 2, []any{"process.name", "b", "process.entity_id", "e2"}},
			{3, "process_exec", 2, 2, []any{"process.name", "a", "process.entity_id", "e2"}},
			{4, "process_exec", 3, 3, []any{"process.name", "b", "process.entity_id", "e3"}},
			{5, "process_exec", 4, 1, []any{"process.name", "b", "process.entity_id", "e1"}},
		})
		expectAlerts(t, c, "r:1,5")
	})
	t.Run("no by is one global sequence", func(t *testing.T) {
		_, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", two)}}, []ev{
			{1, "process_exec", 0, 1, []any{"process.name", "a"}},
			{2, "process_exec", 1, 2, []any{"process.name", "b"}},
			{3, "process_exec", 2, 2, []any{"process.name", "a"}},
			{4, "process_exec", 3, 3, []any{"process.name", "b"}},
			{5, "process_exec", 4, 1, []any{"process.name", "b"}},
		})
		expectAlerts(t, c, "r:1,2", "r:3,4")
	})
	t.Run("maxspan edges", func(t *testing.T) {
		r := `sequence with maxspan=1s [process where process.name == "a"] [process where process.name == "b"]`
		d, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", r)}}, []ev{
			{1, "process_exec", 10 * time.Second, 1, []any{"process.name", "a"}},
			{2, "process_exec", 11 * time.Second, 1, []any{"process.name", "b"}}, // exactly at maxspan: matches
			{3, "process_exec", 20 * time.Second, 2, []any{"process.name", "a"}},
			{4, "process_exec", 21*time.Second + 1, 2, []any{"process.name", "b"}}, // one ns past: expired
		})
		expectAlerts(t, c, "r:1,2")
		if s := d.Stats(); s.Evicted.Expired != 1 || s.States != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("maxspan from the manifest", func(t *testing.T) {
		p := pkg(t, "r", two)
		p.Manifest.MaxSpan = time.Second
		_, c := run(t, Config{Rules: []*rule.Package{p}}, []ev{
			{1, "process_exec", 0, 1, []any{"process.name", "a"}},
			{2, "process_exec", 2 * time.Second, 1, []any{"process.name", "b"}},
		})
		expectAlerts(t, c)
	})
	t.Run("until counts terminated", func(t *testing.T) {
		d, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", two+` until [process where process.name == "stop"]`)}}, []ev{
			{1, "process_exec", 0, 1, []any{"process.name", "a"}},
			{2, "process_exec", 1, 1, []any{"process.name", "stop"}},
			{3, "process_exec", 2, 1, []any{"process.name", "b"}},
		})
		expectAlerts(t, c)
		if s := d.Stats(); s.Evicted.Terminated != 1 || s.States != 0 || s.Partials != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestExpiry(t *testing.T) {
	r := `sequence by process.entity_id with maxspan=1s [process where process.name == "a"] [process where process.name == "b"]`
	d, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", r)}}, []ev{
		{1, "process_exec", 0, 1, []any{"process.entity_id", "e1", "process.name", "a"}},
		{2, "process_exec", 0, 2, []any{"process.entity_id", "e2", "process.name", "a"}},
		{3, "process_exec", 500 * time.Millisecond, 3, []any{"process.entity_id", "e3", "process.name", "a"}},
	})
	if s := d.Stats(); s.States != 3 || s.Partials != 3 {
		t.Fatalf("before: %+v", s)
	}
	// Event time moves on in another entity: the partition's horizon
	// passes 1 and 2's maxspan (exactly at it keeps them), then 3's.
	feed := func(id uint64, at time.Duration) {
		x := ev{id, "file_open", at, 9, nil}.build(t)
		d.Handle(0, []*schema.Event{&x})
	}
	feed(4, time.Second)
	if s := d.Stats(); s.States != 3 || s.Evicted.Expired != 0 {
		t.Fatalf("at the edge: %+v", s)
	}
	feed(5, time.Second+1)
	if s := d.Stats(); s.States != 1 || s.Evicted.Expired != 2 {
		t.Fatalf("after 1s+1ns: %+v", s)
	}
	feed(6, 2*time.Second)
	if s := d.Stats(); s.States != 0 || s.Partials != 0 || s.Evicted.Expired != 3 {
		t.Fatalf("after 2s: %+v", s)
	}
	expectAlerts(t, c)

	// A clock behind event time holds expiry back.
	clk := clockAt(0)
	d, _ = run(t, Config{Clock: clk, Rules: []*rule.Package{pkg(t, "r", r)}}, []ev{
		{1, "process_exec", 0, 1, []any{"process.entity_id", "e1", "process.name", "a"}},
		{2, "file_open", 5 * time.Second, 2, nil},
	})
	if s := d.Stats(); s.States != 1 || s.Evicted.Expired != 0 {
		t.Fatalf("clock cap: %+v", s)
	}
	*clk = clockValue(5 * time.Second)
	x := ev{3, "file_open", 5 * time.Second, 2, nil}.build(t)
	d.Handle(0, []*schema.Event{&x})
	if s := d.Stats(); s.States != 0 || s.Evicted.Expired != 1 {
		t.Fatalf("clock moved: %+v", s)
	}
}

type clockValue uint64

func (c *clockValue) NowMono() uint64 { return uint64(*c) }

func clockAt(d time.Duration) *clockValue { v := clockValue(d); return &v }

func TestCapacity(t *testing.T) {
	two := `sequence by process.entity_id [process where process.name == "a"] [process where process.name == "b"]`
	evs := []ev{
		{1, "process_exec", 0, 1, []any{"process.entity_id", "e1", "process.name", "a"}},
		{2, "process_exec", 1, 2, []any{"process.entity_id", "e2", "process.name", "a"}},
		{3, "process_exec", 2, 3, []any{"process.entity_id", "e3", "process.name", "a"}}, // evicts entity 1, least recently used
		{4, "process_exec", 3, 2, []any{"process.entity_id", "e2", "process.name", "a"}}, // touches 2
		{5, "process_exec", 4, 4, []any{"process.entity_id", "e4", "process.name", "a"}}, // evicts 3
		{6, "process_exec", 5, 1, []any{"process.entity_id", "e1", "process.name", "b"}},
		{7, "process_exec", 6, 3, []any{"process.entity_id", "e3", "process.name", "b"}},
		{8, "process_exec", 7, 2, []any{"process.entity_id", "e2", "process.name", "b"}},
		{9, "process_exec", 8, 4, []any{"process.entity_id", "e4", "process.name", "b"}},
	}
	d, c := run(t, Config{MaxStatesPerRule: 2, Rules: []*rule.Package{pkg(t, "r", two)}}, evs)
	expectAlerts(t, c, "r:4,8", "r:5,9")
	if s := d.Stats(); s.Evicted.Capacity != 2 || s.Rules[0].Replaced != 1 || s.States != 0 {
		t.Fatalf("stats %+v", s)
	}
	// The partition-wide bound applies across rules.
	d, c = run(t, Config{MaxStates: 2, Rules: []*rule.Package{pkg(t, "r", two), pkg(t, "s", two)}}, evs[:3])
	if s := d.Stats(); s.Evicted.Capacity != 4 || s.States != 2 {
		t.Fatalf("MaxStates: %+v", s)
	}
	expectAlerts(t, c)
}
