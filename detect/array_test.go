package detect

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// arrayField is an array of strings (schema.TypeStringArray) added to the
// test registry: the original Kestrel schema has none.
const arrayField = "process.argv"

func init() {
	if _, err := testReg.RegisterFields(schema.FieldDef{Path: arrayField, DataType: schema.TypeStringArray}); err != nil {
		panic(err)
	}
}

// randArray returns a random value for arrayField, or none: an Array of
// up to four random strings (empty included), or a plain String.
func randArray(rnd *rand.Rand) (value.Value, bool) {
	switch rnd.IntN(4) {
	case 0:
		return value.Value{}, false
	case 1:
		return value.StringValue(randValue(rnd)), true
	}
	a := make([]value.Value, rnd.IntN(5))
	for i := range a {
		a[i] = value.StringValue(randValue(rnd))
	}
	return value.ArrayValue(a...), true
}

func strArray(s ...string) value.Value {
	a := make([]value.Value, len(s))
	for i, x := range s {
		a[i] = value.StringValue(x)
	}
	return value.ArrayValue(a...)
}

// TestArrayOperators: every test on an array field holds when it holds
// for any element; != and not in when no element equals; a missing field,
// Null and an empty array are a missing field; a String is a one-element
// array.
func TestArrayOperators(t *testing.T) {
	events := map[string]value.Value{
		"first":  strArray("bash", "-c", "id"),
		"middle": strArray("python3", "-c", "print(1)", "--x"),
		"last":   strArray("sh", "x", "-c"),
		"none":   strArray("ls", "-la", "/tmp"),
		"empty":  strArray(),
		"nulls":  value.ArrayValue(value.NullValue()),
		"scalar": value.StringValue("-c"),
		"null":   value.NullValue(),
		"absent": {},
	}
	// Each condition lists the events it matches, in name order: bash is
	// the first element of "first", -c its middle, as of "middle", and the
	// last of "last".
	cases := []struct {
		cond string
		want []string
	}{
		{`process.argv == "-c"`, []string{"first", "last", "middle", "scalar"}},
		{`process.argv == "bash"`, []string{"first"}},
		{`process.argv == "--x"`, []string{"middle"}},
		{`process.argv != "-c"`, []string{"absent", "empty", "none", "null", "nulls"}},
		{`not process.argv == "-c"`, []string{"absent", "empty", "none", "null", "nulls"}},
		{`process.argv == null`, []string{"absent", "empty", "null", "nulls"}},
		{`process.argv != null`, []string{"first", "last", "middle", "none", "scalar"}},
		{`process.argv in ("-la", "x")`, []string{"last", "none"}},
		{`process.argv in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "x")`, []string{"last"}}, // a set
		{`process.argv in~ ("BASH", "LS")`, []string{"first", "none"}},
		{`process.argv not in ("-c", "-la")`, []string{"absent", "empty", "null", "nulls"}},
		{`process.argv in ("zzz", null)`, []string{"absent", "empty", "null", "nulls"}},
		{`process.argv : "-C"`, []string{"first", "last", "middle", "scalar"}},
		{`process.argv : ("*print*", "/tm?")`, []string{"middle", "none"}},
		{`process.argv like "-c"`, []string{"first", "last", "middle", "scalar"}},
		{`process.argv like~ "PYTHON*"`, []string{"middle"}},
		{`process.argv regex "-[a-z]{2}"`, []string{"none"}},
		{`process.argv regex~ "B.SH"`, []string{"first"}},
		{`startsWith(process.argv, "pyth")`, []string{"middle"}},
		{`startsWith~(process.argv, "SH")`, []string{"last"}},
		{`endsWith(process.argv, "mp")`, []string{"none"}},
		{`stringContains(process.argv, "int(")`, []string{"middle"}},
		{`wildcard(process.argv, "*-*x")`, []string{"middle"}},
		{`process.argv > "s"`, []string{"last"}},
		{`process.argv < "-d"`, []string{"first", "last", "middle", "scalar"}},
		// Expressions over one array field: tried on each element.
		{`length(process.argv) > 4`, []string{"middle"}},
		{`not length(process.argv) > 4`, []string{"absent", "empty", "first", "last", "none", "null", "nulls", "scalar"}},
		{`concat(process.argv, "!") == "-c!"`, []string{"first", "last", "middle", "scalar"}},
		{`substring(process.argv, 0, 2) in ("-c", "/t")`, []string{"first", "last", "middle", "none", "scalar"}},
		{`concat(process.argv, "") : "PYTH*"`, []string{"middle"}},
		{`endsWith(concat(process.argv, process.argv), "shsh")`, []string{"last"}}, // one element, both places
		{`length(process.argv) == null`, []string{"absent", "empty", "null", "nulls"}},
	}
	for _, c := range cases {
		for _, noIndex := range []bool{false, true} {
			p := pkg(t, "a", "process where "+c.cond)
			var evs []ev
			names := slices.Sorted(maps.Keys(events))
			for i, name := range names {
				kv := []any{"process.name", name}
				if v := events[name]; v.Kind() != value.KindNull || name == "null" {
					kv = append(kv, arrayField, v)
				}
				evs = append(evs, ev{uint64(i + 1), "process_exec", time.Second, 1, kv})
			}
			_, got := run(t, Config{Rules: []*rule.Package{p}, NoIndex: noIndex}, evs)
			var matched []string
			for _, a := range got.alerts {
				matched = append(matched, names[a.EventIDs[0]-1])
			}
			if !slices.Equal(matched, c.want) {
				t.Errorf("%s (no index %v): matched %q, want %q", c.cond, noIndex, matched, c.want)
			}
		}
	}
}

