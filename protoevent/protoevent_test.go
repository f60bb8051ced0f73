package protoevent_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

func events(t testing.TB) []schema.Event {
	t.Helper()
	mk := func(id uint64, typ schema.EventTypeID, key schema.EntityKey, fs ...schema.Field) schema.Event {
		var ev schema.Event
		ev.ID, ev.Type, ev.TsMono, ev.TsWall, ev.Entity = id, typ, schema.TimestampMono(id*1e9), schema.TimestampWall(id*1e9+7), key
		for _, f := range fs {
			if err := ev.Add(f.ID, f.Value); err != nil {
				t.Fatal(err)
			}
		}
		return ev
	}
	f := func(id schema.FieldID, v value.Value) schema.Field { return schema.Field{ID: id, Value: v} }
	var many []schema.Field
	for i := 1; i <= 20; i++ {
		many = append(many, f(schema.FieldID(i*3), value.I64Value(int64(-i))))
	}
	return []schema.Event{
		{},
		mk(1, 1, schema.EntityKey{Lo: 42}, f(3, value.StringValue("/bin/ls")), f(4, value.I64Value(math.MinInt64)), f(9, value.U64Value(math.MaxUint64))),
		mk(2, 65535, schema.EntityKey{Hi: math.MaxUint64, Lo: 1}, f(1, value.F64Value(math.Copysign(0, -1))), f(2, value.BoolValue(true)),
			f(5, value.BoolValue(false)), f(6, value.NullValue()), f(7, value.BytesValue([]byte{0, 0xff})), f(8, value.StringValue("\xff not utf-8")),
			f(math.MaxUint32, value.ArrayValue(value.I64Value(1), value.ArrayValue(), value.ArrayValue(value.StringValue("x"), value.NullValue())))),
		mk(3, 2, schema.EntityKey{}, many...),
	}
}

