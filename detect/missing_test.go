package detect

import (
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
		schema.FieldDef{Path: "name", DataType: schema.TypeString}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"test1", "test2", "test3", "test4", "test5", "file", "process", "network"} {
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
		m := d.Route(e) | 1<<uint(d.home(e))
		for p := range parts {
			if m&(1<<uint(p)) != 0 {
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
