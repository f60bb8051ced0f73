package detect

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// deliver hands ev to every partition the bus would: its entity's and
// those Route names, in order, from one goroutine (as a bus's workers
// would, one partition at a time).
func deliver(d *Detector, ev *schema.Event) {
	n := d.Partitions()
	mask := d.Route(ev)
	if n > 1 {
		mask.Add(engine.EntityPartition(ev.Entity, n))
	} else {
		mask.Add(0)
	}
	for p := range n {
		if mask.Has(p) {
			d.Handle(p, []*schema.Event{ev})
		}
	}
}

func partCfg(rules []*rule.Package, c *capture, parts int) Config {
	return Config{Rules: rules, Output: c, Partitions: parts,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, parts) }}
}

// TestReloadKeepsPartialMatches: a sequence half matched before a reload
// completes after it when its rule is unchanged (a manifest-only change
// included: the alert takes the new manifest); a changed rule's and a
// removed rule's partial matches are dropped and counted as reload
// evictions.
func TestReloadKeepsPartialMatches(t *testing.T) {
	const seqAB = `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`
	same := pkg(t, "same", seqAB)
	changed := pkg(t, "changed", seqAB)
	gone := pkg(t, "gone", seqAB)
	c := &capture{}
	d, err := New(Config{Rules: []*rule.Package{same, changed, gone}, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []ev{
		{1, "process_exec", 0, 1, []any{"user.id", uint64(5), "process.name", "a"}},
		{2, "process_exec", time.Second, 1, []any{"user.id", uint64(6), "process.name", "a"}},
	} {
		x := e.build(t)
		d.Handle(0, []*schema.Event{&x})
	}
	same2 := pkg(t, "same", seqAB)
	same2.Manifest.Severity = schema.SeverityCritical
	changed2 := pkg(t, "changed", seqAB+` until [process where process.name == "z"]`)
	nd, rep, err := d.Reload(Config{Rules: []*rule.Package{changed2, same2}, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Kept, []string{"same"}) || !slices.Equal(rep.Dropped, []string{"changed", "gone"}) {
		t.Fatalf("report %+v", rep)
	}
	if st := d.Stats(); st.Partials != 6 {
		t.Fatalf("before the first batch the old detector holds the state: %+v", st)
	}
	x := ev{3, "process_exec", 2 * time.Second, 1, []any{"user.id", uint64(5), "process.name", "b"}}.build(t)
	nd.Handle(0, []*schema.Event{&x})
	expectAlerts(t, c, "same:1,3")
	if c.alerts[0].Severity != schema.SeverityCritical {
		t.Errorf("alert of the old manifest: %v", c.alerts[0].Severity)
	}
	old, cur := d.Stats(), nd.Stats()
	if old.Partials != 0 || old.States != 0 || old.Bytes != 0 {
		t.Errorf("old detector still holds state: %+v", old)
	}
	for _, r := range old.Rules {
		want := map[string]uint64{"same": 0, "changed": 2, "gone": 2}[r.ID]
		if r.Evicted.Reload != want || r.Evicted.Total() != want {
			t.Errorf("rule %s: evicted %+v, want %d by reload", r.ID, r.Evicted, want)
		}
	}
	if old.Evicted.Reload != 4 {
		t.Errorf("reload evictions %d", old.Evicted.Reload)
	}
	// The carried key 6 still waits; key 5 completed.
	if cur.Partials != 1 || cur.States != 1 || cur.Bytes == 0 || cur.Rules[1].Partials != 1 || cur.Rules[0].Partials != 0 {
		t.Errorf("new detector's gauges: %+v", cur)
	}
	y := ev{4, "process_exec", 3 * time.Second, 1, []any{"user.id", uint64(6), "process.name", "b"}}.build(t)
	nd.Handle(0, []*schema.Event{&y})
	expectAlerts(t, c, "same:1,3", "same:2,4")
	if st := nd.Stats(); st.Partials != 0 || st.States != 0 || st.Bytes != 0 {
		t.Errorf("state left after completion: %+v", st)
	}
}

// TestReloadSchemaChange: a rule whose fields the schema now types or
// numbers differently starts afresh, though its text is the same.
func TestReloadSchemaChange(t *testing.T) {
	src := `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`
	a := pkg(t, "r", src)
	b := pkg(t, "r", src)
	if matchKey(a) != matchKey(b) {
		t.Fatal("the same rule twice has two keys")
	}
	b.Query.Steps[0].By = append(b.Query.Steps[0].By, &rule.Field{Path: "x", ID: 999})
	if matchKey(a) == matchKey(b) {
		t.Error("a field resolved to another id does not change the key")
	}
	c := pkg(t, "r", src)
	c.Query.By[0].Type++
	if matchKey(a) == matchKey(c) {
		t.Error("a field of another type does not change the key")
	}
	m := pkg(t, "r", src)
	m.Manifest.MaxSpan = time.Second
	if matchKey(a) == matchKey(m) {
		t.Error("a manifest maxspan does not change the key")
	}
	m2 := pkg(t, "r", src)
	m2.Manifest.RuleName, m2.Manifest.Tags, m2.Manifest.Description = "other", nil, "d"
	if matchKey(a) != matchKey(m2) {
		t.Error("the rule's name, tags or description change the key")
	}
}

// TestReloadErrors: a reload to another partition count, or of rules
// that do not compile, fails and leaves the old detector as it was.
func TestReloadErrors(t *testing.T) {
	rules := partitionRules(t)
	c := &capture{}
	d, err := New(partCfg(rules, c, 2))
	if err != nil {
		t.Fatal(err)
	}
	var ce *ConfigError
	if _, _, err := d.Reload(partCfg(rules, c, 3)); !errors.As(err, &ce) || ce.Field != "Partitions" || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("partitions: %v", err)
	}
	if _, _, err := d.Reload(Config{Rules: rules, Partitions: 2, EntityPartition: partCfg(nil, c, 2).EntityPartition}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("no output: %v", err)
	}
	// Other pattern limits change what every test reads: nothing carries.
	cfg := partCfg(rules, c, 2)
	cfg.MaxPatternBytes = 1 << 10
	if _, rep, err := d.Reload(cfg); err != nil || len(rep.Kept) != 0 || len(rep.Dropped) == 0 {
		t.Fatalf("pattern limits: %+v, %v", rep, err)
	}
}

// TestReloadMidLog: over random logs at several partition counts, the
// same rules reloaded again and again (twice in a row at times, so that
// some partitions inherit across two reloads) raise exactly the alerts
// of a run without reloads; the partial matches of every rule carry over.
func TestReloadMidLog(t *testing.T) {
	rules := partitionRules(t)
	for _, parts := range []int{1, 3} {
		evs := genLog(t, uint64(parts), 3000)
		want := &capture{}
		d, err := New(partCfg(rules, want, parts))
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			deliver(d, &evs[i])
		}
		got := &capture{}
		cur, err := New(partCfg(rules, got, parts))
		if err != nil {
			t.Fatal(err)
		}
		all := []*Detector{cur}
		for i := range evs {
			if i%200 == 100 || i%200 == 101 {
				// Reload the rules as they would be read again: a new load.
				nd, rep, err := cur.Reload(partCfg(partitionRules(t), got, parts))
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Dropped) != 0 || len(rep.Kept) == 0 {
					t.Fatalf("unchanged rules: %+v", rep)
				}
				cur = nd
				all = append(all, nd)
			}
			deliver(cur, &evs[i])
		}
		w, g := want.ids(), got.ids()
		slices.Sort(w)
		slices.Sort(g)
		if len(w) == 0 || !slices.Equal(w, g) {
			t.Fatalf("%d partitions: %d alerts with reloads, %d without; first difference at %d", parts, len(g), len(w), firstDiff(w, g))
		}
		var reloadEvicted, partials uint64
		for _, x := range all {
			st := x.Stats()
			reloadEvicted += st.Evicted.Reload
			partials += st.Partials
		}
		if reloadEvicted != 0 || partials != d.Stats().Partials {
			t.Fatalf("%d partitions: %d dropped by reload, %d partials held, %d without reloads", parts, reloadEvicted, partials, d.Stats().Partials)
		}
	}
}

