package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// designLine is the example line of DESIGN.md and the package doc.
const designLine = `{"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1000000000,"entity_key":0,"fields":{"1":{"String":"/bin/ls"}}}`

const maxEntity = "340282366920938463463374607431768211455" // 2^128-1

// build builds an event with the given header and fields, without a
// registry; it fails the test on error.
func build(t testing.TB, id uint64, typ schema.EventTypeID, fields ...schema.Field) schema.Event {
	t.Helper()
	b := schema.NewBuilder(nil).ID(id).Type(typ)
	for _, f := range fields {
		b.Field(f.ID, f.Value)
	}
	ev, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func fld(id schema.FieldID, v value.Value) schema.Field { return schema.Field{ID: id, Value: v} }

// variedEvent holds every value kind and the edges of every number.
func variedEvent(t testing.TB) schema.Event {
	ev := build(t, math.MaxUint64, math.MaxUint16,
		fld(1, value.NullValue()),
		fld(2, value.I64Value(math.MinInt64)),
		fld(3, value.I64Value(math.MaxInt64)),
		fld(4, value.U64Value(math.MaxUint64)),
		fld(5, value.U64Value(0)),
		fld(6, value.F64Value(1.5)),
		fld(7, value.F64Value(math.Copysign(0, -1))),
		fld(8, value.F64Value(1e300)),
		fld(9, value.F64Value(5e-324)),
		fld(10, value.F64Value(-0.1)),
		fld(11, value.BoolValue(true)),
		fld(12, value.BoolValue(false)),
		fld(13, value.StringValue("")),
		fld(14, value.StringValue("quote\" backslash\\ slash/ nl\n tab\t cr\r ctl\x00\x01\x1f del\x7f")),
		fld(15, value.StringValue("héllo, 世界, 🦅, \u2028, <a&b>")),
		fld(16, value.BytesValue([]byte{})),
		fld(17, value.BytesValue([]byte{0, 1, 127, 128, 255})),
		fld(18, value.ArrayValue()),
		fld(19, value.ArrayValue(
			value.I64Value(-1),
			value.ArrayValue(value.StringValue("nested \"x\""), value.NullValue(), value.ArrayValue()),
			value.BytesValue([]byte("hi")),
			value.ArrayValue(value.ArrayValue(value.ArrayValue(value.U64Value(3)))),
			value.F64Value(2.5),
			value.BoolValue(true),
		)),
		fld(4294967295, value.StringValue("the last id")),
	)
	ev.TsMono, ev.TsWall = math.MaxUint64, 1_700_000_000_123_456_789
	ev.Entity = keyOf(maxEntity)
	return ev
}

// goldenEvents are the events of testdata/events.golden.jsonl.
func goldenEvents(t testing.TB) []schema.Event {
	design := build(t, 1, 1, fld(1, value.StringValue("/bin/ls")))
	design.TsMono, design.TsWall = 1_000_000_000, 1_000_000_000
	exec := benchEvent(t)
	empty := build(t, 0, 1)
	nan := build(t, 3, 2,
		fld(1, value.F64Value(math.NaN())),
		fld(2, value.F64Value(math.Inf(1))),
		fld(3, value.F64Value(1e21)),
		fld(4, value.F64Value(123456789)),
		fld(5, value.F64Value(1e-7)),
	)
	var many []schema.Field
	for id := schema.FieldID(20); id >= 1; id-- { // spilled, given in reverse
		many = append(many, fld(id, valueFor(id)))
	}
	spilled := build(t, 4, 3, many...)
	spilled.Entity = keyOf("18446744073709551616") // 2^64
	return []schema.Event{design, variedEvent(t), exec, empty, nan, spilled}
}

func TestGolden(t *testing.T) {
	var out []byte
	for _, ev := range goldenEvents(t) {
		out = ev.AppendJSON(out)
		out = append(out, '\n')
	}
	path := filepath.Join("testdata", "events.golden.jsonl")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		gotLines, wantLines := strings.Split(string(out), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Fatalf("%s line %d differs:\ngot  %s\nwant %s", path, i+1, gotLines[i], wantLines[i])
			}
		}
		t.Fatalf("%s: got %d lines, want %d", path, len(gotLines), len(wantLines))
	}
	// Every golden line is a fixed point of decode and encode, and is JSON.
	var d schema.Decoder
	for i, line := range bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("line %d is not valid JSON: %s", i+1, line)
		}
		var ev schema.Event
		if err := d.Decode(line, &ev); err != nil {
			t.Errorf("line %d: %v", i+1, err)
			continue
		}
		if got := ev.AppendJSON(nil); !bytes.Equal(got, line) {
			t.Errorf("line %d re-encodes as\n%s\nwant %s", i+1, got, line)
		}
	}
}

