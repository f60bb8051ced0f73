package schema_test

import (
	"errors"
	"fmt"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// A Registry gives every field path a stable numeric ID; paths nest into
// groups.
func ExampleRegistry() {
	var reg schema.Registry // the zero Registry is ready to use
	exe, _ := reg.RegisterField(schema.FieldDef{Path: "process.executable", DataType: schema.TypeString})
	pid, _ := reg.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	exec, _ := reg.RegisterEventType("process_exec")

	id, _ := reg.FieldID("process.pid")
	fmt.Println(exe, pid, id, exec)
	for _, f := range reg.GroupFields("process") {
		fmt.Println(f.Path, f.DataType)
	}
	_, err := reg.RegisterField(schema.FieldDef{Path: "process"})
	fmt.Println(errors.Is(err, schema.ErrPathConflict))
	// Output:
	// 1 2 2 1
	// process.executable String
	// process.pid I64
	// true
}

// A Builder validates as it goes: field paths and types are checked against
// the registry, and the first error is kept.
func ExampleBuilder() {
	reg := schema.NewRegistry()
	_, _ = reg.RegisterFields(
		schema.FieldDef{Path: "process.executable", DataType: schema.TypeString},
		schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64},
	)
	_, _ = reg.RegisterEventType("process_exec")

	ev, err := schema.NewBuilder(reg).
		ID(1).TypeName("process_exec").Mono(1_000_000_000).Wall(1_700_000_000_000_000_000).
		Entity(schema.EntityKeyFrom64(42)).
		Path("process.pid", value.I64Value(4242)).
		Path("process.executable", value.StringValue("/usr/bin/curl")).
		Build()
	fmt.Println(string(ev.AppendJSON(nil)), err)

	_, err = schema.NewBuilder(reg).TypeName("process_exec").Path("process.pid", value.StringValue("x")).Build()
	var te *schema.TypeError
	fmt.Println(errors.As(err, &te), errors.Is(err, schema.ErrTypeMismatch))
	// Output:
	// {"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1700000000000000000,"entity_key":42,"fields":{"1":{"String":"/usr/bin/curl"},"2":{"I64":4242}}} <nil>
	// true true
}

// A Decoder reads the JSON-lines form, in either shape of the fields, and
// says what is wrong with a bad line.
func ExampleDecoder() {
	var d schema.Decoder
	var ev schema.Event
	err := d.DecodeString(`{"event_id":7,"event_type_id":1,"ts_mono_ns":5,"ts_wall_ns":6,"entity_key":340282366920938463463374607431768211455,"fields":[[1,{"string":"/bin/sh"}]]}`, &ev)
	v, _ := ev.Get(1)
	fmt.Println(ev.ID, ev.Entity, v, err)

	err = d.DecodeString(`{"event_id":-7,"event_type_id":1,"ts_mono_ns":5,"ts_wall_ns":6,"entity_key":1,"fields":{}}`, &ev)
	fmt.Println(err)
	// Output:
	// 7 340282366920938463463374607431768211455 /bin/sh <nil>
	// schema: invalid event: event_id -7 is not an unsigned integer
}

// An event written by hand against the default schema, ECS: the type by
// name, fields by path, plain values typed by the schema.
func ExampleDecoder_handWritten() {
	reg := schema.ECS()
	d := schema.Decoder{Registry: reg}
	var ev schema.Event
	err := d.DecodeString(`{"event_id":1,"event_type":"process","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":7,`+
		`"fields":{"process.name":"bash","process.pid":42,"user.id":"0"}}`, &ev)
	fmt.Println(err)
	fmt.Println(string(ev.AppendJSON(nil)))

	err = d.DecodeString(`{"event_id":1,"event_type":"process","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":7,`+
		`"fields":{"process.pid":"42"}}`, &ev)
	fmt.Println(errors.Is(err, schema.ErrTypeMismatch), err)
	// Output:
	// <nil>
	// {"event_id":1,"event_type_id":34,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":7,"fields":{"1":{"I64":42},"4":{"String":"bash"},"8":{"String":"0"}}}
	// true schema: invalid event: fields.process.pid: schema: type mismatch: field process.pid (id 1) is I64, got String {"String":"42"}
}
