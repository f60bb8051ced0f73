package detect

import (
	"errors"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

func TestConditions(t *testing.T) {
	// Each condition against one event; the event has process.pid 42
	// (I64), process.name "Bash", user.id 0 (U64), no file.path.
	e := ev{1, "process_exec", 0, 1, []any{"process.pid", 42, "process.name", "Bash",
		"process.executable", "/usr/bin/bash", "user.id", uint64(0)}}
	f := func(cond string, want bool) {
		t.Helper()
		_, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", "process where "+cond)}}, []ev{e})
		if got := len(c.ids()) == 1; got != want {
			t.Fatalf("%s: matched %v, want %v", cond, got, want)
		}
	}
	f(`true`, true)
	f(`false`, false)
	f(`process.pid == 42`, true)
	f(`process.pid != 42`, false)
	f(`process.pid > 41 and process.pid >= 42 and process.pid < 43 and process.pid <= 42`, true)
	f(`process.pid > 42`, false)
	f(`42 == process.pid`, true)
	f(`process.pid in (1, 42)`, true)
	f(`process.pid not in (1, 2)`, true)
	f(`user.id == 0 and user.id < 1`, true)
	f(`user.id > 0`, false)
	f(`process.name == "Bash"`, true)
	f(`process.name == "bash"`, false)
	f(`process.name : "bash"`, true) // : is case-insensitive
	f(`process.name : "b*"`, true)
	f(`process.name like "b*"`, false)
	f(`process.name like~ "b*"`, true)
	f(`process.name in ("bash")`, false)
	f(`process.name in~ ("bash", "zsh")`, true)
	f(`process.name regex "B.*"`, true)
	f(`process.name regex "b.*"`, false)
	f(`process.name regex~ "b.*"`, true)
	f(`process.name regex "as"`, false) // regex matches the whole string
	f(`startsWith(process.executable, "/usr/")`, true)
	f(`endsWith~(process.executable, "/BASH")`, true)
	f(`stringContains(process.executable, "bin/b")`, true)
	f(`wildcard(process.executable, "*/BASH")`, true)
	f(`process.name > "A" and process.name < "C"`, true)
	f(`not (process.pid == 42 or process.name == "x")`, false)
	f(`(process.pid == 1 or process.name == "Bash") and not process.name == "zsh"`, true)
	// A missing field equals only null.
	f(`file.path == null`, true)
	f(`file.path != null`, false)
	f(`process.name != null`, true)
	f(`file.path == "x"`, false)
	f(`file.path != "x"`, true)
	f(`file.path : "*"`, false)
	f(`file.path in ("x")`, false)
	f(`file.path in ("x", null)`, true)
	f(`not file.path : "x*"`, true)
	f(`file.size > 1`, false)
	f(`file.size != 1`, true)
	// The event's value kind may differ from the declared type (a log
	// decoded without the registry): numbers still compare by value.
	f2 := func(kv []any, cond string, want bool) {
		t.Helper()
		_, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", "process where "+cond)}}, []ev{{1, "process_exec", 0, 1, kv}})
		if got := len(c.ids()) == 1; got != want {
			t.Fatalf("%v %s: matched %v, want %v", kv, cond, got, want)
		}
	}
	f2([]any{"process.pid", 42}, `process.pid in (42)`, true)
	f2([]any{"user.id", uint64(5)}, `user.id in (5, 6)`, true)
}

func TestConditionsAnyField(t *testing.T) {
	reg := schema.NewRegistry()
	if _, err := reg.RegisterFields(schema.FieldDef{Path: "x"}, schema.FieldDef{Path: "b", DataType: schema.TypeBool}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RegisterEventType("ev"); err != nil {
		t.Fatal(err)
	}
	f := func(x value.Value, cond string, want bool) {
		t.Helper()
		q, err := rule.Compile("", "ev where "+cond, reg)
		if err != nil {
			t.Fatal(err)
		}
		c := &capture{}
		d, err := New(Config{Output: c, Rules: []*rule.Package{{Manifest: &rule.Manifest{RuleID: "r", RuleName: "r"}, Query: q}}})
		if err != nil {
			t.Fatal(err)
		}
		e, err := schema.NewBuilder(reg).ID(1).Type(1).Path("x", x).Path("b", value.BoolValue(true)).Build()
		if err != nil {
			t.Fatal(err)
		}
		d.Handle(0, []*schema.Event{&e})
		if got := len(c.ids()) == 1; got != want {
			t.Fatalf("x=%v %s: %v, want %v", x, cond, got, want)
		}
	}
	f(value.I64Value(-1), `x < 0`, true)
	f(value.U64Value(1<<63), `x > 9223372036854775807`, true)
	f(value.I64Value(-1), `x < 18446744073709551615`, true)
	f(value.F64Value(1.5), `x > 1 and x < 2`, true)
	f(value.I64Value(2), `x == 2.0`, true)
	f(value.F64Value(2), `x == 2`, true)
	f(value.StringValue("2"), `x == 2`, false)
	f(value.StringValue("2"), `x != 2`, true)
	f(value.I64Value(2), `x == "2"`, false)
	f(value.I64Value(2), `x > "1"`, false)
	f(value.BoolValue(true), `x`, true)
	f(value.BoolValue(true), `x == true and x != false`, true)
	f(value.StringValue("t"), `x == true`, false)
	f(value.StringValue("t"), `x != true`, true)
	f(value.BoolValue(false), `b and not x`, true)
	f(value.F64Value(0), `x in (0, "a")`, true)
	f(value.BoolValue(true), `x in (false, true)`, true)
}

func TestAlertContent(t *testing.T) {
	r := pkg(t, "revshell", `sequence by process.entity_id with maxspan=10s
  [network where network.dest_port in (4444, 5555)]
  [process where process.executable : "/bin/*sh" and process.pid > 1]`)
	r.Manifest.Severity = schema.SeverityCritical
	r.Manifest.Description = "a shell after a connection"
	_, c := run(t, Config{Rules: []*rule.Package{r}}, []ev{
		{10, "network_connect", time.Second, 7, []any{"process.entity_id", "p7", "network.dest_port", uint64(4444)}},
		{11, "process_exec", 2 * time.Second, 7, []any{"process.entity_id", "p7", "process.executable", "/bin/bash", "process.pid", 99}},
	})
	if len(c.alerts) != 1 {
		t.Fatalf("alerts %v", c.ids())
	}
	a := c.alerts[0]
	if a.ID != sink.NewAlertID("revshell", []uint64{10, 11}) || a.RuleID != "revshell" || a.RuleName != "Rule revshell" ||
		a.Severity != schema.SeverityCritical || len(a.Tags) != 1 || a.TsMono != schema.TimestampMono(2*time.Second) ||
		a.TsWall != schema.TimestampWall(1_700_000_002_000_000_000) || a.Entity != schema.EntityKeyFrom64(7) ||
		a.Message != "Rule revshell: a shell after a connection" {
		t.Fatalf("alert %+v", a)
	}
	want := []struct {
		path string
		v    value.Value
	}{
		{"process.entity_id", value.StringValue("p7")},
		{"step1.network.dest_port", value.U64Value(4444)},
		{"step2.process.executable", value.StringValue("/bin/bash")},
		{"step2.process.pid", value.I64Value(99)},
	}
	if len(a.Fields) != len(want) {
		t.Fatalf("fields %+v", a.Fields)
	}
	for i, w := range want {
		if a.Fields[i].Path != w.path || !a.Fields[i].Value.Equal(w.v) {
			t.Fatalf("field %d: %+v, want %+v", i, a.Fields[i], w)
		}
	}
	// Event rules name fields by their plain paths.
	_, c = run(t, Config{Rules: []*rule.Package{pkg(t, "one", `process where process.name == "nc" or process.pid == 1`)}},
		[]ev{{5, "process_exec", 0, 3, []any{"process.name", "nc"}}})
	if a := c.alerts[0]; len(a.Fields) != 1 || a.Fields[0].Path != "process.name" || len(a.EventIDs) != 1 || a.EventIDs[0] != 5 {
		t.Fatalf("event alert %+v", a)
	}
}

func TestEmitRefused(t *testing.T) {
	c := &capture{fail: sink.ErrQueueFull}
	d, _ := run(t, Config{Output: c, Rules: []*rule.Package{pkg(t, "r", `process where true`)}}, []ev{
		{1, "process_exec", 0, 1, nil}, {2, "process_exec", 0, 1, nil},
	})
	s := d.Stats()
	if s.Alerts != 0 || s.AlertsDropped != 2 || s.Rules[0].Dropped != 2 || s.Events != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBadPartitionAndTypes(t *testing.T) {
	d, c := run(t, Config{Partitions: 2, EntityPartition: func(schema.EntityKey) int { return 1 }, Rules: []*rule.Package{pkg(t, "r", `file where true`), pkg(t, "a", `any where process.pid == 1`)}}, nil)
	x := ev{1, "process_exec", 0, 1, []any{"process.pid", 1}}.build(t)
	d.Handle(2, []*schema.Event{&x})
	d.Handle(-1, []*schema.Event{&x})
	if s := d.Stats(); s.BadPartition != 2 || s.Events != 0 {
		t.Fatalf("stats %+v", s)
	}
	d.Handle(1, []*schema.Event{&x})
	x.Type = 999 // beyond every index: only any-rules see it
	d.Handle(1, []*schema.Event{&x})
	expectAlerts(t, c, "a:1", "a:1")
}

func TestConfig(t *testing.T) {
	good := pkg(t, "r", "process where true")
	for _, c := range []Config{
		{},
		{Output: &capture{}, Partitions: -1},
		{Output: &capture{}, Partitions: MaxPartitions + 1},
		{Output: &capture{}, MaxStates: -1},
		{Output: &capture{}, MaxStatesPerRule: -1},
		{Output: &capture{}, MaxStateBytes: -1},
		{Output: &capture{}, Partitions: 2}, // no EntityPartition
		{Output: &capture{}, Rules: []*rule.Package{nil}},
		{Output: &capture{}, Rules: []*rule.Package{good, good}},
		{Output: &capture{}, Rules: []*rule.Package{{Manifest: &rule.Manifest{RuleID: "u"}, Query: &rule.Query{}}}},
	} {
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	var ce *ConfigError
	if err := (&Config{}).Validate(); !errors.As(err, &ce) || ce.Field != "Output" {
		t.Fatal(err)
	}
	d, err := New(Config{Output: &capture{}})
	if err != nil || d.Partitions() != 1 {
		t.Fatal(err)
	}
}

func TestJoinKeys(t *testing.T) {
	// I64 and U64 values of the same number join; F64 does not join an
	// integer; Null never joins.
	r := `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`
	_, c := run(t, Config{Rules: []*rule.Package{pkg(t, "r", r)}}, []ev{
		{1, "process_exec", 0, 1, []any{"user.id", uint64(5), "process.name", "a"}},
		{2, "process_exec", 1, 1, []any{"user.id", value.I64Value(5), "process.name", "b"}},
		{3, "process_exec", 2, 1, []any{"user.id", value.NullValue(), "process.name", "a"}},
		{4, "process_exec", 3, 1, []any{"user.id", value.NullValue(), "process.name", "b"}},
	})
	expectAlerts(t, c, "r:1,2")
	for _, x := range []struct {
		a, b value.Value
		eq   bool
	}{
		{value.I64Value(5), value.U64Value(5), true},
		{value.I64Value(-1), value.U64Value(1<<64 - 1), false},
		{value.F64Value(5), value.I64Value(5), false},
		{value.StringValue("a"), value.StringValue("a"), true},
		{value.BytesValue([]byte("a")), value.BytesValue([]byte("a")), true},
		{value.ArrayValue(value.I64Value(1)), value.ArrayValue(value.I64Value(1)), true},
		{value.BoolValue(true), value.BoolValue(false), false},
	} {
		ba, _ := appendKeyValue(nil, x.a)
		bb, _ := appendKeyValue(nil, x.b)
		if (string(ba) == string(bb)) != x.eq || joinEqual(x.a, x.b) != x.eq {
			t.Errorf("%v vs %v: hash equal %v, joinEqual %v, want %v", x.a, x.b, string(ba) == string(bb), joinEqual(x.a, x.b), x.eq)
		}
	}
}
