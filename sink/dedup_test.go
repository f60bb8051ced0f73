package sink

import (
	"context"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

func dedupAlert(rule string, entity uint64, pid int64) *Alert {
	return &Alert{RuleID: rule, Entity: schema.EntityKeyFrom64(entity),
		Fields: []AlertField{{Path: "process.pid", Value: value.I64Value(pid)}}}
}

func TestDedupWindowEdges(t *testing.T) {
	d := newDedup(DedupConfig{Window: 10 * time.Second})
	sec := uint64(time.Second)
	f := func(now uint64, wantPass bool, wantSuppressed uint64) {
		t.Helper()
		a := dedupAlert("r", 1, 1)
		if pass := d.check(a, now); pass != wantPass || a.Suppressed != wantSuppressed {
			t.Errorf("at %ds: pass %v suppressed %d, want %v %d", now/sec, pass, a.Suppressed, wantPass, wantSuppressed)
		}
	}
	f(100*sec, true, 0)    // first passes, opens [100, 110)
	f(100*sec, false, 0)   // same instant
	f(110*sec-1, false, 0) // last nanosecond of the window
	f(110*sec, true, 2)    // window over: passes carrying the 2 suppressed
	f(115*sec, false, 0)   // new window [110, 120)
	f(130*sec, true, 1)
	f(141*sec, true, 0) // nothing suppressed in [130, 140)
	f(100*sec, true, 0) // clock set back: passes, never suppresses for ever
	if d.len() != 1 {
		t.Errorf("%d entries, want 1", d.len())
	}
}

func TestDedupKey(t *testing.T) {
	d := newDedup(DedupConfig{Window: time.Hour, Fields: []string{"process.pid"}})
	if !d.check(dedupAlert("r", 1, 1), 0) {
		t.Fatal("first suppressed")
	}
	for _, a := range []*Alert{
		dedupAlert("r2", 1, 1),                           // other rule
		dedupAlert("r", 2, 1),                            // other entity
		dedupAlert("r", 1, 2),                            // other field value
		{RuleID: "r", Entity: schema.EntityKeyFrom64(1)}, // field missing
		{RuleID: "r", Entity: schema.EntityKeyFrom64(1), Fields: []AlertField{{Path: "process.pid", Value: value.StringValue("1")}}}, // other kind
	} {
		if !d.check(a, 1) {
			t.Errorf("%+v suppressed: keys collide", a)
		}
	}
	// Fields not in the key do not matter.
	a := dedupAlert("r", 1, 1)
	a.Fields = append(a.Fields, AlertField{Path: "other", Value: value.I64Value(9)})
	a.Message = "different"
	if d.check(a, 2) {
		t.Error("same key passed")
	}
	// Without Fields the key is rule and entity only.
	d = newDedup(DedupConfig{Window: time.Hour})
	d.check(dedupAlert("r", 1, 1), 0)
	if d.check(dedupAlert("r", 1, 2), 0) {
		t.Error("field value counted without Fields")
	}
	if newDedup(DedupConfig{}) != nil {
		t.Error("zero window: dedup on")
	}
}

func TestDedupBoundedMemory(t *testing.T) {
	d := newDedup(DedupConfig{Window: 10, MaxEntries: 4})
	// Open windows evicted under pressure are counted as lossy.
	for i := range 6 {
		if !d.check(dedupAlert("r", uint64(i), 0), 0) {
			t.Fatal("distinct key suppressed")
		}
	}
	if d.len() != 4 || len(d.nodes) != 4 || d.evicted != 2 {
		t.Errorf("len %d nodes %d evicted %d", d.len(), len(d.nodes), d.evicted)
	}
	// Expiry: once windows end, new alerts free old entries two at a
	// time, and nothing is counted as lost.
	d = newDedup(DedupConfig{Window: 10, MaxEntries: 100})
	for i := range 50 {
		d.check(dedupAlert("r", uint64(i), 0), 0)
	}
	for i := range 30 {
		d.check(dedupAlert("s", uint64(i), 0), 20)
	}
	// 30 checks at t=20 expire up to 60 stale entries: all 50 go, the
	// 30 new ones stay, and the freed nodes are reused.
	if d.len() != 30 || d.evicted != 0 || len(d.nodes) > 50 {
		t.Errorf("len %d evicted %d nodes %d", d.len(), d.evicted, len(d.nodes))
	}
	// A key holding a suppressed count survives expiry and hands the count
	// to its next alert.
	d = newDedup(DedupConfig{Window: 10, MaxEntries: 100})
	d.check(dedupAlert("k", 0, 0), 0)
	d.check(dedupAlert("k", 0, 0), 5) // suppressed
	for i := range 20 {
		d.check(dedupAlert("x", uint64(i), 0), 50)
	}
	a := dedupAlert("k", 0, 0)
	if !d.check(a, 60) || a.Suppressed != 1 {
		t.Errorf("count lost across expiry: pass suppressed %d", a.Suppressed)
	}
}

func TestDedupThroughOutput(t *testing.T) {
	clk := clock.New()
	clk.SetMock(1_000_000_000)
	d := &funcDest{name: "d"}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d}}, Clock: clk,
		Dedup: DedupConfig{Window: time.Minute, Fields: []string{"process.pid"}}})
	emit := func(pid int64) *Alert {
		a := dedupAlert("r", 1, pid)
		a.ID = NewAlertID("r", []uint64{uint64(pid), uint64(clk.NowMono())})
		if err := o.Emit(a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := emit(1)
	emit(1)
	emit(1)
	other := emit(2)
	waitFor(t, "dedup", func() bool { return o.Stats().Pending == 0 })
	clk.Advance(time.Minute)
	after := emit(1)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	checkSettled(t, s)
	// pid 2's window ended with nothing suppressed: expired, 1 entry left.
	if s.Suppressed != 2 || s.Routed != 3 || s.DedupEntries != 1 {
		t.Errorf("stats %+v", s)
	}
	got := d.ids()
	if len(got) != 3 || got[0] != first.ID || got[1] != other.ID || got[2] != after.ID || after.Suppressed != 2 {
		t.Errorf("delivered %v, suppressed count %d", got, after.Suppressed)
	}
}

func TestDedupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	d := newDedup(DedupConfig{Window: 10, MaxEntries: 8, Fields: []string{"process.pid"}})
	alerts := make([]*Alert, 16)
	for i := range alerts {
		alerts[i] = dedupAlert("r", uint64(i), int64(i))
	}
	now := uint64(0)
	for _, a := range alerts {
		d.check(a, now)
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() {
		d.check(alerts[i%len(alerts)], now)
		i++
		now += 3
	}); n != 0 {
		t.Errorf("check allocates %v times", n)
	}
}
