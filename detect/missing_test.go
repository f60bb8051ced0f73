package detect

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// elasticReg is the schema of Elastic's EQL missing-event test data
// (x-pack/plugin/eql/qa/common/src/main/resources/data/missing-events.data):
// event types test1..test5 with tag, k1, k2 and sequence fields.
func elasticReg(t testing.TB) *schema.Registry {
	t.Helper()
	reg := schema.NewRegistry()
	if _, err := reg.RegisterFields(schema.FieldDef{Path: "tag", DataType: schema.TypeString},
		schema.FieldDef{Path: "k1", DataType: schema.TypeString}, schema.FieldDef{Path: "k2", DataType: schema.TypeString},
		schema.FieldDef{Path: "sequence", DataType: schema.TypeI64}, schema.FieldDef{Path: "n", DataType: schema.TypeI64},
		schema.FieldDef{Path: "host", DataType: schema.TypeString}, schema.FieldDef{Path: "ip", DataType: schema.TypeString},
		schema.FieldDef{Path: "name", DataType: schema.TypeString}, schema.FieldDef{Path: "user", DataType: schema.TypeString},
		schema.FieldDef{Path: "code", DataType: schema.TypeString}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"test1", "test2", "test3", "test4", "test5", "file", "process", "network", "authentication"} {
		if _, err := reg.RegisterEventType(n); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// xev is an event of elasticReg: its id is Elastic's "sequence" number.
type xev struct {
	id   uint64
	typ  string
	at   time.Duration
	tag  string
	k1   string
	k2   string
	more []any // path, value...
}

func (e xev) build(t testing.TB, reg *schema.Registry) schema.Event {
	t.Helper()
	b := schema.NewBuilder(reg).ID(e.id).TypeName(e.typ).Mono(schema.TimestampMono(e.at)).
		Wall(schema.TimestampWall(int64(e.at))).Entity(schema.EntityKeyFrom64(e.id%5+1)).
		Path("sequence", value.I64Value(int64(e.id)))
	if e.tag != "" {
		b.Path("tag", value.StringValue(e.tag))
	}
	if e.k1 != "" {
		b.Path("k1", value.StringValue(e.k1))
	}
	if e.k2 != "" {
		b.Path("k2", value.StringValue(e.k2))
	}
	for i := 0; i+1 < len(e.more); i += 2 {
		b.Path(e.more[i].(string), toValue(e.more[i+1]))
	}
	out, err := b.Build()
	if err != nil {
		t.Fatalf("event %d: %v", e.id, err)
	}
	return out
}

// runRouted runs evs through a Detector of parts partitions as a bus
// routing by Route would, in log order, then flushes it at the end of
// input. It returns the alerts as sorted "rule:ids".
func runRouted(t testing.TB, rules []*rule.Package, evs []schema.Event, parts int) ([]string, *Detector) {
	t.Helper()
	c := &capture{}
	d, err := New(Config{Partitions: parts, Output: c, Rules: rules,
		EntityPartition: func(k schema.EntityKey) int { return int(k.Lo % uint64(parts)) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		e := &evs[i]
		m := d.Route(e)
		m.Add(d.home(e))
		for p := range parts {
			if m.Has(p) {
				d.Handle(p, []*schema.Event{e})
			}
		}
	}
	d.Flush()
	got := c.ids()
	slices.Sort(got)
	return got, d
}

func xpkg(t testing.TB, reg *schema.Registry, id, src string) *rule.Package {
	t.Helper()
	q, err := rule.Compile(id+".eql", src, reg)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id}, Source: src, Query: q}
}

// Elastic's missing-event test data, by event type.
var elasticMissing = map[string][]xev{
	"test1": {{id: 1, at: 1 * time.Millisecond, tag: "normal"}, {id: 2, at: 2 * time.Millisecond, tag: "normal"},
		{id: 3, at: 3 * time.Millisecond, tag: "missing"}, {id: 4, at: 4 * time.Millisecond, tag: "normal"}},
	"test2": {{id: 1, at: 0, tag: "normal"}, {id: 2, at: time.Millisecond, tag: "normal"},
		{id: 3, at: 2 * time.Millisecond, tag: "missing"}, {id: 4, at: 3 * time.Millisecond, tag: "normal"},
		{id: 5, at: 4 * time.Millisecond, tag: "normal"}, {id: 6, at: 5 * time.Millisecond, tag: "missing"},
		{id: 7, at: 2*time.Minute + 6*time.Millisecond, tag: "missing2"}, {id: 8, at: 3*time.Minute + 6*time.Millisecond, tag: "missing2"}},
	"test3": {{id: 1, at: 0, tag: "missing"}, {id: 2, at: 10*time.Minute + time.Millisecond, tag: "normal"},
		{id: 3, at: 20*time.Minute + time.Millisecond, tag: "missing"}, {id: 4, at: 21*time.Minute + time.Millisecond, tag: "normal"},
		{id: 5, at: 29*time.Minute + time.Millisecond, tag: "normal"}, {id: 6, at: 31*time.Minute + time.Millisecond, tag: "normal"}},
	"test4": func() []xev {
		var out []xev
		for i, tag := range strings.Fields("A B M1 B C M2 D M1 C B C D A B M3 C D M4") {
			out = append(out, xev{id: uint64(i + 1), at: time.Duration(i+1) * time.Millisecond, tag: tag})
		}
		return out
	}(),
	"test5": {{id: 1, at: 0, tag: "normal", k1: "foo", k2: "foo"}, {id: 2, at: 1 * time.Millisecond, tag: "normal", k1: "foo", k2: "foo"},
		{id: 3, at: 3 * time.Millisecond, tag: "missing", k1: "foo", k2: "foo"}, {id: 4, at: 4 * time.Millisecond, tag: "normal", k1: "foo", k2: "foo"},
		{id: 5, at: 5 * time.Millisecond, tag: "normal", k1: "foo", k2: "foo"}, {id: 6, at: 6 * time.Millisecond, tag: "normal", k1: "foo", k2: "foo"},
		{id: 7, at: 7 * time.Millisecond, tag: "missing", k1: "foo", k2: "bar"}, {id: 8, at: 8 * time.Millisecond, tag: "normal", k1: "foo", k2: "foo"},
		{id: 9, at: 9 * time.Millisecond, tag: "normal", k1: "baz", k2: "baz"}, {id: 10, at: 10 * time.Millisecond, tag: "normal", k1: "baz", k2: "baz"},
		{id: 11, at: 11 * time.Millisecond, tag: "missing", k1: "baz", k2: "foo"}, {id: 12, at: 12 * time.Millisecond, tag: "normal", k1: "baz", k2: "baz"}},
}

// TestElasticMissingEvents runs Elastic's own missing-event conformance
// queries (x-pack/plugin/eql/qa/common/src/main/resources/test_missing_events.toml,
// the ones without pipes) over its test data, with its documented results
// (the -1 placeholders of missing steps left out), at several partition
// counts.
func TestElasticMissingEvents(t *testing.T) {
	reg := elasticReg(t)
	f := func(name, data, src string, want ...string) {
		t.Helper()
		var evs []schema.Event
		for _, e := range elasticMissing[data] {
			e.typ = data
			evs = append(evs, e.build(t, reg))
		}
		rules := []*rule.Package{xpkg(t, reg, name, src)}
		for i := range want {
			want[i] = name + ":" + want[i]
		}
		slices.Sort(want)
		for _, parts := range []int{1, 2, 3, 4, 8} {
			got, d := runRouted(t, rules, evs, parts)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s at %d partitions: %q, want %q", name, parts, got, want)
			}
			if st := d.Stats(); st.Held != 0 {
				t.Fatalf("%s: %d matches still held after Flush", name, st.Held)
			}
		}
	}
	f("missingInBetween_noMatches", "test1", `sequence with maxspan=1s
    [ test1 where tag == "normal" ]
   ![ test1 where tag == "nonexisting"]
    [ test1 where tag == "normal" ]`, "1,2", "2,4")
	f("missingInBetween_match", "test1", `sequence with maxspan=1s
    [ test1 where tag == "normal" ]
   ![ test1 where tag == "missing"]
    [ test1 where tag == "normal" ]`, "1,2")
	f("positivePlusMissing", "test1", `sequence with maxspan=1s
    [ test1 where tag == "normal" ]
   ![ test1 where tag == "missing"]`, "4")
	f("skipFirstMatchAndPickSecondCandidate", "test2", `sequence with maxspan=1s
    [ test2 where tag == "normal" ]
    [ test2 where tag == "normal" ]
   ![ test2 where tag == "missing"]
    [ test2 where tag == "normal" ]`, "2,4,5")
	f("leadingSimple", "test3", `sequence with maxspan=3m
   ![ test3 where tag == "missing" ]
    [ test3 where tag == "normal" ]`, "2", "5", "6")
	f("leadingAndTrailingExcluded1", "test3", `sequence with maxspan=19m
   ![ test3 where tag == "missing" ]
    [ test3 where tag == "normal" ]
   ![ test3 where tag == "missing" ]`, "2", "4", "5", "6")
	f("leadingAndTrailingExcluded2", "test3", `sequence with maxspan=21m
   ![ test3 where tag == "missing" ]
    [ test3 where tag == "normal" ]
   ![ test3 where tag == "missing" ]`, "4", "5", "6")
	f("multipleMissing1", "test4", `sequence with maxspan=1s
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
   ![ test4 where tag == "M1"]
    [ test4 where tag == "C" ]
   ![ test4 where tag == "M2"]
    [ test4 where tag == "D" ]`, "13,14,16,17")
	f("multipleMissing2", "test4", `sequence with maxspan=1s
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
   ![ test4 where tag == "M1"]
    [ test4 where tag == "C" ]
    [ test4 where tag == "D" ]`, "13,14,16,17")
	f("multipleMissing3", "test4", `sequence with maxspan=1s
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
    [ test4 where tag == "C" ]
   ![ test4 where tag == "M2"]
    [ test4 where tag == "D" ]`, "13,14,16,17")
	f("multipleMissing4", "test4", `sequence with maxspan=1s
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
   ![ test4 where tag == "M1"]
    [ test4 where tag == "C" ]
   ![ test4 where tag == "M2"]
    [ test4 where tag == "D" ]
   ![ test4 where tag == "M4"]`)
	f("multipleMissing5", "test4", `sequence with maxspan=1s
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
   ![ test4 where tag == "none"]
    [ test4 where tag == "C" ]
   ![ test4 where tag == "none"]
    [ test4 where tag == "D" ]`, "1,2,5,7", "13,14,16,17")
	f("multipleMissing6", "test4", `sequence with maxspan=1s
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
    [ test4 where tag == "C" ]
   ![ test4 where tag == "M2"]
    [ test4 where tag == "D" ]
   ![ test4 where tag == "none"]`, "13,14,16,17")
	f("multipleMissing7", "test4", `sequence with maxspan=1s
   ![ test4 where tag == "none"]
    [ test4 where tag == "A" ]
    [ test4 where tag == "B" ]
    [ test4 where tag == "C" ]
   ![ test4 where tag == "M2"]
    [ test4 where tag == "D" ]`, "13,14,16,17")
	f("withByKey1", "test5", `sequence by k1 with maxspan=1s
    [ test5 where tag == "normal" ]
    [ test5 where tag == "normal" ]
   ![ test5 where tag == "missing" ]
    [ test5 where tag == "normal" ]`, "2,4,5", "4,5,6")
	f("withByKey2", "test5", `sequence with maxspan=1s
    [ test5 where tag == "normal" ] by k1
    [ test5 where tag == "normal" ] by k1
   ![ test5 where tag == "missing" ] by k1
    [ test5 where tag == "normal" ] by k1`, "2,4,5", "4,5,6")
	byK2 := []string{"2,4,5", "4,5,6", "5,6,8", "9,10,12"}
	f("withByKey3", "test5", `sequence with maxspan=1s
    [ test5 where tag == "normal" ] by k1
    [ test5 where tag == "normal" ] by k1
   ![ test5 where tag == "missing" ] by k2
    [ test5 where tag == "normal" ] by k1`, slices.Clone(byK2)...)
	f("withByKey4", "test5", `sequence by k2 with maxspan=1s
    [ test5 where tag == "normal" ]
    [ test5 where tag == "normal" ]
   ![ test5 where tag == "missing" ]
    [ test5 where tag == "normal" ]`, slices.Clone(byK2)...)
	f("withByKey5", "test5", `sequence by k1 with maxspan=1s
    [ test5 where tag == "normal" ] by k2
    [ test5 where tag == "normal" ] by k2
   ![ test5 where tag == "missing" ] by k2
    [ test5 where tag == "normal" ] by k2`, slices.Clone(byK2)...)
	f("withByKey6", "test5", "sequence by k1 with maxspan=1s\n"+
		"    [ test5 where tag == \"normal\" ] by k2\n"+
		"    [ test5 where tag == \"normal\" ] by k2\n"+
		"   ![ test5 where tag == \"missing\" and `sequence` > 10 ] by k2\n"+
		"    [ test5 where tag == \"normal\" ] by k2", "1,2,4", "2,4,5", "4,5,6", "5,6,8", "9,10,12")
	f("withByKey_runs", "test5", `sequence by k1 with maxspan=1s
    [ test5 where tag == "normal" ] by k2 with runs=2
   ![ test5 where tag == "missing" ] by k2
    [ test5 where tag == "normal" ] by k2`, slices.Clone(byK2)...)
	f("withByKey_runsOnMissing", "test5", `sequence by k1 with maxspan=1s
    [ test5 where tag == "normal" ] by k2 with runs=2
   ![ test5 where tag == "missing" ] by k2 with runs=2
    [ test5 where tag == "normal" ] by k2`, slices.Clone(byK2)...)
}

// TestMissingStreaming runs Elastic's documented missing-event example
// (logons not followed by a logoff within 5s) as a stream: a match waits
// while a logoff may still come, and comes out once event time passes its
// window, when the logoff comes too late, or at Flush.
func TestMissingStreaming(t *testing.T) {
	reg := elasticReg(t)
	r := xpkg(t, reg, "nologoff", `sequence by host, user with maxspan=5s
  [ authentication where code : "4624" ]
  ![ authentication where code : "4647" ]`)
	c := &capture{}
	d, err := New(Config{Output: c, Rules: []*rule.Package{r}})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(id uint64, at time.Duration, host, code string) {
		t.Helper()
		e := xev{id: id, typ: "authentication", at: at, more: []any{"host", host, "user", "u", "code", code}}.build(t, reg)
		d.Handle(0, []*schema.Event{&e})
	}
	expect := func(held, vetoed uint64, want ...string) {
		t.Helper()
		expectAlerts(t, c, want...)
		if st := d.Stats(); st.Held != held || st.Vetoed != vetoed {
			t.Fatalf("held %d vetoed %d, want %d %d", st.Held, st.Vetoed, held, vetoed)
		}
	}
	feed(1, 0, "h1", "4624")
	expect(1, 0)
	feed(2, 3*time.Second, "h1", "4647") // logoff within 5s: no alert
	expect(0, 1)
	feed(3, 10*time.Second, "h1", "4624")
	feed(4, 15*time.Second, "h2", "x") // the window's end, not past it
	expect(1, 1)
	feed(5, 15*time.Second+1, "h2", "x") // past it: the logon alerts
	expect(0, 1, "nologoff:3")
	feed(6, 20*time.Second, "h1", "4624")
	feed(7, 25*time.Second, "h1", "4647") // exactly maxspan after: within
	expect(0, 2, "nologoff:3")
	feed(8, 30*time.Second, "h1", "4624")
	feed(9, 35*time.Second+1, "h1", "4647") // too late to rule it out
	expect(0, 2, "nologoff:3", "nologoff:8")
	feed(10, 40*time.Second, "h1", "4624")
	feed(11, 40*time.Second, "h1", "4647") // same time: not after it
	expect(1, 2, "nologoff:3", "nologoff:8")
	d.Flush() // the end of input: nothing can rule it out any more
	expect(0, 2, "nologoff:3", "nologoff:8", "nologoff:10")
	a := c.alerts[2]
	if a.TsMono != schema.TimestampMono(40*time.Second) || len(a.Fields) < 2 || a.Fields[0].Path != "host" {
		t.Fatalf("alert %+v", a)
	}
	if st := d.Stats(); st.States != 0 || st.Bytes != 0 {
		t.Fatalf("state left after Flush: %+v", st)
	}
}

// TestMissingTies checks "between" and "before" on equal timestamps: an
// event of a missing-event step at the time of a step's event is not
// between two steps, nor before the first; the latest earlier one is.
func TestMissingTies(t *testing.T) {
	reg := elasticReg(t)
	mid := xpkg(t, reg, "mid", `sequence by k1 with maxspan=1m
  [test1 where tag == "a"] ![test1 where tag == "m"] [test1 where tag == "b"]`)
	lead := xpkg(t, reg, "lead", `sequence by k1 with maxspan=1m
  ![test1 where tag == "m"] [test1 where tag == "a"] [test1 where tag == "b"]`)
	until := xpkg(t, reg, "until", `sequence by k1 with maxspan=1m
  [test1 where tag == "a"] [test1 where tag == "b"] ![test1 where tag == "m"]
until [test1 where tag == "stop"]`)
	f := func(rules []*rule.Package, evs []xev, want ...string) {
		t.Helper()
		var log []schema.Event
		for _, e := range evs {
			e.typ, e.k1 = "test1", "k"
			log = append(log, e.build(t, reg))
		}
		for _, parts := range []int{1, 3} {
			got, _ := runRouted(t, rules, log, parts)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%d partitions: %q, want %q", parts, got, want)
			}
		}
	}
	s := time.Second
	one := []*rule.Package{mid}
	f(one, []xev{{id: 1, at: s, tag: "m"}, {id: 2, at: s, tag: "a"}, {id: 3, at: 2 * s, tag: "b"}}, "mid:2,3")
	f(one, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: s, tag: "m"}, {id: 3, at: 2 * s, tag: "b"}}, "mid:1,3")
	f(one, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: 2 * s, tag: "m"}, {id: 3, at: 2 * s, tag: "b"}}, "mid:1,3")
	f(one, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: 2 * s, tag: "b"}, {id: 3, at: 2 * s, tag: "m"}}, "mid:1,2")
	f(one, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: s + 1, tag: "m"}, {id: 3, at: 2 * s, tag: "b"}})
	// The vetoed match still took the partial: the next a starts afresh.
	f(one, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: s + 1, tag: "m"}, {id: 3, at: 2 * s, tag: "b"},
		{id: 4, at: 3 * s, tag: "a"}, {id: 5, at: 4 * s, tag: "b"}}, "mid:4,5")
	two := []*rule.Package{lead}
	f(two, []xev{{id: 1, at: s, tag: "m"}, {id: 2, at: 2 * s, tag: "a"}, {id: 3, at: 3 * s, tag: "b"}})
	f(two, []xev{{id: 1, at: 2 * s, tag: "m"}, {id: 2, at: 2 * s, tag: "a"}, {id: 3, at: 3 * s, tag: "b"}}, "lead:2,3")
	f(two, []xev{{id: 1, at: s, tag: "m"}, {id: 2, at: 2 * s, tag: "m"}, {id: 3, at: 2 * s, tag: "a"}, {id: 4, at: 3 * s, tag: "b"}})
	f(two, []xev{{id: 1, at: 0, tag: "m"}, {id: 2, at: 61 * s, tag: "a"}, {id: 3, at: 62 * s, tag: "b"}}, "lead:2,3")
	// The lead's window is judged from the last event: maxspan before it.
	f(two, []xev{{id: 1, at: 0, tag: "m"}, {id: 2, at: 30 * s, tag: "a"}, {id: 3, at: 59 * s, tag: "b"}})
	f(two, []xev{{id: 1, at: 0, tag: "m"}, {id: 2, at: 30 * s, tag: "a"}, {id: 3, at: 61 * s, tag: "b"}}, "lead:2,3")
	// until ends partial matches, not one already held.
	three := []*rule.Package{until}
	f(three, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: 2 * s, tag: "b"}, {id: 3, at: 3 * s, tag: "stop"}}, "until:1,2")
	f(three, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: 2 * s, tag: "stop"}, {id: 3, at: 3 * s, tag: "b"}})
	f(three, []xev{{id: 1, at: s, tag: "a"}, {id: 2, at: 2 * s, tag: "b"}, {id: 3, at: 3 * s, tag: "stop"}, {id: 4, at: 4 * s, tag: "m"}})
}

