package detect

import (
	"cmp"
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// joinRules are sequences whose join keys cross entities: by user (a user
// spans processes), parent to child, until from another process, a global
// sequence, runs, and three steps.
var joinRules = []struct{ id, src string }{
	{"jh-user", `sequence by user.name with maxspan=2s
  [process where process.name == "sudo"] [file where file.path == "/etc/shadow"]`},
	{"jh-parent", `sequence with maxspan=30s
  [process where process.name in ("bash", "sh")] by process.entity_id
  [process where process.name in ("curl", "wget")] by process.parent.entity_id`},
	{"jh-until", `sequence by user.name
  [process where process.name == "ssh"] [network where network.dest_port == 22]
until [process where event.action == "logout"]`},
	{"jh-global", `sequence with maxspan=1s
  [process where process.name == "nc"] [network where network.dest_port == 4444]`},
	{"jh-runs", `sequence by user.name
  [file where file.path == "/tmp/x"] with runs=2
  [process where process.name == "rm"]`},
	{"jh-three", `sequence by user.name with maxspan=10s
  [process where process.name == "bash"] [process where process.name == "curl"]
  [network where network.direction == "outbound"]`},
	{"jh-siblings", `sequence by process.parent.entity_id
  [process where process.name == "curl"] [process where process.name == "sh"]`},
}

// langRules are the rest of Elastic's language over the same logs:
// missing-event steps (between, before and after, and one whose events
// come from other entities: children of the key's process), and a
// sample.
var langRules = []struct{ id, src string }{
	{"jh-missing", `sequence by user.name with maxspan=5s
  [process where process.name == "ssh"] ![file where file.path != "/tmp/x"] [network where network.dest_port == 22]`},
	{"jh-lead-trail", `sequence with maxspan=2s
  ![file where true] by user.name
  [process where process.name == "bash"] by user.name
  ![network where true] by user.name`},
	{"jh-no-child", `sequence with maxspan=10s
  [process where process.name == "sh"] by process.entity_id
  ![any where true] by process.parent.entity_id`},
	{"jh-sample", `sample by user.name
  [process where process.name == "sudo"] [file where file.path == "/etc/shadow"] [network where network.dest_port == 4444]`},
}

// partitionRules returns the example rules and the join-heavy ones.
func partitionRules(t testing.TB) []*rule.Package {
	t.Helper()
	set, err := rule.LoadDir("../examples/rules", rule.LoadOptions{Registry: testReg})
	if err != nil {
		t.Fatal(err)
	}
	rules := slices.Clone(set.Packages)
	if len(rules) < 7 {
		t.Fatalf("%d example rules loaded", len(rules))
	}
	for _, r := range joinRules {
		rules = append(rules, pkg(t, r.id, r.src))
	}
	for _, r := range langRules {
		rules = append(rules, pkg(t, r.id, r.src))
	}
	return rules
}

// genLog returns a random log in time order: processes with parents and
// shared users, running commands, opening files, connecting, exiting.
func genLog(t testing.TB, seed uint64, n int) []schema.Event {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, 12))
	pick := func(xs ...string) string { return xs[rnd.IntN(len(xs))] }
	type proc struct{ id, parent, user string }
	procs := make([]proc, 30)
	for i := range procs {
		p := proc{id: "p" + strconv.Itoa(i), user: pick("alice", "bob", "root", "eve")}
		if i > 0 {
			p.parent = procs[rnd.IntN(i)].id
		} else {
			p.parent = "init"
		}
		procs[i] = p
	}
	exe := map[string]string{"bash": "/bin/bash", "sh": "/bin/sh", "sudo": "/usr/bin/sudo", "ssh": "/usr/bin/ssh"}
	evs := make([]schema.Event, 0, n)
	ts := time.Duration(0)
	for i := range n {
		ts += time.Duration(rnd.IntN(4)) * 150 * time.Millisecond // equal timestamps happen
		pi := rnd.IntN(len(procs))
		p := procs[pi]
		b := schema.NewBuilder(testReg).ID(uint64(i+1)).Mono(schema.TimestampMono(ts)).
			Wall(schema.TimestampWall(1_700_000_000_000_000_000+int64(ts))).Entity(schema.EntityKeyFrom64(uint64(pi+1))).
			Path("process.entity_id", value.StringValue(p.id)).Path("process.parent.entity_id", value.StringValue(p.parent)).
			Path("user.name", value.StringValue(p.user))
		switch k := rnd.IntN(10); {
		case k < 4:
			name := pick("curl", "wget", "bash", "sh", "tar", "ssh", "sudo", "nc", "rm", "ls")
			x, ok := exe[name]
			if !ok {
				x = "/usr/bin/" + name
			}
			b.TypeName("process_exec").Path("process.name", value.StringValue(name)).Path("process.executable", value.StringValue(x)).
				Path("process.command_line", value.StringValue(pick("curl http://x", "bash", "sh -c id", "ls"))).
				Path("process.args", value.StringValue(pick("a.sql", "u@h", "x")))
		case k < 7:
			b.TypeName("file_open").Path("file.path", value.StringValue(pick("/etc/shadow", "/tmp/x", "/home/a.doc", "/etc/passwd"))).
				Path("file.name", value.StringValue(pick("a.encrypted", "a.txt")))
		case k < 9:
			b.TypeName("network_connect").Path("network.direction", value.StringValue(pick("outbound", "inbound"))).
				Path("network.dest_port", value.U64Value(uint64([]int{22, 443, 4444, 8080}[rnd.IntN(4)]))).
				Path("network.dest_host", value.StringValue(pick("dropbox.com", "example.org")))
		default:
			b.TypeName("process_exit").Path("event.action", value.StringValue(pick("exit", "logout")))
		}
		e, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

// refKey renders st's join values of e: the reference compares keys as
// text, with none of the matcher's hashing.
func refKey(st *cstep, e *schema.Event) (string, bool) {
	k := ""
	for _, id := range st.by {
		v, ok := e.Get(id)
		if !ok || v.IsNull() {
			return "", false
		}
		k += v.Kind().String() + ":" + v.String() + "\x00"
	}
	return k, true
}

// reference matches rules over evs the slow, plain way, with none of the
// matcher's machinery (no partitions, hashing, LRU, expiry, pooling): an
// event rule alerts on every event it accepts; a sequence is run once per
// join key found in the log (nested loops: keys x events), keeping for each
// step the newest partial match, as detect/doc.go words EQL's semantics.
// It returns "rule:ids" per alert, sorted.
func reference(rules []*crule, evs []schema.Event) []string {
	var out []string
	emit := func(r *crule, ids []uint64) {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatUint(id, 10)
		}
		out = append(out, r.id+":"+joinStrings(s))
	}
	accepts := func(st *cstep, e *schema.Event) bool { return st.hasType(e.Type) && st.pred(e, &evalScratch{}) }
	for _, r := range rules {
		if !r.seq {
			for i := range evs {
				if accepts(&r.steps[0], &evs[i]) {
					emit(r, []uint64{evs[i].ID})
				}
			}
			continue
		}
		var keys []string
		for i := range evs {
			for s := range r.steps {
				if k, ok := refKey(&r.steps[s], &evs[i]); ok && accepts(&r.steps[s], &evs[i]) && !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
		if r.sample {
			// Per key, each filter takes the first event since the last
			// alert that matches it (the table's sample filters never
			// match the same event, so the assignment is unique).
			for _, key := range keys {
				got := make([]uint64, r.nPos)
				filled := 0
				for i := range evs {
					e := &evs[i]
					for f := range r.nPos {
						st := &r.steps[f]
						if k, ok := refKey(st, e); ok && k == key && accepts(st, e) && got[f] == 0 {
							got[f] = e.ID
							filled++
							break
						}
					}
					if filled == r.nPos {
						emit(r, got)
						got, filled = make([]uint64, r.nPos), 0
					}
				}
			}
			continue
		}
		n := r.nPos
		type part struct {
			first uint64
			ids   []uint64
			ts    []uint64
		}
		// ruledOut applies Elastic's missing-event rules to a match of the
		// other steps, in hindsight over the whole log: an event of a
		// middle step strictly between its neighbours rules it out; the
		// latest leading event before it and the earliest trailing event
		// after it rule it out within maxspan (see doc.go).
		ruledOut := func(key string, p *part) bool {
			var lead, trail *uint64
			for m := r.nPos; m < len(r.steps); m++ {
				st := &r.steps[m]
				for i := range evs {
					e := &evs[i]
					ets := uint64(e.TsMono)
					if k, ok := refKey(st, e); !ok || k != key || !accepts(st, e) {
						continue
					}
					switch {
					case st.gap < 0:
						if ets < p.ts[0] && (lead == nil || ets > *lead) {
							lead = &ets
						}
					case st.gap == n-1:
						if ets > p.ts[n-1] && (trail == nil || ets < *trail) {
							trail = &ets
						}
					default:
						if ets > p.ts[st.gap] && ets < p.ts[st.gap+1] {
							return true
						}
					}
				}
			}
			within := func(from, to *uint64) bool { return from != nil && to != nil && *to-*from <= r.maxSpan }
			start, end := p.ts[0], p.ts[n-1]
			switch {
			case r.hasLead && r.hasTrail:
				return within(lead, trail)
			case r.hasLead:
				return within(lead, &end)
			case r.hasTrail:
				return within(&start, trail)
			}
			return false
		}
		for _, key := range keys {
			slots := make([]*part, max(n-1, 1)) // slots[i]: matched steps 0..i
			for i := range evs {
				e := &evs[i]
				ts := uint64(e.TsMono)
				if r.until != nil && accepts(r.until, e) {
					if k, ok := refKey(r.until, e); ok && k == key {
						clear(slots)
					}
					continue // an until event does nothing else
				}
				for s := n - 1; s >= 0; s-- { // last step first
					st := &r.steps[s]
					if k, ok := refKey(st, e); !ok || k != key || !accepts(st, e) {
						continue
					}
					if s == 0 {
						p := &part{first: ts, ids: []uint64{e.ID}, ts: []uint64{ts}}
						if n == 1 {
							if !ruledOut(key, p) {
								emit(r, p.ids)
							}
							continue
						}
						slots[0] = p
						continue
					}
					p := slots[s-1]
					if p == nil {
						continue
					}
					slots[s-1] = nil
					if r.hasMaxSpan && ts > p.first && ts-p.first > r.maxSpan {
						continue // too late: dropped
					}
					ids := append(slices.Clone(p.ids), e.ID)
					np := &part{first: p.first, ids: ids, ts: append(slices.Clone(p.ts), ts)}
					if s == n-1 {
						if !ruledOut(key, np) {
							emit(r, ids)
						}
						continue
					}
					slots[s] = np
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func joinStrings(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// feed is how runBus's producers share the log.
type feed int

const (
	// turnstile: the producers take turns by chunks of the log, so their
	// merged publish order is the log's, on an unordered bus.
	turnstile feed = iota
	// byEntity: producer k publishes the events of the entities k modulo
	// producers, free-running, each its own share in log order, on an
	// Ordered bus (engine.Config.Ordered).
	byEntity
	// roundRobin: producer k publishes events k, k+producers, ...,
	// free-running, on an Ordered bus: equal timestamps cross producers.
	roundRobin
)

func (f feed) String() string { return [...]string{"turnstile", "by entity", "round robin"}[f] }

// runBus runs evs through a bus of parts partitions with detection routed,
// published by producers goroutines whose merged order is the log's, and
// returns the alerts as sorted "rule:ids", the alerts' JSON sorted by
// (timestamp, event ids, rule), and the detector's stats.
func runBus(t testing.TB, rules []*rule.Package, evs []schema.Event, parts, producers int) ([]string, []string, Stats) {
	t.Helper()
	return runFeed(t, rules, evs, parts, producers, turnstile)
}

// runFeed is runBus with the log shared among the producers as f says.
func runFeed(t testing.TB, rules []*rule.Package, evs []schema.Event, parts, producers int, f feed) ([]string, []string, Stats) {
	t.Helper()
	c := &capture{}
	d, err := New(Config{Partitions: parts, Output: c, Rules: rules,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, parts) }})
	if err != nil {
		t.Fatal(err)
	}
	bcfg := engine.Config{Partitions: parts, QueueSize: 256, BackpressureTimeout: time.Minute, Ordered: f != turnstile}
	if parts > 1 {
		bcfg.Route = d.Route
	}
	bus, err := engine.New(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(d.Handle); err != nil {
		t.Fatal(err)
	}
	const chunk = 16
	var next atomic.Int64 // the first event not yet published: a turnstile
	var wg sync.WaitGroup
	if f != turnstile {
		freeRun(t, bus, evs, producers, f)
	}
	for pr := range producers {
		if f != turnstile {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := pr * chunk; start < len(evs); start += producers * chunk {
				for next.Load() != int64(start) {
					runtime.Gosched()
				}
				end := min(start+chunk, len(evs))
				if start%(3*chunk) == 0 { // one by one now and then: both paths
					for i := start; i < end; i++ {
						if err := bus.Publish(&evs[i]); err != nil {
							t.Error(err)
						}
					}
				} else if n, err := bus.PublishBatch(evs[start:end]); err != nil || n != end-start {
					t.Errorf("PublishBatch: %d, %v", n, err)
				}
				next.Store(int64(end))
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	d.Flush() // the end of input: held matches come out
	if tot := bus.Stats().Total(); tot.Dropped+tot.TimedOut != 0 {
		t.Fatalf("bus refused events: %+v", tot)
	}
	got := c.ids()
	slices.Sort(got)
	alerts := slices.Clone(c.alerts)
	slices.SortFunc(alerts, func(a, b *sink.Alert) int {
		if a.TsMono != b.TsMono {
			return cmp.Compare(a.TsMono, b.TsMono)
		}
		if c := slices.Compare(a.EventIDs, b.EventIDs); c != 0 {
			return c
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
	full := make([]string, len(alerts))
	for i, a := range alerts {
		full[i] = string(a.AppendJSON(nil))
	}
	return got, full, d.Stats()
}

// freeRun publishes evs from producers goroutines, each its share (by f) in
// log order, as fast as each goes, each through its own engine.Producer,
// closed when done: nothing orders them but the bus.
func freeRun(t testing.TB, bus *engine.Bus, evs []schema.Event, producers int, f feed) {
	t.Helper()
	shares := make([][]schema.Event, producers)
	for i := range evs {
		k := i % producers
		if f == byEntity {
			k = int(evs[i].Entity.Lo % uint64(producers))
		}
		shares[k] = append(shares[k], evs[i])
	}
	prods := make([]*engine.Producer, producers)
	for k := range prods {
		p, err := bus.Producer()
		if err != nil {
			t.Fatal(err)
		}
		prods[k] = p
	}
	var wg sync.WaitGroup
	for k, p := range prods {
		wg.Go(func() {
			defer p.Close()
			mine := shares[k]
			for start := 0; start < len(mine); start += 7 {
				end := min(start+7, len(mine))
				if start%3 == 0 { // one by one now and then: both paths
					for i := start; i < end; i++ {
						if err := p.Publish(&mine[i]); err != nil {
							t.Error(err)
						}
					}
				} else if n, err := p.PublishBatch(mine[start:end]); err != nil || n != end-start {
					t.Errorf("PublishBatch: %d, %v", n, err)
				}
			}
		})
	}
	wg.Wait()
}

// TestPartitionFree is the property the routing exists for: over random
// logs, the alerts of the example rules and the join-heavy rules are the
// same at every partition count and producer count, and the one-partition
// result is the reference matcher's.
func TestPartitionFree(t *testing.T) {
	rules := partitionRules(t)
	seeds, n := []uint64{1, 2, 3}, 1500
	if testing.Short() || raceEnabled {
		seeds, n = []uint64{1, 2}, 800
	}
	one, err := New(Config{Output: &capture{}, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range seeds {
		evs := genLog(t, seed, n)
		want := reference(one.rules, evs)
		perRule := map[string]int{}
		for _, a := range want {
			perRule[a[:indexByte(a, ':')]]++
		}
		t.Logf("seed %d: %d alerts by rule %v", seed, len(want), perRule)
		for _, r := range append(slices.Clone(joinRules), langRules...) {
			if perRule[r.id] == 0 {
				t.Errorf("seed %d: rule %s never matches: the log does not exercise it", seed, r.id)
			}
		}
		var first []string // the one-partition alerts, whole, in (timestamp, ids) order
		for _, parts := range []int{1, 2, 3, 4, 8} {
			for _, run := range []struct {
				producers int
				f         feed
			}{{1, turnstile}, {3, turnstile}, {1, byEntity}, {3, byEntity}, {3, roundRobin}} {
				producers := run.producers
				got, full, st := runFeed(t, rules, evs, parts, producers, run.f)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d, %d partitions, %d producers (%v): %d alerts, reference %d\nmissing %q\nextra %q",
						seed, parts, producers, run.f, len(got), len(want), minus(want, got), minus(got, want))
				}
				if first == nil {
					first = full
				} else if i := firstDiff(full, first); i >= 0 {
					t.Fatalf("seed %d, %d partitions, %d producers (%v): alert %d differs from one partition's:\n%s\n%s",
						seed, parts, producers, run.f, i, full[i], first[i])
				}
				if st.Events != uint64(len(evs)) {
					t.Fatalf("seed %d, %d partitions: %d events counted, want %d", seed, parts, st.Events, len(evs))
				}
				if parts == 1 && st.Copies != 0 {
					t.Fatalf("one partition made %d copies", st.Copies)
				}
			}
		}
	}
}

// TestManyPartitions routes across more partitions than a 64-bit mask
// names (engine.PartitionSet), on an unordered and an Ordered bus, and
// wants the reference's alerts.
func TestManyPartitions(t *testing.T) {
	rules := partitionRules(t)
	n := 1000
	if testing.Short() || raceEnabled {
		n = 500
	}
	evs := genLog(t, 7, n)
	one, err := New(Config{Output: &capture{}, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	want := reference(one.rules, evs)
	d, err := New(Config{Output: &capture{}, Rules: rules, Partitions: 100,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, 100) }})
	if err != nil {
		t.Fatal(err)
	}
	high := 0 // copies to partitions a 64-bit mask cannot name
	for i := range evs {
		set := d.Route(&evs[i])
		for p := 64; p < 100; p++ {
			if set.Has(p) {
				high++
			}
		}
	}
	if high == 0 {
		t.Fatal("no event routed beyond partition 63: the test proves nothing")
	}
	for _, f := range []feed{turnstile, roundRobin} {
		got, _, st := runFeed(t, rules, evs, 100, 3, f)
		if !slices.Equal(got, want) {
			t.Fatalf("100 partitions (%v): %d alerts, reference %d\nmissing %q\nextra %q", f, len(got), len(want), minus(want, got), minus(got, want))
		}
		if st.Copies == 0 {
			t.Fatalf("100 partitions (%v): no copies made", f)
		}
	}
}

// firstDiff returns the first index where a and b (of equal length)
// differ, or -1.
func firstDiff(a, b []string) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func indexByte(s string, b byte) int {
	for i := range len(s) {
		if s[i] == b {
			return i
		}
	}
	return len(s)
}

// minus returns what a has that b lacks (both sorted).
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// expectAtAllPartitions runs evs through rules at 1, 2, 3, 4 and 8
// partitions and wants exactly the alerts want (sorted) every time.
func expectAtAllPartitions(t *testing.T, rules []*rule.Package, evs []ev, want ...string) {
	t.Helper()
	built := make([]schema.Event, len(evs))
	for i, e := range evs {
		built[i] = e.build(t)
	}
	slices.Sort(want)
	for _, parts := range []int{1, 2, 3, 4, 8} {
		got, _, _ := runBus(t, rules, built, parts, 1)
		if !slices.Equal(got, want) {
			t.Fatalf("%d partitions: alerts %q, want %q", parts, got, want)
		}
	}
}

// Entity keys 1..9 in these tests are processes: each event carries its
// process's entity_id, and entity k's events sit on partition
// EntityPartition(k), so a join across entities crosses partitions.

func TestCrossProcessBy(t *testing.T) {
	r := pkg(t, "r", `sequence by user.name [process where process.name == "sudo"] [file where file.path == "/etc/shadow"]`)
	expectAtAllPartitions(t, []*rule.Package{r}, []ev{
		{1, "process_exec", 0, 1, []any{"user.name", "alice", "process.name", "sudo"}},
		{2, "process_exec", 1, 2, []any{"user.name", "bob", "process.name", "sudo"}},
		{3, "file_open", 2, 3, []any{"user.name", "alice", "file.path", "/etc/shadow"}}, // alice, other process
		{4, "file_open", 3, 4, []any{"user.name", "carol", "file.path", "/etc/shadow"}},
		{5, "file_open", 4, 5, []any{"user.name", "bob", "file.path", "/etc/shadow"}},
	}, "r:1,3", "r:2,5")
}

func TestParentChild(t *testing.T) {
	r := pkg(t, "r", `sequence with maxspan=10s
  [process where process.name == "bash"] by process.entity_id
  [process where process.name == "curl"] by process.parent.entity_id`)
	expectAtAllPartitions(t, []*rule.Package{r}, []ev{
		{1, "process_exec", 0, 1, []any{"process.entity_id", "p1", "process.parent.entity_id", "p0", "process.name", "bash"}},
		{2, "process_exec", 1, 2, []any{"process.entity_id", "p2", "process.parent.entity_id", "p0", "process.name", "bash"}},
		{3, "process_exec", 2, 3, []any{"process.entity_id", "p3", "process.parent.entity_id", "p2", "process.name", "curl"}},
		{4, "process_exec", 3, 4, []any{"process.entity_id", "p4", "process.parent.entity_id", "p9", "process.name", "curl"}},
		{5, "process_exec", 4, 5, []any{"process.entity_id", "p5", "process.parent.entity_id", "p1", "process.name", "curl"}},
	}, "r:2,3", "r:1,5")
}

func TestUntilFromAnotherEntity(t *testing.T) {
	r := pkg(t, "r", `sequence by user.name
  [process where process.name == "ssh"] [network where network.dest_port == 22]
until [process where event.action == "logout"]`)
	expectAtAllPartitions(t, []*rule.Package{r}, []ev{
		{1, "process_exec", 0, 1, []any{"user.name", "alice", "process.name", "ssh"}},
		{2, "process_exec", 0, 2, []any{"user.name", "bob", "process.name", "ssh"}},
		{3, "process_exit", 1, 7, []any{"user.name", "alice", "event.action", "logout"}}, // another process ends alice's session
		{4, "network_connect", 2, 1, []any{"user.name", "alice", "network.dest_port", uint64(22)}},
		{5, "network_connect", 3, 2, []any{"user.name", "bob", "network.dest_port", uint64(22)}},
	}, "r:2,5")
}

func TestGlobalSequence(t *testing.T) {
	r := pkg(t, "r", `sequence [process where process.name == "nc"] [network where network.dest_port == 4444]`)
	expectAtAllPartitions(t, []*rule.Package{r}, []ev{
		{1, "process_exec", 0, 1, []any{"process.name", "nc"}},
		{2, "network_connect", 1, 2, []any{"network.dest_port", uint64(4444)}}, // another process
		{3, "network_connect", 2, 3, []any{"network.dest_port", uint64(4444)}}, // nothing pending
		{4, "process_exec", 3, 4, []any{"process.name", "nc"}},
		{5, "process_exec", 4, 5, []any{"process.name", "nc"}}, // replaces 4
		{6, "network_connect", 5, 6, []any{"network.dest_port", uint64(4444)}},
	}, "r:1,2", "r:5,6")
}

func TestRunsAcrossPartitions(t *testing.T) {
	r := pkg(t, "r", `sequence by user.name
  [file where file.path == "/tmp/x"] with runs=3
  [process where process.name == "rm"]`)
	expectAtAllPartitions(t, []*rule.Package{r}, []ev{
		{1, "file_open", 0, 1, []any{"user.name", "eve", "file.path", "/tmp/x"}},
		{2, "file_open", 1, 2, []any{"user.name", "eve", "file.path", "/tmp/x"}},
		{3, "file_open", 2, 3, []any{"user.name", "bob", "file.path", "/tmp/x"}},
		{4, "file_open", 3, 4, []any{"user.name", "eve", "file.path", "/tmp/x"}},
		{5, "process_exec", 4, 5, []any{"user.name", "bob", "process.name", "rm"}},
		{6, "process_exec", 5, 6, []any{"user.name", "eve", "process.name", "rm"}},
	}, "r:1,2,4,6")
}

func TestRoutingDescription(t *testing.T) {
	f := func(src, wantKey string) {
		t.Helper()
		if key, route := Routing(pkg(t, "r", src)); key != wantKey || route == "" {
			t.Fatalf("%s: join key %q (%s), want %q", src, key, route, wantKey)
		}
	}
	f(`process where true`, "-")
	for _, r := range joinRules {
		switch r.id {
		case "jh-global":
			f(r.src, "global")
		case "jh-parent":
			f(r.src, "process.entity_id = process.parent.entity_id")
		case "jh-user":
			f(r.src, "user.name")
		}
	}
}
