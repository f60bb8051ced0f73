package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// The fleet: two sensors on two versions of one vendor schema feed one
// detection node, whose schema (the default ECS one) numbers the same
// paths otherwise.
//
//   - acme.sensor/1 lists its fields and event types in its own order, so
//     every ID differs from the node's: the mapping renumbers them all.
//   - acme.sensor/2 is a compatible evolution of /1 (schema.Compatible):
//     it adds user.name and an event type, acme_heartbeat, that the node
//     does not know; those events are refused and counted.
//
// The sensors forward in different record encodings (binary log and
// protobuf batch); the node maps each record by the schema it names.
var (
	fleetV1Fields = []schema.FieldDef{
		{Path: "network.dest_port", DataType: schema.TypeU64},
		{Path: "process.name", DataType: schema.TypeString},
		{Path: "process.executable", DataType: schema.TypeString},
		{Path: "process.entity_id", DataType: schema.TypeString},
	}
	fleetV1Types = []string{"network_connect", "process_exec"}
)

func fleetSchema(t testing.TB, version uint32) *schema.Registry {
	t.Helper()
	r := schema.NewRegistry()
	defs := fleetV1Fields
	types := fleetV1Types
	if version >= 2 {
		defs = append(slices.Clone(defs), schema.FieldDef{Path: "user.name", DataType: schema.TypeString})
		types = append(slices.Clone(types), "acme_heartbeat")
	}
	if _, err := r.RegisterFields(defs...); err != nil {
		t.Fatal(err)
	}
	for _, name := range types {
		if _, err := r.RegisterEventType(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetSchema("acme.sensor", version); err != nil {
		t.Fatal(err)
	}
	return r
}

// fleetRules are the node's rules: a sequence per process (its join key is
// one sensor's entity) and an event rule on the field only version 2 has.
func fleetRules(t testing.TB, local *schema.Registry) []*rule.Package {
	t.Helper()
	var pkgs []*rule.Package
	for _, r := range []struct{ id, query string }{
		{"revshell", `sequence by process.entity_id with maxspan=5s
  [network where network.dest_port == 4444]
  [process where process.executable : "/bin/*sh"]`},
		{"root-nc", `process where user.name == "root" and process.name == "nc"`},
	} {
		q, err := rule.Compile(r.id+".eql", r.query, local)
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, &rule.Package{Manifest: &rule.Manifest{RuleID: r.id, RuleName: r.id, Severity: schema.SeverityHigh}, Query: q})
	}
	return pkgs
}

// fleetEvent is one sensor event by path: what a sensor saw, before any
// schema numbers it.
type fleetEvent struct {
	id     uint64
	typ    string
	mono   uint64
	entity string
	fields map[string]value.Value
}

// fleetEvents returns what sensor s (1 or 2) sees: n processes, some
// connecting to 4444 then running a shell within or past the maxspan, some
// (on version 2) running nc as root, and version 2's heartbeats.
func fleetEvents(s, n int) []fleetEvent {
	var out []fleetEvent
	id := uint64(s) * 1_000_000
	add := func(typ string, mono uint64, entity string, kv ...any) {
		id++
		f := map[string]value.Value{"process.entity_id": value.StringValue(entity)}
		for i := 0; i < len(kv); i += 2 {
			f[kv[i].(string)] = kv[i+1].(value.Value)
		}
		if typ == "acme_heartbeat" {
			f = map[string]value.Value{}
		}
		out = append(out, fleetEvent{id: id, typ: typ, mono: mono, entity: entity, fields: f})
	}
	for p := range n {
		e := fmt.Sprintf("s%d-p%d", s, p)
		t0 := uint64(p) * 1e8
		port := uint64(80)
		if p%3 == 0 {
			port = 4444
		}
		add("network_connect", t0, e, "network.dest_port", value.U64Value(port), "process.name", value.StringValue("curl"))
		gap := uint64(2e9)
		if p%5 == 0 {
			gap = 7e9 // past the maxspan
		}
		add("process_exec", t0+gap, e, "process.executable", value.StringValue("/bin/bash"), "process.name", value.StringValue("bash"))
		if s == 2 {
			user := "alice"
			if p%4 == 0 {
				user = "root"
			}
			add("process_exec", t0+gap+1, e, "process.name", value.StringValue("nc"), "user.name", value.StringValue(user))
			if p%10 == 0 {
				add("acme_heartbeat", t0+gap+2, e)
			}
		}
	}
	return out
}

// build numbers ev under reg; ok is false when reg lacks its event type.
func (ev fleetEvent) build(t testing.TB, reg *schema.Registry) (schema.Event, bool) {
	t.Helper()
	if _, ok := reg.EventTypeID(ev.typ); !ok {
		return schema.Event{}, false
	}
	b := schema.NewBuilder(reg).ID(ev.id).TypeName(ev.typ).Mono(schema.TimestampMono(ev.mono)).
		Wall(schema.TimestampWall(ev.mono)).Entity(schema.EntityKey{Lo: fnv(ev.entity)})
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for k := range ev.fields {
			if !yield(k) {
				return
			}
		}
	}) {
		b.Path(p, ev.fields[p])
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// alertLog is an Emitter that keeps each alert as "rule event-ids".
type alertLog struct {
	mu  sync.Mutex
	got []string
}

func (l *alertLog) Emit(a *sink.Alert) error {
	l.mu.Lock()
	l.got = append(l.got, fmt.Sprintf("%s %v %x", a.RuleID, a.EventIDs, a.ID))
	l.mu.Unlock()
	return nil
}

func (l *alertLog) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(slices.Values(l.got))
}