// TestHandleAllocsAfterReload: a reloaded detector's Handle allocates
// nothing once its partition took its state over.
func TestHandleAllocsAfterReload(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	src := `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`
	c := &capture{}
	d, err := New(Config{Rules: []*rule.Package{pkg(t, "r", src)}, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	a := ev{1, "process_exec", 0, 1, []any{"user.id", uint64(5), "process.name", "a"}}.build(t)
	d.Handle(0, []*schema.Event{&a})
	nd, _, err := d.Reload(Config{Rules: []*rule.Package{pkg(t, "r", src)}, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	batch := []*schema.Event{&a}
	nd.Handle(0, batch)
	if n := testing.AllocsPerRun(100, func() { nd.Handle(0, batch) }); n != 0 {
		t.Fatalf("%v allocations per batch", n)
	}
}

// TestReloadCarriesHeldMatches: a match held for a trailing missing-event
// step moves with its unchanged rule and comes out once event time passes
// its window; a changed rule's held match is dropped and counted.
func TestReloadCarriesHeldMatches(t *testing.T) {
	const lingers = `sequence by user.id with maxspan=5s [process where process.name == "a"] ![process where process.name == "z"]`
	c := &capture{}
	d, err := New(Config{Rules: []*rule.Package{pkg(t, "same", lingers), pkg(t, "changed", lingers)}, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	x := ev{1, "process_exec", 0, 1, []any{"user.id", uint64(5), "process.name", "a"}}.build(t)
	d.Handle(0, []*schema.Event{&x})
	if st := d.Stats(); st.Held != 2 {
		t.Fatalf("held before the reload: %+v", st)
	}
	nd, _, err := d.Reload(Config{Rules: []*rule.Package{pkg(t, "same", lingers),
		pkg(t, "changed", lingers+` until [process where process.name == "q"]`)}, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	y := ev{2, "process_exec", 10 * time.Second, 1, []any{"user.id", uint64(7), "process.name", "b"}}.build(t)
	nd.Handle(0, []*schema.Event{&y})
	expectAlerts(t, c, "same:1")
	if old, cur := d.Stats(), nd.Stats(); old.Held != 0 || cur.Held != 0 || old.Evicted.Reload != 1 {
		t.Errorf("held: old %d, new %d; reload evictions %d (want 0, 0, 1)", old.Held, cur.Held, old.Evicted.Reload)
	}
	nd.Flush()
	expectAlerts(t, c, "same:1")
}