func TestDesignExample(t *testing.T) {
	var d schema.Decoder
	var ev schema.Event
	if err := d.DecodeString(designLine, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != 1 || ev.Type != 1 || ev.TsMono != 1e9 || ev.TsWall != 1e9 || !ev.Entity.IsZero() || ev.NumFields() != 1 {
		t.Fatalf("decoded %+v", ev)
	}
	if v, ok := ev.Get(1); !ok || !sameValue(v, value.StringValue("/bin/ls")) {
		t.Fatalf("field 1 = %v, %v", v, ok)
	}
	if got := string(ev.AppendJSON(nil)); got != designLine {
		t.Fatalf("re-encoded\n%s\nwant %s", got, designLine)
	}
	built := build(t, 1, 1, fld(1, value.StringValue("/bin/ls")))
	built.TsMono, built.TsWall = 1e9, 1e9
	if got := string(built.AppendJSON(nil)); got != designLine {
		t.Fatalf("built event encodes as\n%s\nwant %s", got, designLine)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var d schema.Decoder
	for i, ev := range goldenEvents(t) {
		line := ev.AppendJSON(nil)
		var got schema.Event
		if err := d.Decode(line, &got); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, line)
		}
		if got.ID != ev.ID || got.Type != ev.Type || got.TsMono != ev.TsMono || got.TsWall != ev.TsWall || got.Entity != ev.Entity {
			t.Errorf("event %d header: got %s\nwant %s", i, got.AppendJSON(nil), line)
		}
		gf, wf := got.Fields(), ev.Fields()
		if len(gf) != len(wf) {
			t.Fatalf("event %d: %d fields, want %d", i, len(gf), len(wf))
		}
		for j := range wf {
			if gf[j].ID != wf[j].ID || !sameValue(gf[j].Value, wf[j].Value) {
				t.Errorf("event %d field %d: got %d=%s, want %d=%s", i, j,
					gf[j].ID, gf[j].Value.AppendJSON(nil), wf[j].ID, wf[j].Value.AppendJSON(nil))
			}
			if wf[j].Value.Kind() != value.KindF64 && !gf[j].Value.Equal(wf[j].Value) {
				t.Errorf("event %d field %d: %v not Equal %v", i, wf[j].ID, gf[j].Value, wf[j].Value)
			}
		}
	}
	// Specific values, read back through the typed getters.
	ev := variedEvent(t)
	var got schema.Event
	if err := d.Decode(ev.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	if got.Entity.String() != maxEntity || got.ID != math.MaxUint64 || got.Type != math.MaxUint16 {
		t.Errorf("header: %s", got.AppendJSON(nil))
	}
	if v, _ := got.Get(4); !sameValue(v, value.U64Value(math.MaxUint64)) {
		t.Errorf("U64 max = %v", v)
	}
	if v, _ := got.Get(2); !sameValue(v, value.I64Value(math.MinInt64)) {
		t.Errorf("I64 min = %v", v)
	}
	if v, _ := got.Get(7); !sameValue(v, value.F64Value(math.Copysign(0, -1))) {
		t.Errorf("-0 = %v", v)
	}
	if v, _ := got.Get(14); !sameValue(v, value.StringValue("quote\" backslash\\ slash/ nl\n tab\t cr\r ctl\x00\x01\x1f del\x7f")) {
		t.Errorf("escaped string = %q", v)
	}
	if v, _ := got.Get(15); !sameValue(v, value.StringValue("héllo, 世界, 🦅, \u2028, <a&b>")) {
		t.Errorf("non-ASCII string = %q", v)
	}
	if v, _ := got.Get(1); !v.IsNull() {
		t.Errorf("Null = %v", v)
	}
}

// TestJSONInvalidUTF8 pins what becomes of invalid UTF-8 in a string: the
// encoder writes U+FFFD as an escape, so the line stays valid JSON.
func TestJSONInvalidUTF8(t *testing.T) {
	ev := build(t, 1, 1, fld(1, value.StringValue("a\xffb\xc3")))
	line := ev.AppendJSON(nil)
	if !json.Valid(line) || !bytes.Contains(line, []byte(`"a\ufffdb\ufffd"`)) {
		t.Fatalf("encoded as %s", line)
	}
	var d schema.Decoder
	var got schema.Event
	if err := d.Decode(line, &got); err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Get(1); !sameValue(v, value.StringValue("a\uFFFDb\uFFFD")) {
		t.Fatalf("decoded %q", v)
	}
}

// TestDecodeShapes decodes the same event written in every accepted way.
func TestDecodeShapes(t *testing.T) {
	const head = `"event_id":5,"event_type_id":2,"ts_mono_ns":10,"ts_wall_ns":20,"entity_key":18446744073709551616`
	object := `{` + head + `,"fields":{"1":{"String":"x"},"2":{"I64":-1},"3":{"U64":1},"4":{"F64":1.5},` +
		`"5":{"Bool":true},"6":{"Bytes":[1,2]},"7":{"Array":[{"I64":1},"Null",{"Array":[]}]},"8":"Null","9":{"String":""}}}`
	var d schema.Decoder
	var want schema.Event
	if err := d.DecodeString(object, &want); err != nil {
		t.Fatal(err)
	}
	if want.NumFields() != 9 {
		t.Fatalf("object shape: %d fields", want.NumFields())
	}
	wantLine := string(want.AppendJSON(nil))
	if wantLine != object {
		t.Fatalf("object shape re-encodes as\n%s\nwant %s", wantLine, object)
	}
	f := func(line string) {
		t.Helper()
		var ev schema.Event
		if err := d.DecodeString(line, &ev); err != nil {
			t.Errorf("%v\n%s", err, line)
			return
		}
		if got := string(ev.AppendJSON(nil)); got != wantLine {
			t.Errorf("decoded\n%s\nwant %s\nfrom %s", got, wantLine, line)
		}
	}
	// The Rust original's array of [id, value] pairs, lower-case variants.
	f(`{` + head + `,"fields":[[1,{"string":"x"}],[2,{"i64":-1}],[3,{"u64":1}],[4,{"f64":1.5}],` +
		`[5,{"bool":true}],[6,{"bytes":[1,2]}],[7,{"array":[{"i64":1},"null",{"array":[]}]}],[8,"null"],[9,{"string":""}]]}`)
	// Pairs out of order, mixed case.
	f(`{` + head + `,"fields":[[9,{"String":""}],[8,"Null"],[1,{"string":"x"}],[7,{"Array":[{"i64":1},"Null",{"array":[]}]}],` +
		`[2,{"I64":-1}],[6,{"Bytes":[1,2]}],[3,{"U64":1}],[5,{"bool":true}],[4,{"F64":1.5}]]}`)
	// Object shape, fields out of order, lower case.
	f(`{` + head + `,"fields":{"9":{"string":""},"1":{"string":"x"},"8":"null","2":{"i64":-1},"7":{"array":[{"I64":1},"null",{"Array":[]}]},` +
		`"3":{"u64":1},"6":{"bytes":[1,2]},"4":{"f64":1.5},"5":{"bool":true}}}`)
	// Keys in another order, white space everywhere, escapes in keys.
	f(" \t\r\n{ \"fields\" : { \"1\" : { \"String\" : \"\\u0078\" } , \"2\":{\"I64\":-1},\"3\":{\"U64\":1},\"4\":{\"F64\":15e-1}," +
		"\"5\":{\"Bool\":true},\"6\":{\"Bytes\":[ 1 , 2 ]},\"7\":{\"Array\":[{\"I64\":1},\"Null\",{\"Array\":[ ]}]},\"8\":\"Null\",\"9\":{\"String\":\"\"} },\n" +
		"\"entity_key\" : 18446744073709551616, \"ts_wall_ns\":20,\"ts_mono_ns\":10,\"event_type_id\":2,\"\\u0065vent_id\":5 } \n")

	// Empty fields, both shapes.
	empty := `{` + head + `,"fields":{}}`
	for _, line := range []string{empty, `{` + head + `,"fields":[]}`} {
		var ev schema.Event
		if err := d.DecodeString(line, &ev); err != nil || ev.NumFields() != 0 || string(ev.AppendJSON(nil)) != empty {
			t.Errorf("%s: %v, %s", line, err, ev.AppendJSON(nil))
		}
	}
}

// TestDecodeSpilled decodes events past InlineFields in both shapes.
func TestDecodeSpilled(t *testing.T) {
	var d schema.Decoder
	for _, n := range []int{schema.InlineFields, schema.InlineFields + 1, 100, schema.DefaultMaxFields} {
		var obj, pairs strings.Builder
		obj.WriteString(`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":1,"fields":{`)
		pairs.WriteString(`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":1,"fields":[`)
		var ids []schema.FieldID
		for i := n; i >= 1; i-- { // descending: the slow insertion path
			id := schema.FieldID(i * 2)
			ids = append(ids, id)
			if i != n {
				obj.WriteByte(',')
				pairs.WriteByte(',')
			}
			vj := string(valueFor(id).AppendJSON(nil))
			obj.WriteString(`"` + strconv.Itoa(int(id)) + `":` + vj)
			pairs.WriteString(`[` + strconv.Itoa(int(id)) + `,` + vj + `]`)
		}
		obj.WriteString(`}}`)
		pairs.WriteString(`]}`)
		var a, b schema.Event
		if err := d.DecodeString(obj.String(), &a); err != nil {
			t.Fatalf("%d fields: %v", n, err)
		}
		if err := d.DecodeString(pairs.String(), &b); err != nil {
			t.Fatalf("%d fields, pairs: %v", n, err)
		}
		checkFields(t, &a, ids)
		checkFields(t, &b, ids)
		// Decoding reuses the destination: a small event after a big one.
		if err := d.DecodeString(designLine, &a); err != nil || a.NumFields() != 1 || string(a.AppendJSON(nil)) != designLine {
			t.Fatalf("decode into a spilled event: %v, %s", err, a.AppendJSON(nil))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = `"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4`
	withFields := func(fields string) string { return `{` + head + `,"fields":` + fields + `}` }
	valid := withFields(`{"1":"Null"}`)
	var d schema.Decoder
	f := func(line string, wantInMsg ...string) {
		t.Helper()
		var ev schema.Event
		err := d.DecodeString(line, &ev)
		if err == nil {
			t.Errorf("accepted %s\nas %s", line, ev.AppendJSON(nil))
			return
		}
		var se *schema.SyntaxError
		if !errors.Is(err, schema.ErrInvalidEvent) || !errors.As(err, &se) {
			t.Errorf("%s: %T %v does not match ErrInvalidEvent / *SyntaxError", line, err, err)
		}
		for _, w := range wantInMsg {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s:\nerror %q does not mention %s", line, err, w)
			}
		}
		// The []byte entry point says the same.
		var ev2 schema.Event
		if err2 := d.Decode([]byte(line), &ev2); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("Decode = %v, DecodeString = %v", err2, err)
		}
	}

	// Variants and payloads.
	f(withFields(`{"1":{"Str":"x"}}`), "fields.1", `unknown variant "Str"`)
	f(withFields(`{"1":"Nul"}`), "fields.1", `"Nul"`)
	f(withFields(`{"1":"String"}`), "fields.1", "needs a payload")
	f(withFields(`{"1":{"Null":1}}`), "fields.1", "Null")
	f(withFields(`{"1":{}}`), "fields.1", "empty object")
	f(withFields(`{"1":{"I64":1,"U64":2}}`), "fields.1", `"U64"`)
	f(withFields(`{"1":{"I64":"5"}}`), "fields.1", "I64", `"5"`)
	f(withFields(`{"1":{"String":5}}`), "fields.1", "String", "5")
	f(withFields(`{"1":{"Bool":1}}`), "fields.1", "Bool", "1")
	f(withFields(`{"1":{"Bytes":"aGk="}}`), "fields.1", "Bytes")
	f(withFields(`{"1":{"Bytes":[256]}}`), "fields.1", "256")
	f(withFields(`{"1":{"Bytes":[-1]}}`), "fields.1", "-1")
	f(withFields(`{"1":{"Array":{"I64":1}}}`), "fields.1", "Array")
	f(withFields(`{"1":{"Array":[1]}}`), "fields.1", "1")
	f(withFields(`{"1":5}`), "fields.1", "5")
	f(withFields(`{"1":null}`), "fields.1", "null")
	f(withFields(`{"1":[]}`), "fields.1")
	f(withFields(`[[1,{"Str":"x"}]]`), "fields[1]", `"Str"`)

	// Integers out of range, and floats where integers belong.
	f(withFields(`{"1":{"I64":9223372036854775808}}`), "fields.1", "9223372036854775808", "overflows int64")
	f(withFields(`{"1":{"I64":-9223372036854775809}}`), "fields.1", "-9223372036854775809")
	f(withFields(`{"1":{"U64":18446744073709551616}}`), "fields.1", "18446744073709551616", "overflows uint64")
	f(withFields(`{"1":{"U64":-1}}`), "fields.1", "-1")
	f(withFields(`{"1":{"I64":1.5}}`), "fields.1", "1.5")
	f(withFields(`{"1":{"U64":1e3}}`), "fields.1", "1e3")
	f(withFields(`{"1":{"F64":1e999}}`), "fields.1", "1e999")
	f(`{"event_id":18446744073709551616,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`,
		"event_id", "18446744073709551616", "overflows")
	f(`{"event_id":1,"event_type_id":65536,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`,
		"event_type_id", "65536", "overflows uint16")
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":340282366920938463463374607431768211456,"fields":{}}`,
		"entity_key", "340282366920938463463374607431768211456", "overflows 128 bits")
	f(`{"event_id":1.0,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_id", "1.0")
	f(`{"event_id":1,"event_type_id":1e0,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_type_id", "1e0")
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":-2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "ts_mono_ns", "-2")
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3.5,"entity_key":4,"fields":{}}`, "ts_wall_ns", "3.5")
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4.0,"fields":{}}`, "entity_key", "4.0")
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":-4,"fields":{}}`, "entity_key", "-4")
	f(`{"event_id":"1","event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_id", `"1"`)
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":"4","fields":{}}`, "entity_key", `"4"`)
	f(`{"event_id":null,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_id", "null")
	f(`{"event_id":true,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_id", "true")
	f(`{"event_id":[1],"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_id", "array")
	f(`{"event_id":{},"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_id", "object")

	// Not JSON, or not one value.
	f(valid+"x", "malformed JSON", "x")
	f(valid+"{}", "malformed JSON")
	f(valid+",", "malformed JSON")
	f(valid+valid, "malformed JSON")
	f(valid[:len(valid)-1], "end of input")
	f("", "end of input")
	f(" \n", "end of input")
	f(`{"event_id":1,}`, "malformed JSON")
	f("\xef\xbb\xbf"+valid, "malformed JSON") // a byte order mark
	f(strings.Replace(valid, `"Null"`, "\"Nu\x01ll\"", 1), "byte 94", "raw control character")

	// Not an event.
	f(`[]`, "expected an event object")
	f(`"event"`, "expected an event object")
	f(`1`, "expected an event object")
	f(`null`, "expected an event object")
	f(withFields(`5`), "fields", "5")
	f(withFields(`"x"`), "fields", `"x"`)
	f(withFields(`null`), "fields", "null")

	// Field keys and pairs.
	f(withFields(`{"abc":"Null"}`), `"abc"`, "not a field id")
	f(withFields(`{"":"Null"}`), `""`, "not a field id")
	f(withFields(`{"-1":"Null"}`), `"-1"`)
	f(withFields(`{"1.0":"Null"}`), `"1.0"`)
	f(withFields(`{" 1":"Null"}`), `" 1"`)
	f(withFields(`{"0":"Null"}`), `"0"`, "not a field id")
	f(withFields(`{"4294967296":"Null"}`), `"4294967296"`)
	f(withFields(`[[0,"Null"]]`), `"0"`)
	f(withFields(`[[-1,"Null"]]`), `"-1"`)
	f(withFields(`[[1.5,"Null"]]`), `"1.5"`)
	f(withFields(`[["1","Null"]]`), "field id", `"1"`)
	f(withFields(`[[]]`), "empty pair")
	f(withFields(`[[1]]`), "fields[1]")
	f(withFields(`[[1,"Null",2]]`), "fields[1]", "exactly two")
	f(withFields(`[1]`), "pair", "1")
	f(withFields(`[{"1":"Null"}]`), "pair", "object")
	f(withFields(`[["Null"]]`), "field id", `"Null"`)

	// Keys of the event.
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"entity_key":4,"fields":{}}`, `missing key "ts_wall_ns"`)
	f(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4}`, `missing key "fields"`)
	f(`{}`, "missing key")
	f(`{"event_id":1,"event_id":2,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, `"event_id" appears twice`)
	f(`{`+head+`,"fields":{},"fields":{}}`, `"fields" appears twice`)
	f(`{`+head+`,"extra":1,"fields":{}}`, `unknown key "extra"`)
	f(`{`+head+`,"Event_ID":1,"fields":{}}`, `"Event_ID"`)
	f(`{"event_id":1,"event_type_id":0,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, "event_type_id 0")

	// Fields of the event.
	f(withFields(`{"1":"Null","1":"Null"}`), "fields.1", "twice")
	f(withFields(`{"1":"Null","01":"Null"}`), "fields.1", "twice")
	f(withFields(`[[1,"Null"],[1,{"I64":1}]]`), "fields[1]", "twice")

	// Bounds.
	many := func(n int) string {
		var sb strings.Builder
		sb.WriteString(`{`)
		for i := 1; i <= n; i++ {
			if i > 1 {
				sb.WriteByte(',')
			}
			sb.WriteString(`"` + strconv.Itoa(i) + `":"Null"`)
		}
		sb.WriteString(`}`)
		return withFields(sb.String())
	}
	f(many(schema.DefaultMaxFields+1), "more than 1024 fields")
	deep := func(depth int) string {
		return withFields(`{"1":` + strings.Repeat(`{"Array":[`, depth) + strings.Repeat(`]}`, depth) + `}`)
	}
	f(deep(value.MaxDepth+1), "fields.1", "deeper than 32")
	f(deep(1000), "fields.1", "deeper")
	var ev schema.Event
	if err := d.DecodeString(many(schema.DefaultMaxFields), &ev); err != nil || ev.NumFields() != schema.DefaultMaxFields {
		t.Errorf("%d fields: %v", schema.DefaultMaxFields, err)
	}
	if err := d.DecodeString(deep(value.MaxDepth), &ev); err != nil {
		t.Errorf("depth %d: %v", value.MaxDepth, err)
	}

	// The typed causes stay reachable.
	err := d.DecodeString(`{"event_id":1,"event_type_id":0,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{}}`, &ev)
	if !errors.Is(err, schema.ErrMissingType) {
		t.Errorf("event_type_id 0: %v does not match ErrMissingType", err)
	}
	err = d.DecodeString(withFields(`{"1":"Null","1":"Null"}`), &ev)
	if !errors.Is(err, schema.ErrDuplicateEventField) {
		t.Errorf("duplicate field: %v does not match ErrDuplicateEventField", err)
	}
	err = d.DecodeString(withFields(`{"1":{"Str":"x"}}`), &ev)
	if !errors.Is(err, value.ErrInvalidJSON) {
		t.Errorf("bad value: %v does not wrap value.ErrInvalidJSON", err)
	}
}

func TestDecoderLimits(t *testing.T) {
	const head = `{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":`
	d := schema.Decoder{MaxFields: 2, MaxDepth: 2}
	var ev schema.Event
	f := func(fields string, wantErr string) {
		t.Helper()
		err := d.DecodeString(head+fields+`}`, &ev)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", fields, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: %v, want %q", fields, err, wantErr)
		}
	}
	f(`{"1":"Null","2":"Null"}`, "")
	f(`{"1":"Null","2":"Null","3":"Null"}`, "more than 2 fields")
	f(`[[1,"Null"],[2,"Null"],[3,"Null"]]`, "more than 2 fields")
	f(`{"1":{"Array":[{"Array":[]}]}}`, "")
	f(`{"1":{"Array":[{"Array":[{"Array":[]}]}]}}`, "deeper than 2")
}