func TestRoundTrip(t *testing.T) {
	for i, ev := range events(t) {
		b := protoevent.AppendEvent(nil, &ev)
		if len(b) != protoevent.SizeEvent(&ev) {
			t.Errorf("event %d: %d bytes, SizeEvent %d", i, len(b), protoevent.SizeEvent(&ev))
		}
		var got schema.Event
		if err := protoevent.DecodeEvent(b, &got); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if g, w := got.AppendJSON(nil), ev.AppendJSON(nil); !bytes.Equal(g, w) {
			t.Errorf("event %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

// descriptor builds event.proto's descriptor by hand (protoc is not
// needed to build or test this package), for the dynamic messages below.
func descriptor(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	type F = descriptorpb.FieldDescriptorProto
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, msg string, repeated bool, oneof bool) *F {
		f := &F{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(name)}
		if repeated {
			f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		}
		if msg != "" {
			f.TypeName = proto.String(".kestrel.v1." + msg)
		}
		if oneof {
			f.OneofIndex = proto.Int32(0)
		}
		return f
	}
	const (
		tBool    = descriptorpb.FieldDescriptorProto_TYPE_BOOL
		tSint64  = descriptorpb.FieldDescriptorProto_TYPE_SINT64
		tUint64  = descriptorpb.FieldDescriptorProto_TYPE_UINT64
		tUint32  = descriptorpb.FieldDescriptorProto_TYPE_UINT32
		tDouble  = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
		tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tFixed64 = descriptorpb.FieldDescriptorProto_TYPE_FIXED64
		tMsg     = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	fd := &descriptorpb.FileDescriptorProto{
		Name: proto.String("event.proto"), Package: proto.String("kestrel.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Value"), OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("kind")}},
				Field: []*F{field("null", 1, tBool, "", false, true), field("i64", 2, tSint64, "", false, true),
					field("u64", 3, tUint64, "", false, true), field("f64", 4, tDouble, "", false, true),
					field("bool", 5, tBool, "", false, true), field("string", 6, tBytes, "", false, true),
					field("bytes", 7, tBytes, "", false, true), field("array", 8, tMsg, "Array", false, true)}},
			{Name: proto.String("Array"), Field: []*F{field("values", 1, tMsg, "Value", true, false)}},
			{Name: proto.String("Field"), Field: []*F{field("id", 1, tUint32, "", false, false), field("value", 2, tMsg, "Value", false, false)}},
			{Name: proto.String("Event"), Field: []*F{field("event_id", 1, tUint64, "", false, false),
				field("event_type_id", 2, tUint32, "", false, false), field("ts_mono_ns", 3, tUint64, "", false, false),
				field("ts_wall_ns", 4, tUint64, "", false, false), field("entity_key_hi", 5, tFixed64, "", false, false),
				field("entity_key_lo", 6, tFixed64, "", false, false), field("fields", 7, tMsg, "Field", true, false)}},
			{Name: proto.String("EventBatch"), Field: []*F{field("schema_id", 1, tString, "", false, false),
				field("schema_version", 2, tUint32, "", false, false), field("events", 3, tMsg, "Event", true, false)}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The bytes are event.proto's: the protobuf runtime reads them, sees the
// values where the .proto says, and what it writes back decodes to the
// same events.
func TestConformance(t *testing.T) {
	fd := descriptor(t)
	batchDesc := fd.Messages().ByName("EventBatch")
	evs := events(t)
	ptrs := make([]*schema.Event, len(evs))
	for i := range evs {
		ptrs[i] = &evs[i]
	}
	ours := protoevent.AppendBatch(nil, protoevent.BatchHeader{SchemaID: "acme.sensor", SchemaVersion: 2}, ptrs)
	msg := dynamicpb.NewMessage(batchDesc)
	if err := proto.Unmarshal(ours, msg); err != nil {
		t.Fatal(err)
	}
	if id := msg.Get(batchDesc.Fields().ByName("schema_id")).String(); id != "acme.sensor" {
		t.Errorf("schema_id %q", id)
	}
	list := msg.Get(batchDesc.Fields().ByName("events")).List()
	ev1 := list.Get(1).Message()
	evDesc := fd.Messages().ByName("Event")
	if id := ev1.Get(evDesc.Fields().ByName("event_id")).Uint(); id != 1 || list.Len() != len(evs) {
		t.Errorf("event_id %d, %d events", id, list.Len())
	}
	f0 := ev1.Get(evDesc.Fields().ByName("fields")).List().Get(1).Message() // field 4, I64 MinInt64
	v := f0.Get(fd.Messages().ByName("Field").Fields().ByName("value")).Message()
	if got := v.Get(fd.Messages().ByName("Value").Fields().ByName("i64")).Int(); got != math.MinInt64 {
		t.Errorf("i64 %d", got)
	}
	theirs, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := protoevent.ReadBatchHeader(theirs)
	if err != nil || h != (protoevent.BatchHeader{SchemaID: "acme.sensor", SchemaVersion: 2}) {
		t.Fatalf("header %+v %v", h, err)
	}
	i := 0
	var ev schema.Event
	err = protoevent.ReadBatch(theirs, &ev, func(ev *schema.Event) error {
		if g, w := ev.AppendJSON(nil), evs[i].AppendJSON(nil); !bytes.Equal(g, w) {
			t.Errorf("event %d through the runtime:\n got %s\nwant %s", i, g, w)
		}
		i++
		return nil
	})
	if err != nil || i != len(evs) {
		t.Fatalf("%d events, %v", i, err)
	}
}

func TestNoAlloc(t *testing.T) {
	if unsafeconv.Copies {
		t.Skip("purego build copies strings")
	}
	evs := events(t)
	ev := &evs[1]
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(200, func() { buf = protoevent.AppendEvent(buf[:0], ev) }); n != 0 {
		t.Errorf("AppendEvent: %v allocs", n)
	}
	var got schema.Event
	if n := testing.AllocsPerRun(200, func() { _ = protoevent.DecodeEvent(buf, &got) }); n != 0 {
		t.Errorf("DecodeEvent: %v allocs", n)
	}
}

func TestDecodeErrors(t *testing.T) {
	f := func(name string, b []byte) {
		t.Helper()
		var ev schema.Event
		err := protoevent.DecodeEvent(b, &ev)
		var de *protoevent.DecodeError
		if !errors.Is(err, protoevent.ErrMalformed) || !errors.As(err, &de) {
			t.Errorf("%s: %v", name, err)
		}
	}
	f("truncated tag", []byte{0x80})
	f("truncated varint", []byte{0x08, 0x80})
	f("type out of range", []byte{0x10, 0x80, 0x80, 0x04})
	f("field length past the end", []byte{0x3a, 0x05, 0x08})
	f("field id 0", []byte{0x3a, 0x02, 0x12, 0x00})
	twice := []byte{0x3a, 0x02, 0x08, 0x01, 0x3a, 0x02, 0x08, 0x01}
	f("field twice", twice)
	// An unknown field is skipped.
	var ev schema.Event
	if err := protoevent.DecodeEvent([]byte{0x08, 0x05, 0x78, 0x01}, &ev); err != nil || ev.ID != 5 {
		t.Errorf("unknown field: %v %d", err, ev.ID)
	}
	if _, err := protoevent.ReadBatchHeader([]byte{0x0a, 0x09}); !errors.Is(err, protoevent.ErrMalformed) {
		t.Errorf("batch header: %v", err)
	}
	if err := protoevent.ReadBatch([]byte{0x1a, 0x09}, &ev, nil); !errors.Is(err, protoevent.ErrMalformed) {
		t.Errorf("batch: %v", err)
	}
	stop := errors.New("stop")
	b := protoevent.AppendBatch(nil, protoevent.BatchHeader{}, []*schema.Event{&ev, &ev})
	n := 0
	if err := protoevent.ReadBatch(b, &ev, func(*schema.Event) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("each's error: %v after %d", err, n)
	}
}

// Arrays nest at most value.MaxDepth deep.
func TestDecodeDepth(t *testing.T) {
	v := value.I64Value(1)
	for i := 0; i < value.MaxDepth+1; i++ {
		v = value.ArrayValue(v)
	}
	var ev schema.Event
	_ = ev.Add(1, v)
	b := protoevent.AppendEvent(nil, &ev)
	if err := protoevent.DecodeEvent(b, &ev); !errors.Is(err, protoevent.ErrMalformed) {
		t.Errorf("too deep: %v", err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range events(f) {
		f.Add(protoevent.AppendEvent(nil, &ev))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev schema.Event
		if protoevent.DecodeEvent(b, &ev) != nil {
			return
		}
		// What decodes re-encodes to bytes that decode to the same event.
		again := protoevent.AppendEvent(nil, &ev)
		var ev2 schema.Event
		if err := protoevent.DecodeEvent(again, &ev2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ev.AppendJSON(nil), ev2.AppendJSON(nil)) {
			t.Fatalf("%s\n%s", ev.AppendJSON(nil), ev2.AppendJSON(nil))
		}
	})
}

// A sensor sends a batch in its own schema; the node reads the header,
// picks the mapping, and decodes the events into its IDs.
func Example() {
	sensor := schema.NewRegistry()
	sensor.RegisterField(schema.FieldDef{Path: "process.name", DataType: schema.TypeString})
	sensor.RegisterEventType("process_exec")
	sensor.SetSchema("acme.sensor", 2)

	local := schema.NewRegistry()
	local.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	local.RegisterField(schema.FieldDef{Path: "process.name", DataType: schema.TypeString})
	local.RegisterEventType("process_exec")

	ev, _ := schema.NewBuilder(sensor).ID(7).Type(1).Field(1, value.StringValue("sh")).Build()
	msg := protoevent.AppendBatch(nil, protoevent.BatchHeader{SchemaID: sensor.SchemaID(), SchemaVersion: sensor.SchemaVersion()},
		[]*schema.Event{&ev})
	fmt.Println(len(msg), "bytes")

	h, _ := protoevent.ReadBatchHeader(msg)
	fmt.Println(h.SchemaID, h.SchemaVersion)
	m, _ := schema.NewMapping(sensor, local, schema.MappingOptions{}) // resolved by h in a real node
	var got schema.Event
	_ = protoevent.ReadBatch(msg, &got, func(ev *schema.Event) error {
		if err := m.Apply(ev); err != nil {
			return err
		}
		fmt.Println(string(ev.AppendJSON(nil)))
		return nil
	})
	// Output:
	// 31 bytes
	// acme.sensor 2
	// {"event_id":7,"event_type_id":1,"ts_mono_ns":0,"ts_wall_ns":0,"entity_key":0,"fields":{"2":{"String":"sh"}}}
}
