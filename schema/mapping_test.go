package schema_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// local and remote schemas of one fleet: the remote sensor numbers its
// fields in another order, records pid as U64, has a vendor field, a field
// the node does not know, and an event type the node does not take.
func fedSchemas(t testing.TB) (remote, local *schema.Registry) {
	local = reg(t, "process.pid:I64", "process.name:String", "user.id:U64", "file.path:String",
		"vendor.acme.score:F64", "vendor.acme.process.name:String", "@process_exec", "@file_open", "=kestrel/2")
	remote = reg(t, "file.path:String", "process.name:String", "process.pid:U64", "vendor.acme.score:F64",
		"remote.only:String", "user.id:String", "@file_open", "@process_exec", "@module_load", "=sensor/1")
	return remote, local
}

func TestMapping(t *testing.T) {
	remote, local := fedSchemas(t)
	m, err := schema.NewMapping(remote, local, schema.MappingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for rid, want := range []schema.FieldID{0, 4, 2, 1, 5, 0, 0} {
		got, ok := m.Field(schema.FieldID(rid))
		if got != want || ok != (want != 0) {
			t.Errorf("remote field %d: local %d %v, want %d", rid, got, ok, want)
		}
	}
	if got, _ := m.EventType(1); got != 2 {
		t.Errorf("file_open maps to %d", got)
	}
	if _, ok := m.EventType(3); ok {
		t.Error("module_load mapped")
	}
	var reasons []string
	for _, r := range m.Refusals() {
		reasons = append(reasons, r.Path+": "+r.Reason)
	}
	want := "[remote.only: no local field remote.only user.id: remote type String, local field user.id is U64 module_load: no local event type module_load]"
	if fmt.Sprint(reasons) != want {
		t.Errorf("refusals %v\nwant %s", reasons, want)
	}
	if id, v := m.Remote(); id != "sensor" || v != 1 {
		t.Errorf("Remote() %q %d", id, v)
	}

	// An event of the remote sensor, in the remote's IDs.
	var ev schema.Event
	ev.Type = 2 // process_exec
	ev.ID = 7
	for _, f := range []schema.Field{
		{ID: 1, Value: value.StringValue("/tmp/x")},
		{ID: 2, Value: value.StringValue("sh")},
		{ID: 3, Value: value.U64Value(42)},
		{ID: 4, Value: value.F64Value(0.5)},
		{ID: 5, Value: value.StringValue("dropped")},
		{ID: 6, Value: value.StringValue("root")},
		{ID: 99, Value: value.StringValue("not in the remote schema")},
	} {
		if err := ev.Add(f.ID, f.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Apply(&ev); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range ev.Fields() {
		def, _ := local.Field(f.ID)
		got = append(got, fmt.Sprintf("%d:%s=%v", f.ID, def.Path, f.Value))
	}
	if s := fmt.Sprint(got); s != `[1:process.pid=42 2:process.name=sh 4:file.path=/tmp/x 5:vendor.acme.score=0.5]` {
		t.Errorf("mapped fields %s", s)
	}
	if v, _ := ev.Get(1); v.Kind() != value.KindI64 {
		t.Errorf("pid not coerced to I64: %v", v.Kind())
	}
	if ev.Type != 1 || ev.ID != 7 {
		t.Errorf("type %d id %d", ev.Type, ev.ID)
	}

	// A value the local type does not take is dropped; an unmapped type
	// refuses the whole event.
	ev.Reset()
	ev.Type = 2
	_ = ev.Add(3, value.U64Value(math.MaxUint64))
	if err := m.Apply(&ev); err != nil || ev.NumFields() != 0 {
		t.Errorf("out-of-range pid: %v, %d fields", err, ev.NumFields())
	}
	ev.Reset()
	ev.Type = 3
	_ = ev.Add(1, value.StringValue("/lib/x.so"))
	if err := m.Apply(&ev); !errors.Is(err, schema.ErrUnmappedEventType) || ev.Type != 3 {
		t.Errorf("unmapped type: %v, type %d", err, ev.Type)
	}
	ev.Type = 200
	_ = m.Apply(&ev)

	st := m.Stats()
	if st.Events != 4 || st.Refused != 2 || st.DroppedFields != 4 {
		t.Errorf("stats %+v", st)
	}
	counts := map[string]uint64{}
	for _, r := range m.Refusals() {
		counts[r.Path+"|"+r.Reason] = r.Count
	}
	for k, want := range map[string]uint64{
		"remote.only|no local field remote.only":                               1,
		"user.id|remote type String, local field user.id is U64":               1,
		"module_load|no local event type module_load":                          1,
		"process.pid|values of process.pid the local type I64 does not accept": 1,
		"|field ids the remote schema does not hold (up to 6)":                 1,
		"|event type ids the remote schema does not hold (up to 3)":            1,
	} {
		if counts[k] != want {
			t.Errorf("refusal %q: count %d, want %d (all: %v)", k, counts[k], want, counts)
		}
	}
	if _, err := schema.NewMapping(nil, local, schema.MappingOptions{}); !errors.Is(err, schema.ErrInvalidPath) {
		t.Errorf("nil remote: %v", err)
	}
	if _, err := schema.NewMapping(remote, local, schema.MappingOptions{Namespace: "a..b"}); !errors.Is(err, schema.ErrInvalidPath) {
		t.Errorf("bad namespace: %v", err)
	}
}

// With a namespace, a vendor's fields go to the local fields registered
// under it, and stay apart from the standard ones of the same path.
func TestMappingNamespace(t *testing.T) {
	remote, local := fedSchemas(t)
	m, err := schema.NewMapping(remote, local, schema.MappingOptions{Namespace: "vendor.acme"})
	if err != nil {
		t.Fatal(err)
	}
	name, _ := local.FieldID("vendor.acme.process.name")
	score, _ := local.FieldID("vendor.acme.score")
	pid, _ := local.FieldID("process.pid")
	for rid, want := range map[schema.FieldID]schema.FieldID{2: name, 4: score, 3: pid} {
		if got, _ := m.Field(rid); got != want {
			t.Errorf("remote %d: local %d, want %d", rid, got, want)
		}
	}
	// Two remote fields aiming at one local field: the second is refused.
	r2 := reg(t, "x:String", "vendor.acme.x:String")
	l2 := reg(t, "vendor.acme.x:String")
	m2, _ := schema.NewMapping(r2, l2, schema.MappingOptions{Namespace: "vendor.acme"})
	if rf := m2.Refusals(); len(rf) != 1 || rf[0].Path != "vendor.acme.x" || !strings.Contains(rf[0].Reason, "already the target of remote field x") {
		t.Errorf("collision: %+v", rf)
	}
}

// Apply keeps the field order invariant when remapping reorders fields, in
// and out of the spill slice.
func TestMappingReorders(t *testing.T) {
	var rspec, lspec []string
	for i := 0; i < 12; i++ {
		rspec = append(rspec, fmt.Sprintf("f%02d:I64", i))
		lspec = append(lspec, fmt.Sprintf("f%02d:I64", 11-i)) // reversed
	}
	rspec = append(rspec, "@e")
	lspec = append(lspec[2:], "@e") // f11 and f10 unknown locally
	remote, local := reg(t, rspec...), reg(t, lspec...)
	m, _ := schema.NewMapping(remote, local, schema.MappingOptions{})
	for _, n := range []int{3, 8, 10, 12} {
		var ev schema.Event
		ev.Type = 1
		for i := 0; i < n; i++ {
			_ = ev.Add(schema.FieldID(i+1), value.I64Value(int64(i)))
		}
		if err := m.Apply(&ev); err != nil {
			t.Fatal(err)
		}
		fs := ev.Fields()
		kept := min(n, 10)
		if len(fs) != kept {
			t.Fatalf("%d fields: %d kept, want %d", n, len(fs), kept)
		}
		for i := range fs {
			def, _ := local.Field(fs[i].ID)
			v, _ := fs[i].Value.I64()
			if i > 0 && fs[i].ID <= fs[i-1].ID || def.Path != fmt.Sprintf("f%02d", v) {
				t.Fatalf("%d fields: %v", n, fs)
			}
			if got, ok := ev.Get(fs[i].ID); !ok || !got.Equal(fs[i].Value) {
				t.Fatalf("%d fields: Get(%d) after Apply", n, fs[i].ID)
			}
		}
	}
}

func TestMappingNoAlloc(t *testing.T) {
	remote, local := fedSchemas(t)
	m, _ := schema.NewMapping(remote, local, schema.MappingOptions{})
	var src, ev schema.Event
	src.Type = 2
	for id := schema.FieldID(1); id <= 6; id++ {
		_ = src.Add(id, value.U64Value(uint64(id)))
	}
	_ = src.Add(1, value.StringValue("x"))
	noAllocs(t, "Apply", func() {
		ev.CopyFrom(&src)
		sinkErr = m.Apply(&ev)
	})
	// Spilled: more than InlineFields fields.
	var rspec []string
	for i := 0; i < 20; i++ {
		rspec = append(rspec, fmt.Sprintf("g%02d:I64", i))
	}
	big := reg(t, append(rspec, "@e")...)
	m2, _ := schema.NewMapping(big, big, schema.MappingOptions{})
	src.Reset()
	src.Type = 1
	for id := schema.FieldID(1); id <= 20; id++ {
		_ = src.Add(id, value.I64Value(int64(id)))
	}
	noAllocs(t, "Apply (spilled)", func() {
		ev.CopyFrom(&src)
		sinkErr = m2.Apply(&ev)
	})
	src.Type = 9
	noAllocs(t, "Apply (refused)", func() {
		ev.CopyFrom(&src)
		sinkErr = m2.Apply(&ev)
	})
}

var sinkErr error

// A node that takes events from a sensor on another schema maps them once
// into its own IDs: a table per ID, no lookup by path per event.
func ExampleMapping() {
	local := schema.NewRegistry()
	local.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	local.RegisterField(schema.FieldDef{Path: "process.name", DataType: schema.TypeString})
	local.RegisterEventType("process_exec")

	remote := schema.NewRegistry() // the sensor's: other IDs, and one field more
	remote.RegisterField(schema.FieldDef{Path: "process.name", DataType: schema.TypeString})
	remote.RegisterField(schema.FieldDef{Path: "host.uptime", DataType: schema.TypeU64})
	remote.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	remote.RegisterEventType("process_exec")
	remote.SetSchema("sensor", 3)

	m, _ := schema.NewMapping(remote, local, schema.MappingOptions{})
	ev, _ := schema.NewBuilder(remote).Type(1).
		Field(1, value.StringValue("sh")).Field(2, value.U64Value(9)).Field(3, value.I64Value(42)).Build()
	if err := m.Apply(&ev); err != nil {
		fmt.Println(err)
	}
	for _, f := range ev.Fields() {
		def, _ := local.Field(f.ID)
		fmt.Println(f.ID, def.Path, f.Value)
	}
	for _, r := range m.Refusals() {
		fmt.Println("refused:", r.Path, "-", r.Reason, "- seen", r.Count)
	}
	// Output:
	// 1 process.pid 42
	// 2 process.name sh
	// refused: host.uptime - no local field host.uptime - seen 1
}

// BenchmarkMappingApply maps a six-field event between two numberings:
// the same IDs (identity), and a reversed numbering that also converts a
// U64 into I64 and drops one field.
func BenchmarkMappingApply(b *testing.B) {
	remote, local := fedSchemas(b)
	same, _ := schema.NewMapping(local, local, schema.MappingOptions{})
	other, _ := schema.NewMapping(remote, local, schema.MappingOptions{})
	fill := func(reg *schema.Registry, typ schema.EventTypeID) schema.Event {
		var ev schema.Event
		ev.Type = typ
		for id := schema.FieldID(1); int(id) <= reg.NumFields(); id++ {
			def, _ := reg.Field(id)
			v := value.StringValue("x")
			switch def.DataType {
			case schema.TypeI64:
				v = value.I64Value(7)
			case schema.TypeU64:
				v = value.U64Value(7)
			case schema.TypeF64:
				v = value.F64Value(0.5)
			}
			_ = ev.Add(id, v)
		}
		return ev
	}
	for _, c := range []struct {
		name string
		m    *schema.Mapping
		src  schema.Event
	}{{"identity", same, fill(local, 1)}, {"remapped", other, fill(remote, 2)}} {
		b.Run(c.name, func(b *testing.B) {
			var ev schema.Event
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ev.CopyFrom(&c.src)
				sinkErr = c.m.Apply(&ev)
			}
		})
	}
}