// TestMissingHeldEvicted checks that held matches count against the
// state bounds and are counted when evicted.
func TestMissingHeldEvicted(t *testing.T) {
	reg := elasticReg(t)
	r := xpkg(t, reg, "trail", `sequence by k1 with maxspan=1m [test1 where tag == "a"] ![test1 where tag == "m"]`)
	c := &capture{}
	d, err := New(Config{Output: c, Rules: []*rule.Package{r}, MaxStatesPerRule: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"x", "y", "z"} {
		e := xev{id: uint64(i + 1), typ: "test1", at: time.Second, tag: "a", k1: k}.build(t, reg)
		d.Handle(0, []*schema.Event{&e})
	}
	st := d.Stats()
	if st.Held != 2 || st.Evicted.Capacity != 1 || st.States != 2 || st.Bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	d.Flush()
	got := c.ids()
	slices.Sort(got)
	if !slices.Equal(got, []string{"trail:2", "trail:3"}) {
		t.Fatalf("alerts %q", got)
	}
}

// TestSample checks sample queries: unordered, one event per filter,
// joined by key, the key starting afresh after each alert; an event that
// matches several filters moves to make room for one that matches fewer.
func TestSample(t *testing.T) {
	reg := elasticReg(t)
	doc := xpkg(t, reg, "doc", `sample by host
  [ file where name == "a.exe" ]
  [ process where true ]`)
	overlap := xpkg(t, reg, "overlap", `sample by host
  [ process where name in ("a", "b") ]
  [ process where name == "a" ]`)
	keys := xpkg(t, reg, "keys", `sample
  [ process where name == "p" ] by host
  [ network where true ] by ip`)
	f := func(rules []*rule.Package, evs []xev, want ...string) {
		t.Helper()
		var log []schema.Event
		for _, e := range evs {
			log = append(log, e.build(t, reg))
		}
		for _, parts := range []int{1, 2, 3, 4, 8} {
			got, d := runRouted(t, rules, log, parts)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%d partitions: %q, want %q", parts, got, want)
			}
			if st := d.Stats(); st.Alerts != uint64(len(want)) {
				t.Fatalf("stats %+v", st)
			}
		}
	}
	s := time.Second
	h := func(id uint64, typ string, at time.Duration, host, name string) xev {
		return xev{id: id, typ: typ, at: at, more: []any{"host", host, "name", name}}
	}
	one := []*rule.Package{doc}
	f(one, []xev{h(1, "process", s, "h1", "x"), h(2, "file", 2*s, "h2", "a.exe"), h(3, "file", 3*s, "h1", "a.exe")}, "doc:3,1")
	f(one, []xev{h(1, "file", s, "h1", "a.exe"), h(2, "file", 2*s, "h1", "a.exe"), h(3, "process", 3*s, "h1", "x"),
		h(4, "process", 4*s, "h1", "y"), h(5, "file", 5*s, "h1", "a.exe")}, "doc:1,3", "doc:5,4")
	f(one, []xev{h(1, "file", s, "h1", "b.exe"), h(2, "process", 2*s, "h1", "x")})
	two := []*rule.Package{overlap}
	f(two, []xev{h(1, "process", s, "h1", "a"), h(2, "process", 2*s, "h1", "b")}, "overlap:2,1")
	f(two, []xev{h(1, "process", s, "h1", "b"), h(2, "process", 2*s, "h1", "b"), h(3, "process", 3*s, "h1", "a")}, "overlap:1,3")
	f(two, []xev{h(1, "process", s, "h1", "a"), h(2, "process", 2*s, "h2", "a")})
	three := []*rule.Package{keys}
	f(three, []xev{{id: 1, typ: "network", at: s, more: []any{"ip", "10.0.0.1"}}, h(2, "process", 2*s, "10.0.0.1", "p"),
		{id: 3, typ: "network", at: 3 * s, more: []any{"ip", "10.0.0.2"}}}, "keys:2,1")
}

