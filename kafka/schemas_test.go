package kafka

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A Source maps records that name another schema into its own IDs, and
// takes a record naming its own schema, or none, as it is.
func TestDecodeMapsSchemas(t *testing.T) {
	local := schema.NewRegistry()
	local.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	local.RegisterField(schema.FieldDef{Path: "process.name", DataType: schema.TypeString})
	local.RegisterEventType("process_exec")
	local.SetSchema("kestrel.ecs", 1)
	remote := schema.NewRegistry()
	remote.RegisterField(schema.FieldDef{Path: "process.name", DataType: schema.TypeString})
	remote.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	remote.RegisterEventType("module_load")
	remote.RegisterEventType("process_exec")
	remote.SetSchema("acme.sensor", 2)
	resolved := 0
	resolve := func(id string, v uint32) (*schema.Registry, error) {
		resolved++
		if id == "acme.sensor" && v == 2 {
			return remote, nil
		}
		return nil, errors.New("unknown schema")
	}
	var evs []schema.Event
	for i, typ := range []schema.EventTypeID{2, 1, 2} {
		ev, err := schema.NewBuilder(remote).ID(uint64(i+1)).Type(typ).
			Field(1, value.StringValue("sh")).Field(2, value.I64Value(int64(10+i))).Build()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	for _, f := range []Format{FormatBinary, FormatJSON, FormatProto} {
		resolved = 0
		enc, err := newEncoder(f, 1)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _, err := enc.appendRecord(nil, ptrs(evs))
		enc.close()
		if err != nil {
			t.Fatal(err)
		}
		dec := newDecoder(replay.ReaderOptions{}, DefaultMaxRecordEvents).withMapping(local, resolve, schema.MappingOptions{})
		hdr := append(formatHeader(f), kgo.RecordHeader{Key: HeaderSchema, Value: []byte("acme.sensor/2")})
		for round := 0; round < 2; round++ {
			n, err := dec.decode(hdr, v)
			if err != nil || n != 2 {
				t.Fatalf("%v: %d events, %v", f, n, err)
			}
			var got []string
			for _, ev := range dec.evs[:n] {
				got = append(got, string(ev.AppendJSON(nil)))
			}
			want := `{"event_id":1,"event_type_id":1,"ts_mono_ns":0,"ts_wall_ns":0,"entity_key":0,"fields":{"1":{"I64":10},"2":{"String":"sh"}}}` + "\n" +
				`{"event_id":3,"event_type_id":1,"ts_mono_ns":0,"ts_wall_ns":0,"entity_key":0,"fields":{"1":{"I64":12},"2":{"String":"sh"}}}`
			if strings.Join(got, "\n") != want {
				t.Fatalf("%v: mapped\n%s\nwant\n%s", f, strings.Join(got, "\n"), want)
			}
		}
		if resolved != 1 || dec.mapper.unmapped.Load() != 2 {
			t.Errorf("%v: resolved %d times, unmapped %d", f, resolved, dec.mapper.unmapped.Load())
		}
		// Its own schema, or no header: as it is.
		for _, h := range [][]kgo.RecordHeader{formatHeader(f), append(formatHeader(f), kgo.RecordHeader{Key: HeaderSchema, Value: []byte("kestrel.ecs/1")})} {
			if n, err := dec.decode(h, v); err != nil || n != 3 || dec.evs[0].Type != 2 {
				t.Errorf("%v: own schema: %d %v", f, n, err)
			}
		}
		// Poison: a schema that does not resolve, a malformed header.
		for _, hv := range []string{"other/1", "acme.sensor", "acme.sensor/x", "/3"} {
			h := append(formatHeader(f), kgo.RecordHeader{Key: HeaderSchema, Value: []byte(hv)})
			if _, err := dec.decode(h, v); err == nil {
				t.Errorf("%v: header %q decoded", f, hv)
			}
		}
	}
}

func TestSchemaConfig(t *testing.T) {
	for _, c := range []Config{
		{Brokers: []string{"h:1"}, SchemaID: "bad id"},
		{Brokers: []string{"h:1"}, Resolve: func(string, uint32) (*schema.Registry, error) { return nil, nil }},
	} {
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || (ce.Field != "SchemaID" && ce.Field != "Resolve") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// Another version of the Source's own schema is taken as it is when the
// versions are compatible (the IDs agree), and mapped when they are not; a
// protobuf batch that names its schema, in a record without HeaderSchema,
// is mapped by that name.
func TestDecodeSchemaVersions(t *testing.T) {
	reg := func(version uint32, paths ...string) *schema.Registry {
		r := schema.NewRegistry()
		for _, p := range paths {
			r.RegisterField(schema.FieldDef{Path: p, DataType: schema.TypeString})
		}
		r.RegisterEventType("process_exec")
		r.SetSchema("acme.sensor", version)
		return r
	}
	local := reg(2, "a", "b", "c")
	v1 := reg(1, "a", "b")           // local adds c: compatible
	v3 := reg(3, "b", "a", "c", "d") // renumbered: breaking
	resolve := func(_ string, v uint32) (*schema.Registry, error) {
		switch v {
		case 1:
			return v1, nil
		case 3:
			return v3, nil
		}
		return nil, errors.New("unknown version")
	}
	ev, err := schema.NewBuilder(nil).ID(1).Type(1).Field(1, value.StringValue("one")).Field(2, value.StringValue("two")).Build()
	if err != nil {
		t.Fatal(err)
	}
	fields := func(ev *schema.Event) string {
		var b strings.Builder
		for _, f := range ev.Fields() {
			s, _ := f.Value.Str()
			b.WriteString(strconv.Itoa(int(f.ID)) + "=" + s + " ")
		}
		return b.String()
	}
	f := func(dec *decoder, hdr []kgo.RecordHeader, v []byte, want string) {
		t.Helper()
		n, err := dec.decode(hdr, v)
		if err != nil || n != 1 || fields(&dec.evs[0]) != want {
			t.Errorf("%v: %d events, %q, %v; want %q", hdr, n, fields(&dec.evs[0]), err, want)
		}
	}
	named := func(f Format, s string) []kgo.RecordHeader {
		return append(formatHeader(f), kgo.RecordHeader{Key: HeaderSchema, Value: []byte(s)})
	}
	for _, fm := range []Format{FormatJSON, FormatProto} {
		v := encodeValue(t, fm, []schema.Event{ev})
		dec := newDecoder(replay.ReaderOptions{}, 10).withMapping(local, resolve, schema.MappingOptions{})
		f(dec, named(fm, "acme.sensor/1"), v, "1=one 2=two ")
		f(dec, named(fm, "acme.sensor/3"), v, "1=two 2=one ")
		// Without Resolve, a version of the own schema is taken as it is.
		plain := newDecoder(replay.ReaderOptions{}, 10).withMapping(local, nil, schema.MappingOptions{})
		f(plain, named(fm, "acme.sensor/3"), v, "1=one 2=two ")
	}
	enc, err := newEncoder(FormatProto, 1)
	if err != nil {
		t.Fatal(err)
	}
	enc.batch = protoevent.BatchHeader{SchemaID: "acme.sensor", SchemaVersion: 3}
	v, _, _, err := enc.appendRecord(nil, []*schema.Event{&ev})
	if err != nil {
		t.Fatal(err)
	}
	dec := newDecoder(replay.ReaderOptions{}, 10).withMapping(local, resolve, schema.MappingOptions{})
	f(dec, formatHeader(FormatProto), v, "1=two 2=one ")
	// The header, when present, is what counts.
	f(dec, named(FormatProto, "acme.sensor/1"), v, "1=one 2=two ")
}