func TestDecodeWithRegistry(t *testing.T) {
	r := execRegistry(t)
	d := schema.Decoder{Registry: r}
	const head = `{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":`
	var ev schema.Event
	bad := func(fields string, target error, wantInMsg ...string) {
		t.Helper()
		err := d.DecodeString(head+fields+`}`, &ev)
		if !errors.Is(err, schema.ErrInvalidEvent) || !errors.Is(err, target) {
			t.Errorf("%s: %v, want ErrInvalidEvent and %v", fields, err, target)
			return
		}
		for _, w := range wantInMsg {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %s", fields, err, w)
			}
		}
	}
	bad(`{"99":"Null"}`, schema.ErrUnknownField, "fields.99")
	bad(`[[12,"Null"]]`, schema.ErrUnknownField, "fields[12]")
	bad(`{"1":{"String":"x"}}`, schema.ErrTypeMismatch, "fields.1", "process.pid", "U64", "String")
	bad(`{"1":{"I64":-1}}`, schema.ErrTypeMismatch, "process.pid", "-1")
	bad(`{"7":{"F64":1.0}}`, schema.ErrTypeMismatch, "process.exit_code", "I64", "F64")
	bad(`{"3":{"Bytes":[1]}}`, schema.ErrTypeMismatch, "process.executable")
	var te *schema.TypeError
	err := d.DecodeString(head+`{"1":{"String":"x"}}}`, &ev)
	if !errors.As(err, &te) || te.Field != 1 || te.Path != "process.pid" || te.Want != schema.TypeU64 {
		t.Errorf("errors.As TypeError: %+v", te)
	}

	ok := func(fields string, id schema.FieldID, want value.Value) {
		t.Helper()
		if err := d.DecodeString(head+fields+`}`, &ev); err != nil {
			t.Errorf("%s: %v", fields, err)
			return
		}
		if got, _ := ev.Get(id); !sameValue(got, want) {
			t.Errorf("%s: field %d = %v %v, want %v %v", fields, id, got.Kind(), got, want.Kind(), want)
		}
	}
	ok(`{"1":{"I64":5}}`, 1, value.U64Value(5))
	ok(`[[7,{"u64":3}]]`, 7, value.I64Value(3))
	ok(`{"8":{"I64":-9007199254740992}}`, 8, value.F64Value(-9007199254740992))
	ok(`{"3":"Null"}`, 3, value.NullValue())
	ok(`{"11":{"Bytes":[1]}}`, 11, value.BytesValue([]byte{1}))
	// The registry is read at each decode: a field registered later is known.
	bad(`{"12":"Null"}`, schema.ErrUnknownField)
	if _, err := r.RegisterField(schema.FieldDef{Path: "late"}); err != nil {
		t.Fatal(err)
	}
	ok(`{"12":"Null"}`, 12, value.NullValue())
}