// TestOperandTests checks in, :, like, regex and cidrMatch with an
// expression on the left, matching and not, and that they allocate
// nothing.
func TestOperandTests(t *testing.T) {
	e := ev{1, "process_exec", time.Second, 1, []any{
		"process.name", "Regsvr32.exe", "process.pid", 4, "process.command_line", "start regsvr32.exe",
		"source.ip", "10.1.2.3", "process.parent.name", "cmd.exe",
	}}
	f := func(cond string, want bool) {
		t.Helper()
		q, err := rule.Compile("x.eql", "any where "+cond, testReg)
		if err != nil {
			t.Fatalf("%s: %v", cond, err)
		}
		p := &rule.Package{Manifest: &rule.Manifest{RuleID: "r", RuleName: "r"}, Query: q}
		for _, noIndex := range []bool{false, true} {
			_, got := run(t, Config{Rules: []*rule.Package{p}, NoIndex: noIndex}, []ev{e})
			if (len(got.ids()) == 1) != want {
				t.Fatalf("%s (NoIndex %v): matched %v, want %v", cond, noIndex, !want, want)
			}
		}
	}
	f(`length(process.name) in (12, 13)`, true)
	f(`length(process.name) in (1, 2)`, false)
	f(`length(process.name) not in (1, 2)`, true)
	f(`process.pid * 2 in (8)`, true)
	f(`(process.pid + 0.5) in (4.5)`, true)
	f(`substring(process.name, 0, 3) in ("Reg")`, true)
	f(`substring(process.name, 0, 3) in ("reg")`, false)
	f(`substring(process.name, 0, 3) in~ ("reg", "x")`, true)
	f(`substring(?no.such.field, 0, 3) in ("a", null)`, true)
	f(`substring(?no.such.field, 0, 3) in ("a")`, false)
	f(`concat(process.name, "/", process.pid) : "regsvr32.EXE/?"`, true)
	f(`concat(process.name, "/", process.pid) : ("x*", "*/5")`, false)
	f(`substring(process.command_line, 6) like "regsvr*"`, true)
	f(`substring(process.command_line, 6) like "REGSVR*"`, false)
	f(`substring(process.command_line, 6) like~ "REGSVR*"`, true)
	f(`string(process.pid) regex "[0-9]+"`, true)
	f(`string(process.pid) regex "[a-z]+"`, false)
	f(`process.name regex~ "REGSVR.*" and substring(process.name, 0, 3) regex~ "REG"`, true)
	f(`cidrMatch(concat(source.ip, ""), "10.0.0.0/8", "192.168.0.0/16")`, true)
	f(`cidrMatch(concat(source.ip, ""), "192.168.0.0/16")`, false)
	f(`cidrMatch(substring(process.name, 0, 3), "10.0.0.0/8")`, false)
	f(`not cidrMatch(concat(?no.such.field, ""), "10.0.0.0/8")`, true)
}

