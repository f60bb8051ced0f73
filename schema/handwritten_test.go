package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

const hwHead = `{"event_id":1,"event_type":"process","ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":`

// TestDecodeHandWritten reads events written by hand against ECS: fields by
// path, the type by name, plain values typed by the schema; both decoder
// paths give the same event.
func TestDecodeHandWritten(t *testing.T) {
	reg := schema.ECS()
	id := func(p string) schema.FieldID {
		f, ok := reg.FieldID(p)
		if !ok {
			t.Fatalf("%s not in ECS", p)
		}
		return f
	}
	f := func(fields string, want ...any) {
		t.Helper()
		for _, slow := range []bool{false, true} {
			d := schema.Decoder{Registry: reg, NoFastPath: slow}
			var ev schema.Event
			if err := d.DecodeString(hwHead+fields+"}", &ev); err != nil {
				t.Fatalf("%s: %v", fields, err)
			}
			if typ, _ := reg.EventTypeName(ev.Type); typ != "process" || ev.ID != 1 || ev.TsMono != 2 || ev.Entity.Lo != 4 {
				t.Fatalf("%s: header %+v", fields, ev)
			}
			if ev.NumFields() != len(want)/2 {
				t.Fatalf("%s: %d fields, want %d", fields, ev.NumFields(), len(want)/2)
			}
			for i := 0; i < len(want); i += 2 {
				got, ok := ev.Get(id(want[i].(string)))
				if w := want[i+1].(value.Value); !ok || !got.Equal(w) || got.Kind() != w.Kind() {
					t.Errorf("%s: %s = %v, want %v", fields, want[i], got, w)
				}
			}
		}
	}
	f(`{"process.name":{"String":"bash"}}`, "process.name", value.StringValue("bash"))
	f(`{"4":{"String":"bash"},"process.pid":{"I64":7}}`, "process.name", value.StringValue("bash"), "process.pid", value.I64Value(7))
	f(`{"process.pid":42}`, "process.pid", value.I64Value(42))
	f(`{"process.pid":-1}`, "process.pid", value.I64Value(-1))
	f(`{"destination.port":443}`, "destination.port", value.U64Value(443))
	f(`{"event.risk_score":1.5}`, "event.risk_score", value.F64Value(1.5))
	f(`{"event.risk_score":2}`, "event.risk_score", value.F64Value(2))
	f(`{"user.id":"0","user.name":"root"}`, "user.id", value.StringValue("0"), "user.name", value.StringValue("root"))
	f(`{"process.code_signature.trusted":true}`, "process.code_signature.trusted", value.BoolValue(true))
	f(`{"process.name":null}`, "process.name", value.NullValue())
	f(`{"process.name":"Null"}`, "process.name", value.NullValue()) // the tagged Null
	f(`{"process.name":{"String":"Null"}}`, "process.name", value.StringValue("Null"))
	f(`{"process.args":"curl -fsSL http://x"}`, "process.args", value.StringValue("curl -fsSL http://x"))
	f(`{"process.args":["curl","-fsSL","http://x"]}`, "process.args", value.ArrayValue(value.StringValue("curl"), value.StringValue("-fsSL"), value.StringValue("http://x")))
	f(`{}`)

	// Array and Any fields take plain arrays and infer scalars.
	r2 := schema.NewRegistry()
	_, _ = r2.RegisterFields(schema.FieldDef{Path: "a.list", DataType: schema.TypeArray}, schema.FieldDef{Path: "a.any"})
	_, _ = r2.RegisterEventType("x")
	d := schema.Decoder{Registry: r2}
	var ev schema.Event
	line := `{"event_id":1,"event_type":"x","ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{"a.list":["a",1,18446744073709551615,1.5,true,null],"a.any":7}}`
	if err := d.DecodeString(line, &ev); err != nil {
		t.Fatal(err)
	}
	want := value.ArrayValue(value.StringValue("a"), value.I64Value(1), value.U64Value(18446744073709551615),
		value.F64Value(1.5), value.BoolValue(true), value.NullValue())
	if got, _ := ev.Get(1); !got.Equal(want) {
		t.Fatalf("array: %v, want %v", got, want)
	}
	if got, _ := ev.Get(2); !got.Equal(value.I64Value(7)) {
		t.Fatalf("any: %v", got)
	}
	// The event owns its strings: the line may be reused.
	buf := []byte(line)
	if err := d.Decode(buf, &ev); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'x'
	}
	if got, _ := ev.Get(1); !got.Equal(want) {
		t.Fatalf("array after the line changed: %v", got)
	}
}

