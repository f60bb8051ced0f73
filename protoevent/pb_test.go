package protoevent_test

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/protoevent/pb"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// toPB builds the generated message for ev, field by field, without our
// codec.
func toPB(ev *schema.Event) *pb.Event {
	m := &pb.Event{EventId: ev.ID, EventTypeId: uint32(ev.Type), TsMonoNs: uint64(ev.TsMono), TsWallNs: uint64(ev.TsWall),
		EntityKeyHi: ev.Entity.Hi, EntityKeyLo: ev.Entity.Lo}
	for _, f := range ev.Fields() {
		m.Fields = append(m.Fields, &pb.Field{Id: uint32(f.ID), Value: valueToPB(f.Value)})
	}
	return m
}

func valueToPB(v value.Value) *pb.Value {
	switch v.Kind() {
	case value.KindI64:
		x, _ := v.I64()
		return &pb.Value{Kind: &pb.Value_I64{I64: x}}
	case value.KindU64:
		x, _ := v.U64()
		return &pb.Value{Kind: &pb.Value_U64{U64: x}}
	case value.KindF64:
		x, _ := v.F64()
		return &pb.Value{Kind: &pb.Value_F64{F64: x}}
	case value.KindBool:
		x, _ := v.Bool()
		return &pb.Value{Kind: &pb.Value_Bool{Bool: x}}
	case value.KindString:
		x, _ := v.Str()
		return &pb.Value{Kind: &pb.Value_String_{String_: []byte(x)}}
	case value.KindBytes:
		x, _ := v.Bytes()
		if x == nil {
			x = []byte{} // a set oneof member, even when empty
		}
		return &pb.Value{Kind: &pb.Value_Bytes{Bytes: x}}
	case value.KindArray:
		xs, _ := v.Array()
		a := &pb.Array{}
		for _, x := range xs {
			a.Values = append(a.Values, valueToPB(x))
		}
		return &pb.Value{Kind: &pb.Value_Array{Array: a}}
	}
	return &pb.Value{Kind: &pb.Value_Null{Null: true}}
}

// fromPB is toPB's inverse.
func fromPB(t testing.TB, m *pb.Event) schema.Event {
	t.Helper()
	ev := schema.Event{ID: m.EventId, Type: schema.EventTypeID(m.EventTypeId), TsMono: schema.TimestampMono(m.TsMonoNs),
		TsWall: schema.TimestampWall(m.TsWallNs), Entity: schema.EntityKey{Hi: m.EntityKeyHi, Lo: m.EntityKeyLo}}
	for _, f := range m.Fields {
		if err := ev.Add(schema.FieldID(f.Id), valueFromPB(f.Value)); err != nil {
			t.Fatal(err)
		}
	}
	return ev
}

func valueFromPB(v *pb.Value) value.Value {
	switch k := v.GetKind().(type) {
	case *pb.Value_I64:
		return value.I64Value(k.I64)
	case *pb.Value_U64:
		return value.U64Value(k.U64)
	case *pb.Value_F64:
		return value.F64Value(k.F64)
	case *pb.Value_Bool:
		return value.BoolValue(k.Bool)
	case *pb.Value_String_:
		return value.StringValue(string(k.String_))
	case *pb.Value_Bytes:
		return value.BytesValue(k.Bytes)
	case *pb.Value_Array:
		var vs []value.Value
		for _, x := range k.Array.Values {
			vs = append(vs, valueFromPB(x))
		}
		return value.ArrayValue(vs...)
	}
	return value.NullValue()
}

// edgeEvent holds every Value kind at its edges: zero, extremes, special
// floats, empty and non-UTF-8 strings, empty and nested arrays.
func edgeEvent(t *testing.T) schema.Event {
	vs := []value.Value{
		value.NullValue(),
		value.I64Value(0), value.I64Value(-1), value.I64Value(math.MinInt64), value.I64Value(math.MaxInt64),
		value.U64Value(0), value.U64Value(math.MaxUint64),
		value.F64Value(0), value.F64Value(math.Copysign(0, -1)), value.F64Value(math.Inf(1)), value.F64Value(math.Inf(-1)),
		value.F64Value(math.NaN()), value.F64Value(math.SmallestNonzeroFloat64), value.F64Value(math.MaxFloat64),
		value.BoolValue(false), value.BoolValue(true),
		value.StringValue(""), value.StringValue("/bin/ls"), value.StringValue("\xff\x00 not utf-8"),
		value.BytesValue(nil), value.BytesValue([]byte{0, 0xff}),
		value.ArrayValue(), value.ArrayValue(value.NullValue(), value.ArrayValue(value.I64Value(-7), value.StringValue("x"))),
	}
	ev := schema.Event{ID: math.MaxUint64, Type: math.MaxUint16, TsMono: math.MaxUint64, TsWall: 1,
		Entity: schema.EntityKey{Hi: math.MaxUint64, Lo: math.MaxUint64}}
	for i, v := range vs {
		id := schema.FieldID(i + 1)
		if i == len(vs)-1 {
			id = math.MaxUint32
		}
		if err := ev.Add(id, v); err != nil {
			t.Fatal(err)
		}
	}
	return ev
}

// sameEvent compares events by value (NaN equal to NaN, -0 distinct from
// 0), since JSON cannot carry every float.
func sameEvent(a, b *schema.Event) bool {
	if a.ID != b.ID || a.Type != b.Type || a.TsMono != b.TsMono || a.TsWall != b.TsWall || a.Entity != b.Entity ||
		a.NumFields() != b.NumFields() {
		return false
	}
	fa, fb := a.Fields(), b.Fields()
	for i := range fa {
		if fa[i].ID != fb[i].ID || !sameValue(fa[i].Value, fb[i].Value) {
			return false
		}
	}
	return true
}

