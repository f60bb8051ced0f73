package schema_test

import (
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Sinks keep the compiler from dropping the benchmarked work.
var (
	sinkID    schema.FieldID
	sinkType  schema.EventTypeID
	sinkDef   schema.FieldDef
	sinkOK    bool
	sinkBytes []byte
	sinkEvent schema.Event
)

// The typical event: a process exec with six fields.
const benchCmdLine = "/usr/bin/curl -sS -L https://example.com/install.sh -o /tmp/i" // 61 bytes

var benchArgs = []value.Value{
	value.StringValue("curl"),
	value.StringValue("-sS"),
	value.StringValue("https://example.com/install.sh"),
}

// buildExec sets the six exec fields on b by path.
func buildExec(b *schema.Builder) *schema.Builder {
	return b.ID(1234567).Type(1).Mono(5_000_000_123).Wall(1_700_000_000_000_000_000).
		Entity(schema.EntityKey{Hi: 0x1234, Lo: 0xdeadbeef}).
		Path("process.pid", value.U64Value(4242)).
		Path("process.ppid", value.U64Value(1)).
		Path("process.executable", value.StringValue("/usr/bin/curl")).
		Path("process.command_line", value.StringValue(benchCmdLine)).
		Path("user.name", value.StringValue("root")).
		Path("process.args", value.ArrayValue(benchArgs...))
}

// benchEvent returns the typical exec event.
func benchEvent(t testing.TB) schema.Event {
	t.Helper()
	ev, err := buildExec(schema.NewBuilder(execRegistry(t))).Build()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func BenchmarkRegistryFieldID(b *testing.B) {
	r := execRegistry(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkOK = r.FieldID("process.command_line")
	}
}

// BenchmarkRegistryFieldIDLarge looks up in a registry of 5000 fields.
func BenchmarkRegistryFieldIDLarge(b *testing.B) {
	r := schema.NewRegistry()
	for i := 0; i < 5000; i++ {
		mustRegister(b, r, growthPath(i), schema.TypeAny)
	}
	p := growthPath(2500)
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkOK = r.FieldID(p)
	}
}

func BenchmarkRegistryField(b *testing.B) {
	r := execRegistry(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkDef, sinkOK = r.Field(4)
	}
}

func BenchmarkRegistryEventTypeID(b *testing.B) {
	r := execRegistry(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkType, sinkOK = r.EventTypeID("process_exec")
	}
}

// BenchmarkBuilderPaths builds the exec event by path, with registry checks.
func BenchmarkBuilderPaths(b *testing.B) {
	bl := schema.NewBuilder(execRegistry(b))
	b.ReportAllocs()
	for b.Loop() {
		if err := buildExec(bl.Reset()).BuildInto(&sinkEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuilderIDs builds the exec event by field ID, with registry checks.
func BenchmarkBuilderIDs(b *testing.B) {
	bl := schema.NewBuilder(execRegistry(b))
	b.ReportAllocs()
	for b.Loop() {
		err := bl.Reset().ID(1).Type(1).
			Field(1, value.U64Value(4242)).
			Field(2, value.U64Value(1)).
			Field(3, value.StringValue("/usr/bin/curl")).
			Field(4, value.StringValue(benchCmdLine)).
			Field(5, value.StringValue("root")).
			Field(6, value.ArrayValue(benchArgs...)).
			BuildInto(&sinkEvent)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	ev := benchEvent(b)
	buf := ev.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
	sinkBytes = buf
}

func BenchmarkDecode(b *testing.B) {
	ev := benchEvent(b)
	line := ev.AppendJSON(nil)
	var d schema.Decoder
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(line, &sinkEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePairs decodes the same event in the array-of-pairs shape.
func BenchmarkDecodePairs(b *testing.B) {
	line := []byte(`{"event_id":1234567,"event_type_id":1,"ts_mono_ns":5000000123,"ts_wall_ns":1700000000000000000,` +
		`"entity_key":85961827383490246459119,"fields":[[1,{"u64":4242}],[2,{"u64":1}],[3,{"string":"/usr/bin/curl"}],` +
		`[4,{"string":"` + benchCmdLine + `"}],[5,{"string":"root"}],` +
		`[6,{"array":[{"string":"curl"},{"string":"-sS"},{"string":"https://example.com/install.sh"}]}]]}`)
	var d schema.Decoder
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(line, &sinkEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRegistry decodes with type checks against the registry.
func BenchmarkDecodeRegistry(b *testing.B) {
	ev := benchEvent(b)
	line := ev.AppendJSON(nil)
	d := schema.Decoder{Registry: execRegistry(b)}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(line, &sinkEvent); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCopyFrom(b *testing.B) {
	ev := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		sinkEvent.CopyFrom(&ev)
	}
}

// BenchmarkCopyFromSpilled copies a 20-field event into a reused Event.
func BenchmarkCopyFromSpilled(b *testing.B) {
	var ids []schema.FieldID
	for id := schema.FieldID(1); id <= 20; id++ {
		ids = append(ids, id)
	}
	ev := buildShuffled(b, ids)
	var dst schema.Event
	b.ReportAllocs()
	for b.Loop() {
		dst.CopyFrom(&ev)
	}
	sinkEvent.CopyFrom(&dst)
}

func BenchmarkEventGet(b *testing.B) {
	ev := benchEvent(b)
	var v value.Value
	b.ReportAllocs()
	for b.Loop() {
		v, sinkOK = ev.Get(5)
	}
	sinkBytes = v.AppendJSON(sinkBytes[:0])
}