// detectionBus starts a bus of n partitions running the rules into out.
func detectionBus(t testing.TB, local *schema.Registry, n int, out detect.Emitter) (*engine.Bus, *detect.Detector) {
	t.Helper()
	// Lateness as a Kafka node has it (kestrel run -brokers): the source
	// merges Kafka partitions and sensors that are not in time order with
	// one another, so one sensor's events can move a partition's event
	// time past another's partial matches before their next step arrives.
	det, err := detect.New(detect.Config{Rules: fleetRules(t, local), Output: out, Partitions: n, Lateness: 30 * time.Second,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, n) }})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := engine.New(engine.Config{Partitions: n, QueueSize: 1024, Route: det.Route})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(det.Handle); err != nil {
		t.Fatal(err)
	}
	return bus, det
}

// TestFleetSchemas runs the fleet through Kafka and compares its alerts
// with a run of the same events recorded under the node's schema alone,
// published straight into a bus: the same alerts, IDs included.
func TestFleetSchemas(t *testing.T) {
	t.Parallel()
	local := rule.DefaultRegistry()
	v1, v2 := fleetSchema(t, 1), fleetSchema(t, 2)
	if rep := schema.Compatible(v1, v2); !rep.Compatible() {
		t.Fatalf("v2 must be a compatible evolution of v1:\n%v", rep)
	}
	n := 200
	if testing.Short() || raceEnabled {
		n = 60
	}
	sensors := []struct {
		reg    *schema.Registry
		format Format
		events []fleetEvent
	}{
		{v1, FormatBinary, fleetEvents(1, n)},
		{v2, FormatProto, fleetEvents(2, n)},
	}

	// The reference: every event the node's schema can hold, in time order.
	var ref []schema.Event
	heartbeats := 0
	for _, s := range sensors {
		for _, ev := range s.events {
			if e, ok := ev.build(t, local); ok {
				ref = append(ref, e)
			} else {
				heartbeats++
			}
		}
	}
	slices.SortStableFunc(ref, func(a, b schema.Event) int { return int(a.TsMono) - int(b.TsMono) })
	want := &alertLog{}
	bus, _ := detectionBus(t, local, 2, want)
	for i := range ref {
		if err := bus.Publish(&ref[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(want.sorted()) < 10 {
		t.Fatalf("the reference run raised only %d alerts: the test proves little", len(want.sorted()))
	}

	// The fleet.
	c := newCluster(t, 1, 4, "fleet")
	cfg := testConfig(t, c, "fleet")
	var resolved sync.Map
	node := cfg
	node.Local = local
	node.Resolve = func(id string, version uint32) (*schema.Registry, error) {
		resolved.Store(fmt.Sprintf("%s/%d", id, version), true)
		switch {
		case id == "acme.sensor" && version == 1:
			return v1, nil
		case id == "acme.sensor" && version == 2:
			return v2, nil
		}
		return nil, fmt.Errorf("unknown schema %s/%d", id, version)
	}
	got := &alertLog{}
	// Two partitions, so detection routes copies across them (det.Route);
	// the Source's commits wait for the copies too (TestSourceRoutedCommit).
	nbus, det := detectionBus(t, local, 2, got)
	src, err := NewSource(node, nbus)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()

	var wg sync.WaitGroup
	for _, s := range sensors {
		sc := cfg
		sc.Format = s.format
		sc.SchemaID, sc.SchemaVersion = s.reg.SchemaID(), s.reg.SchemaVersion()
		var evs []schema.Event
		for _, ev := range s.events {
			e, _ := ev.build(t, s.reg)
			evs = append(evs, e)
		}
		wg.Add(1)
		go func() { // the two sensors forward at once
			defer wg.Done()
			forward(t, sc, evs)
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for st := src.Stats(); st.Events+st.Unmapped < uint64(len(ref)+heartbeats) || st.Pending > 0; st = src.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("source stats %+v, want %d events and %d unmapped", st, len(ref), heartbeats)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := nbus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if st.Events != uint64(len(ref)) || st.Unmapped != uint64(heartbeats) || st.Poison != 0 {
		t.Errorf("source: %d events, %d unmapped, %d poison; want %d, %d, 0", st.Events, st.Unmapped, st.Poison, len(ref), heartbeats)
	}
	for _, k := range []string{"acme.sensor/1", "acme.sensor/2"} {
		if _, ok := resolved.Load(k); !ok {
			t.Errorf("schema %s never resolved", k)
		}
	}
	g, w := got.sorted(), want.sorted()
	if !slices.Equal(g, w) {
		t.Fatalf("fleet alerts differ from the single-schema run:\n got %d: %s\nwant %d: %s",
			len(g), strings.Join(g, "\n"), len(w), strings.Join(w, "\n"))
	}
	t.Logf("%d alerts; %d events, %d heartbeats refused; detector %+v", len(g), st.Events, st.Unmapped, det.Stats().Alerts)
}