func sameValue(a, b value.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case value.KindF64:
		x, _ := a.F64()
		y, _ := b.F64()
		return math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)
	case value.KindArray:
		xs, _ := a.Array()
		ys, _ := b.Array()
		if len(xs) != len(ys) {
			return false
		}
		for i := range xs {
			if !sameValue(xs[i], ys[i]) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// The hand codec and the generated code agree: the same bytes for every
// Value kind at its edges, and each reads what the other writes.
func TestGeneratedAgrees(t *testing.T) {
	evs := append(events(t), edgeEvent(t))
	for i := range evs {
		ev := &evs[i]
		ours := protoevent.AppendEvent(nil, ev)
		theirs, err := proto.MarshalOptions{Deterministic: true}.Marshal(toPB(ev))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("event %d: hand codec\n% x\ngenerated\n% x", i, ours, theirs)
		}
		var m pb.Event
		if err := proto.Unmarshal(ours, &m); err != nil {
			t.Fatalf("event %d: generated code cannot read ours: %v", i, err)
		}
		if back := fromPB(t, &m); !sameEvent(&back, ev) {
			t.Errorf("event %d: generated code read\n%s\nwant\n%s", i, back.AppendJSON(nil), ev.AppendJSON(nil))
		}
		var got schema.Event
		if err := protoevent.DecodeEvent(theirs, &got); err != nil || !sameEvent(&got, ev) {
			t.Errorf("event %d: we read the generated bytes as\n%s (%v)\nwant\n%s", i, got.AppendJSON(nil), err, ev.AppendJSON(nil))
		}
	}
	// The log header too.
	h := protoevent.LogHeader{Version: 1, SchemaVersion: 3, SchemaID: "acme.sensor", MetaJSON: []byte(`{"host":"h"}`)}
	theirs, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb.LogHeader{Version: 1, SchemaVersion: 3,
		SchemaId: "acme.sensor", MetaJson: `{"host":"h"}`})
	if err != nil || !bytes.Equal(protoevent.AppendLogHeader(nil, h), theirs) {
		t.Errorf("log header: % x, generated % x (%v)", protoevent.AppendLogHeader(nil, h), theirs, err)
	}
	if got, err := protoevent.DecodeLogHeader(theirs); err != nil || got.SchemaID != h.SchemaID ||
		got.SchemaVersion != 3 || got.Version != 1 || string(got.MetaJSON) != string(h.MetaJSON) {
		t.Errorf("log header read back: %+v %v", got, err)
	}
}

// FuzzAgainstGenerated decodes the same bytes with the hand codec and the
// generated code: what ours accepts, the protobuf runtime accepts too, as
// the same event (ours refuses more: a type past 16 bits, field id 0, a
// field twice, arrays nested too deep).
func FuzzAgainstGenerated(f *testing.F) {
	for _, ev := range events(f) {
		f.Add(protoevent.AppendEvent(nil, &ev))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ours schema.Event
		if protoevent.DecodeEvent(b, &ours) != nil {
			return
		}
		var m pb.Event
		if err := proto.Unmarshal(b, &m); err != nil {
			t.Fatalf("ours decodes %x, the generated code does not: %v", b, err)
		}
		if theirs := fromPB(t, &m); !sameEvent(&theirs, &ours) {
			t.Fatalf("%x:\nours      %s\ngenerated %s", b, ours.AppendJSON(nil), theirs.AppendJSON(nil))
		}
	})
}

// A value given twice in a field merges as protobuf merges messages: arrays
// extend, an empty value leaves the first, another kind replaces it; both
// codecs agree.
func TestValueMerge(t *testing.T) {
	val := func(members ...[]byte) []byte { return bytes.Join(members, nil) }
	arr := func(is ...int64) []byte {
		var a []byte
		for _, i := range is {
			a = protowire.AppendTag(a, 1, protowire.BytesType)
			a = protowire.AppendBytes(a, protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), protowire.EncodeZigZag(i)))
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 8, protowire.BytesType), a)
	}
	i64 := func(i int64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), protowire.EncodeZigZag(i))
	}
	field := func(id uint64, values ...[]byte) []byte {
		f := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), id)
		for _, v := range values {
			f = protowire.AppendBytes(protowire.AppendTag(f, 2, protowire.BytesType), v)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), f)
	}
	msg := val(
		protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1), // event_type_id 1
		field(1, arr(1, 2), arr(3)),          // [1,2] then [3]: [1,2,3]
		field(2, i64(5), nil),                // 5 then an empty value: 5
		field(3, arr(1), i64(7)),             // an array then 7: 7
		field(4, val(arr(1), arr(2)), arr()), // [1] [2] in one value, then []: [1,2]
	)
	var ours schema.Event
	if err := protoevent.DecodeEvent(msg, &ours); err != nil {
		t.Fatal(err)
	}
	want := `{"event_id":0,"event_type_id":1,"ts_mono_ns":0,"ts_wall_ns":0,"entity_key":0,"fields":{` +
		`"1":{"Array":[{"I64":1},{"I64":2},{"I64":3}]},"2":{"I64":5},"3":{"I64":7},"4":{"Array":[{"I64":1},{"I64":2}]}}}`
	if got := string(ours.AppendJSON(nil)); got != want {
		t.Errorf("ours:\n%s\nwant\n%s", got, want)
	}
	var m pb.Event
	if err := proto.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	if theirs := fromPB(t, &m); !sameEvent(&theirs, &ours) {
		t.Errorf("generated:\n%s\nours\n%s", theirs.AppendJSON(nil), ours.AppendJSON(nil))
	}
}