// TestOperandTestsNoAllocs proves that tests on expressions, and the
// missing-event and sample paths that only keep state, allocate nothing
// per event.
func TestOperandTestsNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rules := []*rule.Package{
		pkg(t, "ops", `process where length(process.name) in (2, 3) and substring(process.name, 0, 1) in~ ("L") and
  concat(process.name, "-", process.pid) : "ls-*" and string(process.pid) regex "[0-9]+" and
  cidrMatch(concat(source.ip, ""), "10.0.0.0/8") and concat(process.name, "x") like~ "LSX"`),
		pkg(t, "gap", `sequence by process.entity_id with maxspan=10s
  [process where process.name == "ls"] ![file where file.path == "/x"] [network where true]`),
		pkg(t, "smp", `sample by process.entity_id [process where process.name == "ls"] [file where true] [network where network.dest_port == 1]`),
	}
	c := &capture{}
	d, err := New(Config{Output: c, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	e := ev{1, "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.name", "ls", "process.pid", 10,
		"source.ip", "10.0.0.1"}}.build(t)
	mis := ev{2, "file_open", time.Second, 1, []any{"process.entity_id", "p1", "file.path", "/x"}}.build(t)
	// e2 fails only the last tests of "ops": it runs them all but alerts not.
	e2 := ev{3, "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.name", "ls", "process.pid", 10,
		"source.ip", "192.168.0.1"}}.build(t)
	d.Handle(0, []*schema.Event{&e})
	if len(c.ids()) != 1 {
		t.Fatalf("the rule did not match: %v", c.ids())
	}
	cr := d.rules[0]
	sc := &evalScratch{}
	if n := testing.AllocsPerRun(1000, func() {
		if !cr.steps[0].pred(&e, sc) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Fatalf("%v allocs per evaluation", n)
	}
	batch := []*schema.Event{&e2, &mis, &e2, &mis}
	d.Handle(0, batch)
	if n := testing.AllocsPerRun(1000, func() { d.Handle(0, batch) }); n != 0 {
		t.Fatalf("%v allocs per batch", n)
	}
}

