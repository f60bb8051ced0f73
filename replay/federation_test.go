package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// sensorSchema is another sensor's schema ("acme.sensor" version 2): the
// default schema's fields and event types in reverse order, so every ID
// differs, and a vendor field the node does not know.
func sensorSchema(t testing.TB) *schema.Registry {
	t.Helper()
	sf := schema.ECSFile()
	slices.Reverse(sf.Fields)
	slices.Reverse(sf.EventTypes)
	for i := range sf.Fields {
		sf.Fields[i].ID = 0
	}
	for i := range sf.EventTypes {
		sf.EventTypes[i].ID = 0
	}
	sf.Fields = append(sf.Fields, schema.FileField{Path: "vendor.acme.score", Type: "F64"})
	sf.ID, sf.Version = "acme.sensor", 2
	b, err := json.Marshal(sf)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := rule.ReadSchema("acme.json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// spec is an event by paths, built into any schema's IDs.
type spec struct {
	id     uint64
	typ    string
	mono   uint64
	entity uint64
	fields [][2]any
}

func (s spec) build(t testing.TB, reg *schema.Registry) schema.Event {
	t.Helper()
	b := schema.NewBuilder(reg).ID(s.id).TypeName(s.typ).Mono(schema.TimestampMono(s.mono)).
		Wall(schema.TimestampWall(s.mono)).Entity(schema.EntityKey{Lo: s.entity})
	for _, f := range s.fields {
		var v value.Value
		switch x := f[1].(type) {
		case string:
			v = value.StringValue(x)
		case uint64:
			v = value.U64Value(x)
		case float64:
			v = value.F64Value(x)
		}
		if _, ok := reg.FieldID(f[0].(string)); !ok {
			continue // a vendor field the local schema lacks
		}
		b.Path(f[0].(string), v)
	}
	ev, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// sensorEvents returns one sensor's recording: a reverse shell and a
// shadow read, by entities of its own (base sets them apart).
func sensorEvents(base uint64) []spec {
	p := fmt.Sprintf("proc-%d", base)
	return []spec{
		{base + 1, "process_exec", base*1e9 + 1e9, base + 1, [][2]any{{"process.entity_id", p}, {"process.executable", "/usr/bin/nc"}, {"vendor.acme.score", 0.5}}},
		{base + 2, "network_connect", base*1e9 + 2e9, base + 1, [][2]any{{"process.entity_id", p}, {"network.dest_port", uint64(4444)}, {"network.direction", "outbound"}}},
		{base + 3, "process_exec", base*1e9 + 3e9, base + 1, [][2]any{{"process.entity_id", p}, {"process.executable", "/bin/bash"}}},
		{base + 4, "file_open", base*1e9 + 4e9, base + 2, [][2]any{{"process.entity_id", p + "b"}, {"file.path", "/etc/shadow"}, {"process.name", "cat"}}},
		{base + 5, "process_exit", base*1e9 + 5e9, base + 1, [][2]any{{"process.entity_id", p}}},
	}
}

type collector struct{ alerts []string }

func (c *collector) Emit(a *sink.Alert) error {
	c.alerts = append(c.alerts, string(a.AppendJSON(nil)))
	return nil
}

// Two sensors on two schemas feed one detection through Mappings, and
// the alerts are the same as when both had recorded under the node's own
// schema.
func TestTwoSchemasOneDetection(t *testing.T) {
	local := rule.DefaultRegistry()
	remote := sensorSchema(t)
	set, err := rule.LoadDir("../examples/rules", rule.LoadOptions{Registry: local})
	if err != nil {
		t.Fatal(err)
	}
	a, b := sensorEvents(100), sensorEvents(200)
	dir := t.TempDir()
	write := func(name string, reg *schema.Registry, opts replay.WriterOptions, specs ...[]spec) string {
		p := filepath.Join(dir, name)
		w, err := replay.Create(p, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, ss := range specs {
			for _, s := range ss {
				ev := s.build(t, reg)
				if err := w.Write(&ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Sensor A records under the node's schema, sensor B under its own;
	// the reference is one log of both under the node's schema.
	logA := write("a.kbin", local, replay.WriterOptions{SchemaID: local.SchemaID(), SchemaVersion: local.SchemaVersion()}, a)
	logB := write("b.jsonl", remote, replay.WriterOptions{Header: true, SchemaID: remote.SchemaID(), SchemaVersion: remote.SchemaVersion()}, b)
	single := write("single.kbin", local, replay.WriterOptions{}, a, b)

	run := func(cfg replay.Config, logs ...string) ([]string, []replay.Stats) {
		t.Helper()
		var out collector
		det, err := detect.New(detect.Config{Rules: set.Packages, Output: &out})
		if err != nil {
			t.Fatal(err)
		}
		batch := make([]*schema.Event, 1)
		pub := replay.PublisherFunc(func(ev *schema.Event) error {
			var cp schema.Event
			cp.CopyFrom(ev)
			batch[0] = &cp
			det.Handle(0, batch)
			return nil
		})
		r, err := replay.New(pub, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var sts []replay.Stats
		for _, l := range logs {
			st, err := r.Replay(context.Background(), l)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			sts = append(sts, st)
		}
		return out.alerts, sts
	}
	want, _ := run(replay.Config{}, single)
	if len(want) != 4 {
		t.Fatalf("reference run: %d alerts, want 4 (2 rules x 2 sensors)\n%s", len(want), strings.Join(want, "\n"))
	}
	resolve := func(id string, version uint32) (*schema.Registry, error) {
		if id == remote.SchemaID() && version == remote.SchemaVersion() {
			return remote, nil
		}
		return nil, fmt.Errorf("no schema %s/%d", id, version)
	}
	got, sts := run(replay.Config{Local: local, Resolve: resolve}, logA, logB)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("federated alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sts[0].Mapped || !sts[1].Mapped || sts[1].Header.SchemaID != "acme.sensor" || sts[1].Header.SchemaVersion != 2 {
		t.Errorf("mapped: %v %v, header %+v", sts[0].Mapped, sts[1].Mapped, sts[1].Header)
	}
	if sts[1].Unmapped != 0 || sts[1].UnmappedFields != 1 || len(sts[1].Refusals) != 1 ||
		sts[1].Refusals[0].Path != "vendor.acme.score" || sts[1].Refusals[0].Count != 1 {
		t.Errorf("refusals: unmapped %d fields %d %+v", sts[1].Unmapped, sts[1].UnmappedFields, sts[1].Refusals)
	}
	// The remote registry given outright does the same.
	got, _ = run(replay.Config{Local: local, Remote: remote}, logB)
	if strings.Join(got, "\n") != strings.Join(want[2:], "\n") {
		t.Errorf("with Remote:\n%s", strings.Join(got, "\n"))
	}
	// Without a way to resolve the log's schema, the replay refuses it
	// rather than misread its IDs.
	r, _ := replay.New(replay.PublisherFunc(func(*schema.Event) error { return nil }), replay.Config{Local: local})
	if _, err := r.Replay(context.Background(), logB); !errors.Is(err, replay.ErrSchema) {
		t.Errorf("unresolved schema: %v", err)
	}
	r, _ = replay.New(replay.PublisherFunc(func(*schema.Event) error { return nil }),
		replay.Config{Local: local, Resolve: func(string, uint32) (*schema.Registry, error) { return nil, errors.New("offline") }})
	if _, err := r.Replay(context.Background(), logB); !errors.Is(err, replay.ErrSchema) || !strings.Contains(err.Error(), "offline") {
		t.Errorf("resolver error: %v", err)
	}
	if _, err := replay.New(replay.PublisherFunc(func(*schema.Event) error { return nil }), replay.Config{Remote: remote}); !errors.Is(err, replay.ErrConfig) {
		t.Errorf("Remote without Local: %v", err)
	}
}

// An event type the node does not know is not published, and counted.
func TestReplayUnmappedType(t *testing.T) {
	local := schema.NewRegistry()
	local.RegisterField(schema.FieldDef{Path: "a", DataType: schema.TypeI64})
	local.RegisterEventType("x")
	remote := schema.NewRegistry()
	remote.RegisterField(schema.FieldDef{Path: "a", DataType: schema.TypeI64})
	remote.RegisterEventType("y")
	remote.RegisterEventType("x")
	var buf bytes.Buffer
	w, _ := replay.NewJSONWriter(&buf, replay.WriterOptions{})
	for i, typ := range []schema.EventTypeID{1, 2, 1, 2} {
		ev, _ := schema.NewBuilder(remote).ID(uint64(i+1)).Type(typ).Mono(schema.TimestampMono(i+1)).Field(1, value.I64Value(int64(i))).Build()
		_ = w.Write(&ev)
	}
	_ = w.Close()
	var types []schema.EventTypeID
	r, _ := replay.New(replay.PublisherFunc(func(ev *schema.Event) error { types = append(types, ev.Type); return nil }),
		replay.Config{Local: local, Remote: remote})
	rd, _ := replay.NewReader(&buf)
	st, err := r.ReplayReader(context.Background(), rd)
	if err != nil || st.Unmapped != 2 || st.Events != 2 || fmt.Sprint(types) != "[1 1]" {
		t.Errorf("err %v, unmapped %d, events %d, types %v", err, st.Unmapped, st.Events, types)
	}
}

// A node replays a log recorded under another sensor's schema: the header
// names the schema, Resolve finds it, and a Mapping rewrites every event
// into the node's IDs before it is published.
func ExampleConfig_resolve() {
	local := rule.DefaultRegistry()

	sensor := schema.NewRegistry() // the sensor's own numbering
	sensor.RegisterField(schema.FieldDef{Path: "process.executable", DataType: schema.TypeString})
	sensor.RegisterEventType("process_exec")
	sensor.SetSchema("acme.sensor", 2)

	var log bytes.Buffer
	w, _ := replay.NewJSONWriter(&log, replay.WriterOptions{Header: true, SchemaID: "acme.sensor", SchemaVersion: 2})
	ev, _ := schema.NewBuilder(sensor).ID(1).Type(1).Path("process.executable", value.StringValue("/bin/sh")).Build()
	w.Write(&ev)
	w.Close()
	fmt.Print(log.String())

	pub := replay.PublisherFunc(func(ev *schema.Event) error {
		for _, f := range ev.Fields() {
			def, _ := local.Field(f.ID)
			fmt.Println("local id", f.ID, def.Path, f.Value)
		}
		return nil
	})
	r, _ := replay.New(pub, replay.Config{Local: local, Resolve: func(id string, version uint32) (*schema.Registry, error) {
		return sensor, nil // from a schema store, by id and version
	}})
	rd, _ := replay.NewReader(&log)
	st, err := r.ReplayReader(context.Background(), rd)
	fmt.Println(st.Mapped, st.Published, err)
	// Output:
	// {"magic":[75,69,83,84],"version":1,"schema_version":2,"schema_id":"acme.sensor"}
	// {"event_id":1,"event_type_id":1,"ts_mono_ns":0,"ts_wall_ns":0,"entity_key":0,"fields":{"1":{"String":"/bin/sh"}}}
	// local id 3 process.executable /bin/sh
	// true 1 <nil>
}