// TestArrayNoAllocs: tests on array fields, indexed or not, loop over the
// elements in place and allocate nothing. The events reach every test
// (the index lets them through) but raise no alert, which would allocate.
func TestArrayNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rules := []*rule.Package{
		pkg(t, "eq", `process where process.argv == "-c" and process.name == "zsh"`),
		pkg(t, "ne", `process where process.argv != "bash" and process.argv != "ls"`),
		pkg(t, "in", `process where process.argv in~ ("-E", "--exec")`),
		pkg(t, "pat", `process where process.argv : ("*curl*", "-enc*") or stringContains(process.argv, "base64")`),
		pkg(t, "re", `process where process.argv regex ".*/tmp/.*"`),
		pkg(t, "expr", `process where length(process.argv) > 100 or concat(process.argv, "x") == "-cy"`),
	}
	hit := ev{1, "process_exec", time.Second, 1, []any{"process.name", "bash", arrayField, strArray("bash", "-x", "-c", "id")}}.build(t)
	miss := ev{2, "process_exec", time.Second, 1, []any{"process.name", "ls", arrayField, strArray("ls", "-la", "/var")}}.build(t)
	for _, noIndex := range []bool{false, true} {
		d, err := New(Config{Output: discard{}, Rules: rules, NoIndex: noIndex})
		if err != nil {
			t.Fatal(err)
		}
		batch := []*schema.Event{&hit, &miss}
		d.Handle(0, batch)
		if n := testing.AllocsPerRun(1000, func() { d.Handle(0, batch) }); n != 0 {
			t.Fatalf("no index %v: %v allocs per batch", noIndex, n)
		}
	}
}

// TestArrayECSEvents: ECS events as Elasticsearch holds them, keyword
// arrays written as JSON arrays (or a single string), decoded against the
// default ECS schema, meet Elastic-style rules unchanged.
func TestArrayECSEvents(t *testing.T) {
	reg := schema.ECS()
	srcs := map[string]string{
		"c":     `process where event.type == "start" and process.args : "-c"`,
		"cat":   `any where event.category in ("process", "file") and not event.type : "end"`,
		"exec":  `process where process.args : ("-e", "--exec") and startsWith(process.parent.args, "/usr/bin/")`,
		"nodns": `process where event.type != "info" and process.args != "-c"`,
		"lan":   `process where cidrMatch(host.ip, "10.0.0.0/8")`,
	}
	var rules []*rule.Package
	for _, id := range slices.Sorted(maps.Keys(srcs)) {
		q, err := rule.Compile(id+".eql", srcs[id], reg)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		rules = append(rules, &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: schema.SeverityLow}, Source: srcs[id], Query: q})
	}
	lines := []string{
		`{"process.args":["bash","-c","id"],"event.type":["start"],"event.category":["process"]}`,                           // c, cat
		`{"process.args":["nc","--exec","/bin/sh"],"process.parent.args":["/usr/bin/python3","x.py"],"event.type":"start"}`, // exec, nodns
		`{"process.args":"-c","event.type":["info","start"],"event.category":"file"}`,                                       // c, cat
		`{"process.args":[],"event.type":["end"],"event.category":["process","network"]}`,                                   // nodns
		`{"host.ip":["fe80::1","10.1.2.3"],"event.type":"info"}`,                                                            // lan (an ip array)
		`{"host.ip":"192.168.0.1","event.type":"info"}`,                                                                     // none
	}
	c := &capture{}
	d, err := New(Config{Rules: rules, Output: c})
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.Decoder{Registry: reg}
	for i, l := range lines {
		var e schema.Event
		line := `{"event_id":` + strconv.Itoa(i+1) + `,"event_type":"process_exec","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":1,"fields":` + l + `}`
		if err := dec.DecodeString(line, &e); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		d.Handle(0, []*schema.Event{&e})
	}
	got := c.ids()
	slices.Sort(got)
	want := []string{"c:1", "c:3", "cat:1", "cat:3", "exec:2", "lan:5", "nodns:2", "nodns:4"}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts %q, want %q", got, want)
	}
}

// BenchmarkArrayPredicates is the cost of an event with an 8-element
// array field meeting five rules on it (indexed), against the same rules
// on a String field holding the joined command line.
func BenchmarkArrayPredicates(b *testing.B) {
	for _, field := range []string{arrayField, "process.command_line"} {
		b.Run(field, func(b *testing.B) {
			rules := []*rule.Package{
				pkg(b, "eq", `process where `+field+` == "-c" and process.name == "zsh"`),
				pkg(b, "in", `process where `+field+` in~ ("-E", "--exec")`),
				pkg(b, "pat", `process where `+field+` : ("*curl*", "-enc*")`),
				pkg(b, "sw", `process where startsWith(`+field+`, "/dev/tcp/")`),
				pkg(b, "re", `process where `+field+` regex ".*/tmp/[a-z]+\\.sh"`),
			}
			args := []string{"/usr/bin/python3", "-u", "-m", "http.server", "--bind", "0.0.0.0", "8080", "-c"}
			var v value.Value = strArray(args...)
			if field != arrayField {
				v = value.StringValue(strings.Join(args, " "))
			}
			e := ev{1, "process_exec", time.Second, 1, []any{"process.name", "python3", field, v}}.build(b)
			d, err := New(Config{Output: discard{}, Rules: rules})
			if err != nil {
				b.Fatal(err)
			}
			batch := []*schema.Event{&e}
			b.ReportAllocs()
			for b.Loop() {
				d.Handle(0, batch)
			}
		})
	}
}