// TestPartitionRulesVeto checks that the random logs of TestPartitionFree
// exercise the missing-event rules of its table: some of their matches
// are ruled out, some held, so the property covers both.
func TestPartitionRulesVeto(t *testing.T) {
	var rules []*rule.Package
	for _, r := range langRules {
		if r.id != "jh-sample" {
			rules = append(rules, pkg(t, r.id, r.src))
		}
	}
	for _, seed := range []uint64{1, 2, 3} {
		_, d := runRouted(t, rules, genLog(t, seed, 800), 3)
		for _, rs := range d.Stats().Rules {
			if rs.Vetoed == 0 || rs.Alerts == 0 {
				t.Errorf("seed %d: %s: %d alerts, %d vetoed: the log does not exercise it", seed, rs.ID, rs.Alerts, rs.Vetoed)
			}
		}
	}
}

// TestMissingUntilEvent checks that an event matching until and a
// missing-event step is both: it ends partial matches and rules out.
func TestMissingUntilEvent(t *testing.T) {
	reg := elasticReg(t)
	r := xpkg(t, reg, "both", `sequence by k1 with maxspan=1m
  [test1 where tag == "a"] [test1 where tag == "b"] ![test1 where tag == "x"]
until [test1 where tag == "x"]`)
	var log []schema.Event
	for _, e := range []xev{{id: 1, at: time.Second, tag: "a"}, {id: 2, at: 2 * time.Second, tag: "b"},
		{id: 3, at: 3 * time.Second, tag: "a"}, {id: 4, at: 4 * time.Second, tag: "x"}, {id: 5, at: 5 * time.Second, tag: "b"}} {
		e.typ, e.k1 = "test1", "k"
		log = append(log, e.build(t, reg))
	}
	for _, parts := range []int{1, 2, 4} {
		got, d := runRouted(t, []*rule.Package{r}, log, parts)
		if len(got) != 0 {
			t.Fatalf("%d partitions: %q", parts, got)
		}
		if st := d.Stats(); st.Vetoed != 1 || st.Evicted.Terminated != 1 {
			t.Fatalf("%d partitions: stats %+v", parts, st)
		}
	}
}