// TestDecodeCopiesStrings checks that decoded strings are carved from the
// Decoder's arena, not the input: the caller may overwrite its line buffer,
// and earlier events survive later decodes.
func TestDecodeCopiesStrings(t *testing.T) {
	var d schema.Decoder
	src := variedEvent(t)
	want := string(src.AppendJSON(nil))
	buf := []byte(want)
	var ev schema.Event
	if err := d.Decode(buf, &ev); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Fatalf("after overwriting the input:\n%s\nwant %s", got, want)
	}

	// Pairs shape, escapes and plain strings, then many more decodes
	// through the same Decoder (and its arena) while the first is kept.
	line := []byte(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,` +
		`"fields":[[1,{"string":"plain"}],[2,{"String":"esc\"aped\u00e9"}],[3,{"Array":[{"String":"in array"}]}]]}`)
	var first schema.Event
	if err := d.Decode(line, &first); err != nil {
		t.Fatal(err)
	}
	firstWant := string(first.AppendJSON(nil))
	var other schema.Event
	for i := 0; i < 2000; i++ { // well past one 16 KiB arena block
		copy(line[bytes.Index(line, []byte("plain")):], "PLAIN")
		if err := d.Decode(line, &other); err != nil {
			t.Fatal(err)
		}
		copy(line[bytes.Index(line, []byte("PLAIN")):], "plain")
	}
	for i := range line {
		line[i] = 0
	}
	if got := string(first.AppendJSON(nil)); got != firstWant {
		t.Fatalf("first event changed:\n%s\nwant %s", got, firstWant)
	}
	if v, _ := other.Get(1); !sameValue(v, value.StringValue("PLAIN")) {
		t.Fatalf("last event field 1 = %v", v)
	}
	// A long string (not from the arena's blocks) is copied too.
	long := strings.Repeat("L", 10000)
	buf = []byte(`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{"1":{"String":"` + long + `"}}}`)
	if err := d.Decode(buf, &ev); err != nil {
		t.Fatal(err)
	}
	clear(buf)
	if v, _ := ev.Get(1); !sameValue(v, value.StringValue(long)) {
		t.Fatal("long string changed with its input")
	}
}

func TestEncodingJSONInterop(t *testing.T) {
	ev := build(t, 9, 2, fld(1, value.StringValue("x")), fld(2, value.U64Value(math.MaxUint64)))
	ev.Entity = keyOf(maxEntity)
	got, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := ev.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("json.Marshal = %s\nwant %s", got, want)
	}
	var back schema.Event
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if string(back.AppendJSON(nil)) != string(got) {
		t.Errorf("json.Unmarshal gave %s", back.AppendJSON(nil))
	}
	var evs []schema.Event
	if err := json.Unmarshal([]byte("["+designLine+","+string(got)+"]"), &evs); err != nil || len(evs) != 2 {
		t.Fatalf("json.Unmarshal of a slice: %v", err)
	}
	if string(evs[0].AppendJSON(nil)) != designLine {
		t.Errorf("evs[0] = %s", evs[0].AppendJSON(nil))
	}
	if err := json.Unmarshal([]byte(`{"event_id":1}`), &back); !errors.Is(err, schema.ErrInvalidEvent) {
		t.Errorf("json.Unmarshal of a bad event = %v", err)
	}
}
