package schema_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// execRegistry registers the fields of a typical process exec event.
func execRegistry(t testing.TB) *schema.Registry {
	t.Helper()
	r := schema.NewRegistry()
	for _, d := range []schema.FieldDef{
		{Path: "process.pid", DataType: schema.TypeU64},
		{Path: "process.ppid", DataType: schema.TypeU64},
		{Path: "process.executable", DataType: schema.TypeString},
		{Path: "process.command_line", DataType: schema.TypeString},
		{Path: "user.name", DataType: schema.TypeString},
		{Path: "process.args", DataType: schema.TypeArray},
		{Path: "process.exit_code", DataType: schema.TypeI64},
		{Path: "process.cpu", DataType: schema.TypeF64},
		{Path: "process.elevated", DataType: schema.TypeBool},
		{Path: "file.hash", DataType: schema.TypeBytes},
		{Path: "extra", DataType: schema.TypeAny},
	} {
		if _, err := r.RegisterField(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.RegisterEventType("process_exec"); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuilder(t *testing.T) {
	r := execRegistry(t)
	ev, err := schema.NewBuilder(r).
		ID(7).TypeName("process_exec").Mono(100).Wall(200).Entity(schema.EntityKey{Hi: 1, Lo: 2}).
		Path("user.name", value.StringValue("root")).
		Path("process.pid", value.U64Value(42)).
		Field(3, value.StringValue("/usr/bin/curl")).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != 7 || ev.Type != 1 || ev.TsMono != 100 || ev.TsWall != 200 || ev.Entity != (schema.EntityKey{Hi: 1, Lo: 2}) {
		t.Errorf("header = %d %d %d %d %+v", ev.ID, ev.Type, ev.TsMono, ev.TsWall, ev.Entity)
	}
	want := `{"event_id":7,"event_type_id":1,"ts_mono_ns":100,"ts_wall_ns":200,"entity_key":18446744073709551618,` +
		`"fields":{"1":{"U64":42},"3":{"String":"/usr/bin/curl"},"5":{"String":"root"}}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("built %s\nwant  %s", got, want)
	}
}

func TestBuilderErrors(t *testing.T) {
	r := execRegistry(t)
	f := func(b *schema.Builder, want error, wantInMsg string) {
		t.Helper()
		ev, err := b.Build()
		if !errors.Is(err, want) {
			t.Errorf("Build() = %v, want %v", err, want)
			return
		}
		if !strings.Contains(err.Error(), wantInMsg) {
			t.Errorf("Build() = %q, want it to mention %q", err, wantInMsg)
		}
		if ev.NumFields() != 0 || ev.Type != 0 {
			t.Errorf("failed Build returned a non-zero event %s", ev.AppendJSON(nil))
		}
		if b.Err() != err {
			t.Errorf("Err() = %v, Build() = %v", b.Err(), err)
		}
		var dst schema.Event
		dst.ID = 99
		if err := b.BuildInto(&dst); !errors.Is(err, want) || dst.ID != 99 {
			t.Errorf("BuildInto = %v and changed dst to %s", err, dst.AppendJSON(nil))
		}
	}
	nb := func() *schema.Builder { return schema.NewBuilder(nil) }
	rb := func() *schema.Builder { return schema.NewBuilder(r) }

	f(nb(), schema.ErrMissingType, "no type")
	f(nb().Field(1, value.I64Value(1)), schema.ErrMissingType, "no type")
	f(rb().Type(0), schema.ErrMissingType, "no type")
	f(nb().Type(1).Field(2, value.I64Value(1)).Field(2, value.I64Value(1)), schema.ErrDuplicateEventField, "id 2")
	f(nb().Type(1).Field(0, value.I64Value(1)), schema.ErrUnknownField, "id 0")
	f(nb().Type(1).Path("process.pid", value.U64Value(1)), schema.ErrUnknownField, `"process.pid"`)
	f(nb().TypeName("process_exec"), schema.ErrUnknownEventType, `"process_exec"`)

	f(rb().Type(1).Path("process.pid", value.U64Value(1)).Path("process.pid", value.U64Value(2)),
		schema.ErrDuplicateEventField, `"process.pid"`)
	f(rb().Type(1).Field(1, value.U64Value(1)).Field(1, value.U64Value(2)),
		schema.ErrDuplicateEventField, `"process.pid"`)
	f(rb().Type(1).Field(12, value.I64Value(1)), schema.ErrUnknownField, "id 12")
	f(rb().Type(1).Field(0, value.I64Value(1)), schema.ErrUnknownField, "id 0")
	f(rb().Type(1).Path("process.nope", value.I64Value(1)), schema.ErrUnknownField, `"process.nope"`)
	f(rb().Type(1).Path("process", value.I64Value(1)), schema.ErrUnknownField, `"process"`) // a group
	f(rb().Type(2), schema.ErrUnknownEventType, "#2")
	f(rb().TypeName("file_open"), schema.ErrUnknownEventType, `"file_open"`)
	f(rb().Type(1).Path("process.pid", value.StringValue("42")), schema.ErrTypeMismatch, "process.pid")
	f(rb().Type(1).Path("process.pid", value.I64Value(-1)), schema.ErrTypeMismatch, "process.pid")
	f(rb().Type(1).Field(7, value.F64Value(1)), schema.ErrTypeMismatch, "process.exit_code")
	f(rb().Type(1).Path("file.hash", value.StringValue("ab")), schema.ErrTypeMismatch, "file.hash")

	// The first error sticks: later good and bad calls change nothing.
	b := rb().Type(1).Path("process.nope", value.I64Value(1)).
		Path("process.pid", value.U64Value(1)).
		Path("process.pid", value.StringValue("x")).
		Field(99, value.NullValue()).
		TypeName("nope")
	f(b, schema.ErrUnknownField, "process.nope")
	b = rb().Type(1).Path("process.pid", value.StringValue("x")).Type(5).Path("process.pid", value.U64Value(1))
	f(b, schema.ErrTypeMismatch, "process.pid")

	var fe *schema.FieldError
	_, err := rb().Type(1).Field(12, value.I64Value(1)).Build()
	if !errors.As(err, &fe) || fe.Field != 12 || fe.Err != schema.ErrUnknownField {
		t.Errorf("errors.As FieldError = %+v", fe)
	}
	var pe *schema.PathError
	_, err = rb().TypeName("nope").Build()
	if !errors.As(err, &pe) || pe.Path != "nope" {
		t.Errorf("errors.As PathError = %+v", pe)
	}

	// Reset clears a sticky error.
	b = rb().Type(1).Path("process.nope", value.I64Value(1))
	if _, err := b.Reset().Type(1).Path("process.pid", value.U64Value(1)).Build(); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}

func TestBuilderCoercion(t *testing.T) {
	r := execRegistry(t)
	ev, err := schema.NewBuilder(r).Type(1).
		Path("process.pid", value.I64Value(5)).                    // I64 into U64
		Path("process.exit_code", value.U64Value(3)).              // U64 into I64
		Path("process.cpu", value.I64Value(-2)).                   // I64 into F64
		Path("process.executable", value.NullValue()).             // Null anywhere
		Path("extra", value.BytesValue([]byte{1})).                // Any takes all
		Path("process.args", value.ArrayValue(value.I64Value(1))). // kept as is
		Build()
	if err != nil {
		t.Fatal(err)
	}
	check := func(path string, want value.Value) {
		t.Helper()
		id, _ := r.FieldID(path)
		got, ok := ev.Get(id)
		if !ok || !sameValue(got, want) {
			t.Errorf("%s = %v %v, want %v %v", path, got.Kind(), got, want.Kind(), want)
		}
	}
	check("process.pid", value.U64Value(5))
	check("process.exit_code", value.I64Value(3))
	check("process.cpu", value.F64Value(-2))
	check("process.executable", value.NullValue())
	check("extra", value.BytesValue([]byte{1}))
	check("process.args", value.ArrayValue(value.I64Value(1)))
}

// TestBuildSurvivesReset checks that a built Event owns its fields: the
// Builder's Reset and reuse, spilled or not, leave it alone.
func TestBuildSurvivesReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	b := schema.NewBuilder(nil)
	var kept []schema.Event
	var keptIDs [][]schema.FieldID
	var want []string
	for _, n := range []int{30, 2, 0, 9, 100, 8, 50, 1} {
		ids := sparseIDs(rng, n)
		b.Reset().ID(uint64(n)).Type(1)
		for _, id := range ids {
			b.Field(id, valueFor(id))
		}
		ev, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		checkFields(t, &ev, ids)
		kept = append(kept, ev)
		keptIDs = append(keptIDs, ids)
		want = append(want, string(ev.AppendJSON(nil)))
	}
	// One more spilled build over the Builder's storage, then check all.
	b.Reset().Type(2)
	for id := schema.FieldID(1); id <= 200; id++ {
		b.Field(id, value.StringValue("overwritten"))
	}
	var last schema.Event
	if err := b.BuildInto(&last); err != nil || last.NumFields() != 200 {
		t.Fatalf("BuildInto: %v, %d fields", err, last.NumFields())
	}
	b.Reset()
	for i := range kept {
		if got := string(kept[i].AppendJSON(nil)); got != want[i] {
			t.Fatalf("event %d changed after the Builder was reused:\n%s\nwant %s", i, got, want[i])
		}
		checkFields(t, &kept[i], keptIDs[i])
	}
	// BuildInto reuses the destination; the previous content goes.
	if err := schema.NewBuilder(nil).Type(3).Field(5, value.BoolValue(true)).BuildInto(&last); err != nil {
		t.Fatal(err)
	}
	if last.NumFields() != 1 || last.Type != 3 {
		t.Errorf("BuildInto over a spilled event = %s", last.AppendJSON(nil))
	}
	if _, ok := last.Get(6); ok {
		t.Error("BuildInto kept a field of the previous event")
	}
}

func TestBuilderErrBeforeBuild(t *testing.T) {
	b := schema.NewBuilder(nil)
	if !errors.Is(b.Err(), schema.ErrMissingType) {
		t.Errorf("Err() of an empty Builder = %v", b.Err())
	}
	b.Type(1)
	if b.Err() != nil {
		t.Errorf("Err() = %v", b.Err())
	}
	b.Field(1, value.NullValue()).Field(1, value.NullValue())
	if !errors.Is(b.Err(), schema.ErrDuplicateEventField) {
		t.Errorf("Err() = %v", b.Err())
	}
}
