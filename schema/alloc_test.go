package schema_test

import (
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// The hot operations allocate nothing; each test fails the day one starts to.

func noAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: %v allocs per run, want 0", name, n)
	}
}

func TestRegistryNoAlloc(t *testing.T) {
	r := execRegistry(t)
	for i := 0; i < 1000; i++ { // tables past their first resize
		mustRegister(t, r, growthPath(i), schema.TypeAny)
	}
	noAllocs(t, "Field", func() { sinkDef, sinkOK = r.Field(4) })
	noAllocs(t, "FieldID", func() { sinkID, sinkOK = r.FieldID("process.command_line") })
	noAllocs(t, "FieldID (miss)", func() { sinkID, sinkOK = r.FieldID("process.nope") })
	noAllocs(t, "EventTypeID", func() { sinkType, sinkOK = r.EventTypeID("process_exec") })
	noAllocs(t, "EventTypeName", func() { _, sinkOK = r.EventTypeName(1) })
	noAllocs(t, "IsGroup", func() { sinkOK = r.IsGroup("process") })
	noAllocs(t, "Version", func() { sinkOK = r.Version() == 0 })
}

func TestBuilderNoAlloc(t *testing.T) {
	r := execRegistry(t)
	b := schema.NewBuilder(r)
	args := value.ArrayValue(benchArgs...)
	var ev schema.Event
	noAllocs(t, "Builder by ID", func() {
		err := b.Reset().ID(1).Type(1).Mono(2).Wall(3).Entity(schema.EntityKey{Lo: 4}).
			Field(6, args).
			Field(1, value.I64Value(4242)). // coerced to U64
			Field(2, value.U64Value(1)).
			Field(3, value.StringValue("/usr/bin/curl")).
			Field(4, value.StringValue(benchCmdLine)).
			Field(5, value.StringValue("root")).
			BuildInto(&ev)
		if err != nil {
			t.Fatal(err)
		}
	})
	noAllocs(t, "Builder by path", func() {
		if err := buildExec(b.Reset()).BuildInto(&ev); err != nil {
			t.Fatal(err)
		}
	})
	nb := schema.NewBuilder(nil)
	noAllocs(t, "Builder without registry", func() {
		nb.Reset().Type(1)
		for id := schema.FieldID(schema.InlineFields); id >= 1; id-- {
			nb.Field(id, value.U64Value(uint64(id)))
		}
		if err := nb.BuildInto(&ev); err != nil {
			t.Fatal(err)
		}
	})
	if ev.NumFields() != schema.InlineFields {
		t.Fatalf("built %d fields", ev.NumFields())
	}
}

func TestEventNoAlloc(t *testing.T) {
	ev := benchEvent(t)
	var v value.Value
	noAllocs(t, "Get", func() { v, sinkOK = ev.Get(5) })
	noAllocs(t, "Get (miss)", func() { v, sinkOK = ev.Get(99) })
	_ = v
	var dst schema.Event
	noAllocs(t, "CopyFrom inline", func() { dst.CopyFrom(&ev) })
	noAllocs(t, "Reset", func() { dst.Reset() })
	buf := make([]byte, 0, 1024)
	noAllocs(t, "AppendJSON", func() { buf = ev.AppendJSON(buf[:0]) })
	varied := variedEvent(t)
	noAllocs(t, "AppendJSON (every kind, spilled)", func() { buf = varied.AppendJSON(buf[:0]) })
	noAllocs(t, "EntityKey.AppendDecimal", func() { buf = varied.Entity.AppendDecimal(buf[:0]) })
}

// TestDecodeAllocs measures what a Decode of the typical line allocates. It
// is not zero: Arrays get their own element slice, and the arena takes a
// new block every 16 KiB of strings. It guards against a regression.
func TestDecodeAllocs(t *testing.T) {
	if unsafeconv.Copies {
		t.Skip("the purego build copies what it views")
	}
	ev := benchEvent(t)
	line := ev.AppendJSON(nil)
	var d schema.Decoder
	var dst schema.Event
	n := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(line, &dst); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Decoder.Decode of a %d-byte, 6-field line: %.2f allocs", len(line), n)
	if n > 3 {
		t.Errorf("Decode: %.2f allocs per line, want at most 3", n)
	}
	noArray := schema.Event{}
	noArray.CopyFrom(&ev)
	scalarLine := []byte(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,` +
		`"fields":{"1":{"U64":4242},"2":{"U64":1},"3":{"String":"/usr/bin/curl"},"5":{"String":"root"}}}`)
	n = testing.AllocsPerRun(1000, func() {
		if err := d.Decode(scalarLine, &dst); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Decoder.Decode of a line without Arrays: %.2f allocs", n)
}

// Filling an event in place (as a claimed bus slot is) allocates nothing
// once its spill capacity has grown.
func TestEventAddNoAlloc(t *testing.T) {
	var ev schema.Event
	fill := func(n int) {
		ev.Reset()
		for id := schema.FieldID(1); int(id) <= n; id++ {
			if err := ev.Add(id, value.U64Value(uint64(id))); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(20) // grows the spill once
	noAllocs(t, "Add, inline", func() { fill(schema.InlineFields) })
	noAllocs(t, "Add, spilled", func() { fill(20) })
}