// BenchmarkLanguage measures, over the generated mix, a sequence with a
// middle missing-event step, one with a trailing one (matches held, then
// released as event time passes), a sample, and tests on expressions
// (length in, concat :, cidrMatch of an expression), each alone.
func BenchmarkLanguage(b *testing.B) {
	for _, c := range []struct{ name, src string }{
		{"missing-middle", `sequence with maxspan=50ms
  [process where process.executable == "/usr/bin/curl"] ![file where file.path == "/etc/passwd"] [network where destination.port == 443]`},
		{"missing-trailing", `sequence with maxspan=50ms
  [process where process.executable == "/usr/bin/curl"] ![network where destination.port == 443]`},
		{"sample", `sample by user.name
  [process where process.executable == "/usr/bin/curl"] [file where file.path == "/etc/passwd"] [network where destination.port == 443]`},
		{"operand-tests", `process where length(process.executable) in (13, 14) and concat(process.name, "!") : "cur*!" and
  cidrMatch(concat(?source.ip, ""), "10.0.0.0/8")`},
	} {
		b.Run(c.name, func(b *testing.B) { benchHandle(b, []*rule.Package{pkg(b, "r", c.src)}) })
	}
}

// TestMaxSpanUnitsMatch checks maxspan in each of Elastic's units against
// events: exactly maxspan apart matches, one nanosecond more does not;
// and with runs=N on the same rules.
func TestMaxSpanUnitsMatch(t *testing.T) {
	reg := elasticReg(t)
	for _, c := range []struct {
		unit string
		d    time.Duration
	}{{"250ms", 250 * time.Millisecond}, {"30s", 30 * time.Second}, {"15m", 15 * time.Minute}, {"2h", 2 * time.Hour}, {"3d", 72 * time.Hour}} {
		r := xpkg(t, reg, "u", `sequence by k1 with maxspan=`+c.unit+`
  [test1 where tag == "a"] with runs=2 [test1 where tag == "b"]`)
		f := func(gap time.Duration, want ...string) {
			t.Helper()
			var log []schema.Event
			for _, e := range []xev{{id: 1, at: 0, tag: "a"}, {id: 2, at: gap / 2, tag: "a"}, {id: 3, at: gap, tag: "b"}} {
				e.typ, e.k1 = "test1", "k"
				log = append(log, e.build(t, reg))
			}
			got, _ := runRouted(t, []*rule.Package{r}, log, 1)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("maxspan=%s, gap %v: %q, want %q", c.unit, gap, got, want)
			}
		}
		f(c.d, "u:1,2,3")
		f(c.d + 1)
	}
}

