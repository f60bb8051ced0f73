package rule_test

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// conditionField returns the field of the query's first step's condition
// when it is a plain comparison.
func conditionField(t *testing.T, q *rule.Query) *rule.Field {
	t.Helper()
	e, ok := q.Steps[0].Cond.(*rule.CompareExpr)
	if !ok {
		t.Fatalf("condition is %T", q.Steps[0].Cond)
	}
	return e.Field
}

// A rule naming a field under one of the default schema's dynamic
// namespaces registers it; two rules naming it share its ID.
func TestResolveDynamicField(t *testing.T) {
	reg := rule.DefaultRegistry()
	n := reg.NumFields()
	q1, err := rule.Compile("a.eql", `authentication where winlog.event_data.LogonType == "3"`, reg)
	if err != nil {
		t.Fatal(err)
	}
	f := conditionField(t, q1)
	if int(f.ID) != n+1 || f.Type != schema.TypeAny {
		t.Fatalf("winlog.event_data.LogonType: id %d type %v, want %d Any", f.ID, f.Type, n+1)
	}
	if def, _ := reg.Field(f.ID); !def.Dynamic || def.Path != "winlog.event_data.LogonType" {
		t.Errorf("Field(%d) = %+v", f.ID, def)
	}
	q2, err := rule.Compile("b.eql", `sequence by host.name [authentication where winlog.event_data.LogonType : "1*"]
  [process where ?winlog.event_data.SubjectUserName == "x"]`, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := q2.Steps[0].Cond.(*rule.MatchExpr).Field.ID; got != f.ID {
		t.Errorf("second rule: id %d, want %d (one ID per path)", got, f.ID)
	}
	if reg.NumFields() != n+2 {
		t.Errorf("NumFields %d, want %d (LogonType, and the optional SubjectUserName)", reg.NumFields(), n+2)
	}
	// Compiling again registers nothing more.
	if _, err := rule.Compile("a.eql", `authentication where winlog.event_data.LogonType == "3"`, reg); err != nil || reg.NumFields() != n+2 {
		t.Errorf("recompiling: %v, NumFields %d", err, reg.NumFields())
	}
}

func TestResolveUnknownNonDynamic(t *testing.T) {
	reg := rule.DefaultRegistry()
	n := reg.NumFields()
	for _, c := range []struct{ src, msg string }{
		{`process where vendor.thing == 1`, "unknown field vendor.thing"},
		{`process where winlog == 1`, "unknown field winlog"}, // the prefix itself
		{`process where process.nope == 1`, "unknown field process.nope"},
		{"process where `winlog.event_data.a b` == 1", "unknown field winlog.event_data.a b (under the dynamic namespace winlog, but it cannot be registered"},
	} {
		_, err := rule.Compile("r.eql", c.src, reg)
		var re *rule.Error
		if !errors.Is(err, rule.ErrUnknownField) || !errors.As(err, &re) || !strings.Contains(err.Error(), c.msg) || re.Line != 1 {
			t.Errorf("%s: %v, want ErrUnknownField %q at line 1", c.src, err, c.msg)
		}
	}
	if reg.NumFields() != n {
		t.Errorf("refused rules registered fields: %d, want %d", reg.NumFields(), n)
	}
	// A dynamic path that conflicts with one already registered is refused
	// with the reason.
	if _, err := rule.Compile("a.eql", `process where winlog.event_data == "x"`, reg); err != nil {
		t.Fatal(err)
	}
	_, err := rule.Compile("b.eql", `process where winlog.event_data.x == "x"`, reg)
	if !errors.Is(err, rule.ErrUnknownField) || !strings.Contains(err.Error(), "winlog.event_data is already a field") {
		t.Errorf("conflicting dynamic path: %v", err)
	}
}

// Rules resolving concurrently against one registry agree on the IDs of
// the dynamic fields they share (run with -race).
func TestResolveDynamicConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	reg := rule.DefaultRegistry()
	const workers, rules = 6, 40
	ids := make([]map[string]schema.FieldID, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ids[w] = map[string]schema.FieldID{}
			for i := 0; i < rules; i++ {
				path := "aws.cloudtrail.f" + strconv.Itoa((i*7+w)%rules)
				q, err := rule.Compile("r.eql", `api where `+path+` == "x" and okta.event_type == "y"`, reg)
				if err != nil {
					t.Error(err)
					return
				}
				b := q.Steps[0].Cond.(*rule.BinaryExpr)
				ids[w][path] = b.X.(*rule.CompareExpr).Field.ID
				ids[w]["okta.event_type"] = b.Y.(*rule.CompareExpr).Field.ID
			}
		}(w)
	}
	wg.Wait()
	for w := range ids {
		for path, id := range ids[w] {
			if want, _ := reg.FieldID(path); id != want || id == 0 {
				t.Fatalf("worker %d: %s id %d, registry %d", w, path, id, want)
			}
		}
	}
}

type collect struct {
	mu     sync.Mutex
	alerts []*sink.Alert
}

func (c *collect) Emit(a *sink.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.alerts = append(c.alerts, a)
	return nil
}

// A hand-written event naming a dynamic field by path matches the rule
// that registered it; the event's other integration fields are dropped.
func TestDynamicFieldMatches(t *testing.T) {
	reg := rule.DefaultRegistry()
	q, err := rule.Compile("r.eql", `authentication where winlog.event_data.LogonType in ("3", "10") and
  winlog.event_data.TargetUserName : "admin*"`, reg)
	if err != nil {
		t.Fatal(err)
	}
	out := &collect{}
	pkg := &rule.Package{Manifest: &rule.Manifest{RuleID: "logon", RuleName: "network logon", Severity: schema.SeverityHigh}, Query: q}
	det, err := detect.New(detect.Config{Rules: []*rule.Package{pkg}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.Decoder{Registry: reg}
	var evs [3]schema.Event
	for i, line := range []string{
		`{"event_id":1,"event_type":"authentication","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"winlog.event_data.LogonType":"3","winlog.event_data.TargetUserName":"Administrator","winlog.event_data.IpAddress":"10.0.0.1"}}`,
		`{"event_id":2,"event_type":"authentication","ts_mono_ns":2,"ts_wall_ns":2,"entity_key":0,"fields":{"winlog.event_data.LogonType":"2","winlog.event_data.TargetUserName":"admin"}}`,
		`{"event_id":3,"event_type":"authentication","ts_mono_ns":3,"ts_wall_ns":3,"entity_key":0,"fields":{"winlog.event_data.LogonType":10,"winlog.event_data.TargetUserName":"admin"}}`,
	} {
		if err := dec.DecodeString(line, &evs[i]); err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
	}
	det.Handle(0, []*schema.Event{&evs[0], &evs[1], &evs[2]})
	det.Flush()
	if dec.Skipped() != 1 {
		t.Errorf("Skipped %d, want 1 (IpAddress, which no rule names)", dec.Skipped())
	}
	// Event 3's LogonType is the number 10: an Any field compares by the
	// value's kind, so it is not the string "10".
	if len(out.alerts) != 1 || len(out.alerts[0].EventIDs) != 1 || out.alerts[0].EventIDs[0] != 1 {
		t.Fatalf("alerts %+v, want one for event 1", out.alerts)
	}
}
