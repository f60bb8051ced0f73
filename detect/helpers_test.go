package detect

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// testReg is the original Kestrel schema, which these tests were written
// for (user.id is a U64 there; ECS, the default, makes it a keyword).
var testReg = schema.Kestrel()

// capture is an Emitter that keeps alerts, or refuses them with fail.
type capture struct {
	mu     sync.Mutex
	alerts []*sink.Alert
	fail   error
}

func (c *capture) Emit(a *sink.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.alerts = append(c.alerts, a)
	return nil
}

// ids returns each alert's "rule:ids" in emission order.
func (c *capture) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.alerts {
		out = append(out, alertKey(a))
	}
	return out
}

func alertKey(a *sink.Alert) string {
	parts := make([]string, len(a.EventIDs))
	for i, id := range a.EventIDs {
		parts[i] = fmt.Sprint(id)
	}
	return a.RuleID + ":" + strings.Join(parts, ",")
}

// pkg compiles src into a package with rule id id.
func pkg(t testing.TB, id, src string) *rule.Package {
	t.Helper()
	q, err := rule.Compile(id+".eql", src, testReg)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return &rule.Package{
		Manifest: &rule.Manifest{RuleID: id, RuleName: "Rule " + id, Severity: schema.SeverityHigh, Tags: []string{"t1"}},
		Source:   src,
		Query:    q,
	}
}

// ev describes a test event: type name, time, entity and fields by path.
type ev struct {
	id     uint64
	typ    string
	at     time.Duration
	entity uint64
	kv     []any // path, value, path, value...
}

func (e ev) build(t testing.TB) schema.Event {
	t.Helper()
	b := schema.NewBuilder(testReg).ID(e.id).TypeName(e.typ).Mono(schema.TimestampMono(e.at)).
		Wall(schema.TimestampWall(1_700_000_000_000_000_000 + int64(e.at))).Entity(schema.EntityKeyFrom64(e.entity))
	for i := 0; i+1 < len(e.kv); i += 2 {
		b.Path(e.kv[i].(string), toValue(e.kv[i+1]))
	}
	out, err := b.Build()
	if err != nil {
		t.Fatalf("event %d: %v", e.id, err)
	}
	return out
}

func toValue(x any) value.Value {
	switch x := x.(type) {
	case string:
		return value.StringValue(x)
	case int:
		return value.I64Value(int64(x))
	case uint64:
		return value.U64Value(x)
	case bool:
		return value.BoolValue(x)
	case float64:
		return value.F64Value(x)
	case value.Value:
		return x
	}
	panic(fmt.Sprintf("toValue(%T)", x))
}

// run feeds events one at a time into a one-partition Detector over pkgs
// and returns it with the alerts.
func run(t testing.TB, cfg Config, evs []ev) (*Detector, *capture) {
	t.Helper()
	c := &capture{}
	if cfg.Output == nil {
		cfg.Output = c
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		x := e.build(t)
		d.Handle(0, []*schema.Event{&x})
	}
	return d, c
}

func expectAlerts(t testing.TB, c *capture, want ...string) {
	t.Helper()
	got := c.ids()
	if !slices.Equal(got, want) {
		t.Fatalf("alerts %q, want %q", got, want)
	}
}