// TestOptionalJoinNull checks Elastic's optional join keys: by ?field
// joins events whose field is null or missing (Elastic's "null" join key),
// while a plain by field never joins on null. Elastic's sample tests
// (test_sample.toml: nullValueAsJoinKey, optionalFieldAsQueryKeys) and
// the syntax reference's "Optional by fields" say so.
func TestOptionalJoinNull(t *testing.T) {
	reg := elasticReg(t)
	f := func(src string, want ...string) {
		t.Helper()
		r := xpkg(t, reg, "r", src)
		var log []schema.Event
		for _, e := range []xev{{id: 1, at: time.Second, tag: "a"}, {id: 2, at: 2 * time.Second, tag: "b"},
			{id: 3, at: 3 * time.Second, tag: "a", k1: "x"}, {id: 4, at: 4 * time.Second, tag: "b", k1: "x"}} {
			e.typ = "test1"
			log = append(log, e.build(t, reg))
		}
		for _, parts := range []int{1, 3} {
			got, _ := runRouted(t, []*rule.Package{r}, log, parts)
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s at %d partitions: %q, want %q", src, parts, got, want)
			}
		}
	}
	f(`sample by ?k1 [test1 where tag == "a"] [test1 where tag == "b"]`, "r:1,2", "r:3,4")
	f(`sample by k1 [test1 where tag == "a"] [test1 where tag == "b"]`, "r:3,4")
	f(`sample [test1 where tag == "a"] by ?k2 [test1 where tag == "b"] by ?no.such`, "r:1,2", "r:3,4")
	f(`sequence by ?k1 [test1 where tag == "a"] [test1 where tag == "b"]`, "r:1,2", "r:3,4")
	f(`sequence by k1 [test1 where tag == "a"] [test1 where tag == "b"]`, "r:3,4")
	f(`sequence by k1, ?k2 [test1 where tag == "a"] [test1 where tag == "b"]`, "r:3,4")
}

