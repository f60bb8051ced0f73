package replay

import (
	"bytes"
	"flag"
	"io"
	"math"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// build builds an event without a registry; it fails the test on error.
func build(tb testing.TB, id uint64, typ schema.EventTypeID, mono uint64, key schema.EntityKey, fields ...schema.Field) schema.Event {
	tb.Helper()
	b := schema.NewBuilder(nil).ID(id).Type(typ).Mono(schema.TimestampMono(mono)).
		Wall(schema.TimestampWall(1_700_000_000_000_000_000 + mono)).Entity(key)
	for _, f := range fields {
		b.Field(f.ID, f.Value)
	}
	ev, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

func fld(id schema.FieldID, v value.Value) schema.Field { return schema.Field{ID: id, Value: v} }

var maxKey = schema.EntityKey{Hi: math.MaxUint64, Lo: math.MaxUint64} // 2^128-1

// variedEvents is a log holding every value kind, the edges of every
// number, an event past InlineFields (spilled), one without fields, entity
// keys of every width, and a timestamp that goes backwards.
func variedEvents(tb testing.TB) []schema.Event {
	tb.Helper()
	many := make([]schema.Field, 12)
	for i := range many {
		many[i] = fld(schema.FieldID(3*i+1), value.StringValue("/proc/"+string(rune('a'+i))))
	}
	return []schema.Event{
		build(tb, 1, 1, 1_000_000_000, schema.EntityKey{}, fld(1, value.StringValue("/bin/ls"))),
		build(tb, 2, 2, 1_000_000_500, schema.EntityKeyFrom64(42),
			fld(1, value.NullValue()),
			fld(2, value.I64Value(math.MinInt64)),
			fld(3, value.I64Value(math.MaxInt64)),
			fld(4, value.U64Value(math.MaxUint64)),
			fld(5, value.U64Value(0)),
			fld(6, value.F64Value(1.5)),
			fld(7, value.F64Value(math.Copysign(0, -1))),
			fld(8, value.F64Value(1e300)),
			fld(9, value.F64Value(5e-324)),
			fld(10, value.BoolValue(true)),
			fld(11, value.BoolValue(false)),
			fld(12, value.StringValue("")),
			fld(13, value.StringValue("quote\" backslash\\ nl\n tab\t ctl\x00\x1f del\x7f")),
			fld(14, value.StringValue("héllo, 世界, 🦅, \u2028")),
			fld(15, value.BytesValue([]byte{})),
			fld(16, value.BytesValue([]byte{0, 1, 127, 128, 255})),
			fld(17, value.ArrayValue()),
			fld(18, value.ArrayValue(
				value.I64Value(-1),
				value.ArrayValue(value.StringValue("nested \"x\""), value.NullValue(), value.ArrayValue()),
				value.BytesValue([]byte("hi")),
				value.F64Value(2.5),
				value.BoolValue(true),
			)),
			fld(math.MaxUint32, value.StringValue("the last id")),
		),
		build(tb, math.MaxUint64, math.MaxUint16, 2_000_000_000, maxKey, many...),
		build(tb, 4, 1, 1_500_000_000, schema.EntityKey{Hi: 1}), // older: out of order, no fields
		build(tb, 5, 3, math.MaxUint64, schema.EntityKeyFrom64(math.MaxUint64),
			fld(7, value.U64Value(1<<63)), fld(8, value.I64Value(-7))),
	}
}

// lines returns each event's canonical JSON line, the form tests compare.
func lines(evs []schema.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = string(evs[i].AppendJSON(nil))
	}
	return out
}

// readAll reads every event of data, failing the test on any error.
func readAll(tb testing.TB, data []byte, opts ReaderOptions) ([]schema.Event, Reader) {
	tb.Helper()
	r, err := NewReaderWith(bytes.NewReader(data), opts)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var out []schema.Event
	for {
		var ev schema.Event
		if err := r.Next(&ev); err != nil {
			if err != io.EOF {
				tb.Fatalf("record %d: %v", len(out)+1, err)
			}
			return out, r
		}
		out = append(out, ev)
	}
}

// equalLines fails the test unless got and want hold the same events.
func equalLines(tb testing.TB, got, want []schema.Event) {
	tb.Helper()
	g, w := lines(got), lines(want)
	if len(g) != len(w) {
		tb.Fatalf("%d events, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			tb.Fatalf("event %d:\n got %s\nwant %s", i, g[i], w[i])
		}
	}
}

func stringValue(s string) value.Value { return value.StringValue(s) }

// encodeAll writes evs as one log (binary or JSON lines) and returns it.
func encodeAll(tb testing.TB, evs []schema.Event, opts WriterOptions, bin bool) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w Writer
	var err error
	if bin {
		w, err = NewBinaryWriter(&buf, opts)
	} else {
		w, err = NewJSONWriter(&buf, opts)
	}
	if err != nil {
		tb.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