// TestDecodeHandWrittenErrors: every error names the field as written and
// matches a sentinel.
func TestDecodeHandWrittenErrors(t *testing.T) {
	f := func(reg *schema.Registry, line string, sentinel error, part string) {
		t.Helper()
		for _, slow := range []bool{false, true} {
			d := schema.Decoder{Registry: reg, NoFastPath: slow}
			var ev schema.Event
			err := d.DecodeString(line, &ev)
			if !errors.Is(err, sentinel) || !errors.Is(err, schema.ErrInvalidEvent) || !strings.Contains(err.Error(), part) {
				t.Fatalf("%s: %v, want %v mentioning %q", line, err, sentinel, part)
			}
		}
	}
	ecs := schema.ECS()
	f(ecs, hwHead+`{"vendor.acme.x":1}}`, schema.ErrUnknownField, "fields.vendor.acme.x: no such field")
	f(ecs, strings.Replace(hwHead, `"process"`, `"proc"`, 1)+`{}}`, schema.ErrUnknownEventType, `event_type "proc": no such event type`)
	f(ecs, `{"event_id":1,"event_type":"process","event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, schema.ErrInvalidEvent, "give the type once")
	f(ecs, strings.Replace(hwHead, `"process"`, `7`, 1)+`{}}`, schema.ErrInvalidEvent, "event_type: expected an event type name")
	f(ecs, hwHead+`{"user.name":5}}`, schema.ErrTypeMismatch, "fields.user.name: field is String, got the number 5")
	f(ecs, hwHead+`{"process.pid":"42"}}`, schema.ErrTypeMismatch, "fields.process.pid: schema: type mismatch: field process.pid (id 1) is I64")
	f(ecs, hwHead+`{"process.pid":1.5}}`, schema.ErrTypeMismatch, "fields.process.pid: field is I64; 1.5 is not one")
	f(ecs, hwHead+`{"destination.port":-1}}`, schema.ErrTypeMismatch, "fields.destination.port: field is U64; -1 is not one")
	f(ecs, hwHead+`{"process.args":["a",1]}}`, schema.ErrTypeMismatch, "fields.process.args")
	f(ecs, hwHead+`{"process.name":"a","4":{"String":"b"}}}`, schema.ErrDuplicateEventField, "fields.4: field appears twice")
	f(ecs, hwHead+`{"process.code_signature.trusted":"yes"}}`, schema.ErrTypeMismatch, "fields.process.code_signature.trusted")
	r2 := schema.NewRegistry()
	_, _ = r2.RegisterFields(schema.FieldDef{Path: "a.list", DataType: schema.TypeArray})
	_, _ = r2.RegisterEventType("process")
	f(r2, hwHead+`{"a.list":[["x"]]}}`, schema.ErrInvalidEvent, "fields.a.list: a plain array holds plain scalars")
	f(r2, hwHead+`{"a.list":[{"String":"x"}]}}`, schema.ErrInvalidEvent, "fields.a.list: a plain array holds plain scalars")
	// Without a registry only the wire form is read.
	f(nil, hwHead+`{}}`, schema.ErrInvalidEvent, "a type name needs a schema")
	f(nil, `{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{"process.name":"Null"}}`,
		schema.ErrInvalidEvent, "naming a field by path needs a schema")
	f(nil, `{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{"1":5}}`,
		schema.ErrInvalidEvent, "fields.1")
}

// FuzzDecodeHandWritten decodes lines against a small schema with both
// decoder paths: they accept and reject the same lines, give the same
// event, and an accepted event re-encodes to a wire line that decodes to
// it again.
func FuzzDecodeHandWritten(f *testing.F) {
	for _, s := range []string{
		hwHead + `{"p.name":"bash","p.pid":42,"p.list":["a",1,true,null],"p.any":1.5,"p.ok":true}}`,
		hwHead + `{"p.name":{"String":"bash"},"2":{"I64":1}}}`,
		hwHead + `{"p.name":null,"p.pid":-9223372036854775808,"p.port":18446744073709551615}}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":[[1,"x"]]}`,
	} {
		f.Add([]byte(s))
	}
	reg := schema.NewRegistry()
	_, _ = reg.RegisterFields(schema.FieldDef{Path: "p.name", DataType: schema.TypeString},
		schema.FieldDef{Path: "p.pid", DataType: schema.TypeI64}, schema.FieldDef{Path: "p.port", DataType: schema.TypeU64},
		schema.FieldDef{Path: "p.list", DataType: schema.TypeArray}, schema.FieldDef{Path: "p.any"},
		schema.FieldDef{Path: "p.ok", DataType: schema.TypeBool}, schema.FieldDef{Path: "p.score", DataType: schema.TypeF64})
	_, _ = reg.RegisterEventType("process")
	f.Fuzz(func(t *testing.T, line []byte) {
		fast := schema.Decoder{Registry: reg}
		slow := schema.Decoder{Registry: reg, NoFastPath: true}
		var a, b schema.Event
		errA, errB := fast.Decode(line, &a), slow.Decode(line, &b)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("fast: %v, slow: %v", errA, errB)
		}
		if errA != nil {
			if !errors.Is(errA, schema.ErrInvalidEvent) {
				t.Fatalf("error does not match ErrInvalidEvent: %v", errA)
			}
			return
		}
		wa, wb := a.AppendJSON(nil), b.AppendJSON(nil)
		if string(wa) != string(wb) {
			t.Fatalf("paths differ:\n%s\n%s", wa, wb)
		}
		var c schema.Event
		if err := slow.Decode(wa, &c); err != nil {
			t.Fatalf("re-decoding %s: %v", wa, err)
		}
		if string(c.AppendJSON(nil)) != string(wa) {
			t.Fatalf("not a fixed point: %s", wa)
		}
	})
}

// BenchmarkDecodeHandWritten decodes a hand-written line (type by name,
// fields by path, plain values) against ECS: the slow path, for the record.
func BenchmarkDecodeHandWritten(b *testing.B) {
	line := []byte(hwHead + `{"process.pid":4242,"process.executable":"/usr/bin/curl","process.command_line":"curl -sS https://example.com/install.sh","user.name":"root","user.id":"0"}}`)
	d := schema.Decoder{Registry: schema.ECS()}
	var ev schema.Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