// TestSampleAssignment checks the sample's incremental assignment against
// brute force: over random events (each matching a random set of
// filters), a sample completes exactly at the first event after which
// some assignment of distinct events to all filters exists, and then
// starts afresh.
func TestSampleAssignment(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	// full reports whether the events' masks can cover all n filters with
	// distinct events.
	var full func(masks []uint64, n, f int, used uint64) bool
	full = func(masks []uint64, n, f int, used uint64) bool {
		if f == n {
			return true
		}
		for i, m := range masks {
			if used&(1<<uint(i)) == 0 && m&(1<<uint(f)) != 0 && full(masks, n, f+1, used|1<<uint(i)) {
				return true
			}
		}
		return false
	}
	for range 2000 {
		n := 1 + rnd.IntN(5)
		slots := make([]partial, n)
		var since []uint64 // masks of the events since the last completion
		filled := 0
		for range 12 {
			mask := rnd.Uint64() & (1<<uint(n) - 1)
			if mask == 0 {
				continue
			}
			since = append(since, mask)
			var seen uint64
			if j := assign(slots, mask, &seen); j >= 0 {
				slots[j].active, slots[j].mask = true, mask
				filled++
			}
			want := full(since, n, 0, 0)
			if got := filled == n; got != want {
				t.Fatalf("filters %d, events %b: complete %v, brute force %v", n, since, got, want)
			}
			for j := range slots {
				if slots[j].active && slots[j].mask&(1<<uint(j)) == 0 {
					t.Fatalf("filter %d holds an event that does not match it (%b)", j, slots[j].mask)
				}
			}
			if filled == n {
				clear(slots)
				since, filled = since[:0], 0
			}
		}
	}
}

// TestOperandTestsUnguarded checks that the rule index treats a test on
// an expression as unguarded (run for every event of its type) while the
// same test on a field keeps its guard.
func TestOperandTestsUnguarded(t *testing.T) {
	f := func(cond string, guarded bool) {
		t.Helper()
		q, err := rule.Compile("x.eql", "process where "+cond, testReg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := guardOf(q.Steps[0].Cond); ok != guarded {
			t.Fatalf("%s: guarded %v, want %v", cond, ok, guarded)
		}
	}
	f(`process.name in ("a", "b")`, true)
	f(`substring(process.name, 0) in ("a", "b")`, false)
	f(`process.name : "a*"`, true)
	f(`concat(process.name, "") : "a*"`, false)
	f(`concat(process.name, "") like "a*" and process.name == "a"`, true)
	f(`cidrMatch(concat(process.name, ""), "10.0.0.0/8")`, false)
}
