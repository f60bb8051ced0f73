package schema_test

import (
	"errors"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// TestStringArrayCoerce: Array<String> takes a String (a one-element array,
// as Elasticsearch takes it), Null, and Arrays of Strings and Nulls only.
func TestStringArrayCoerce(t *testing.T) {
	s := value.StringValue
	ok := []value.Value{
		value.NullValue(), s("-c"), value.ArrayValue(), value.ArrayValue(s("bash"), s("-c")),
		value.ArrayValue(s("x"), value.NullValue()),
	}
	for _, v := range ok {
		got, err := schema.TypeStringArray.Coerce(v)
		if err != nil || !got.Equal(v) || got.Kind() != v.Kind() {
			t.Errorf("Coerce(%v) = %v, %v; want it unchanged", v, got, err)
		}
	}
	bad := []value.Value{
		value.I64Value(1), value.BoolValue(true), value.BytesValue([]byte("x")),
		value.ArrayValue(s("x"), value.I64Value(1)), value.ArrayValue(value.ArrayValue(s("x"))),
	}
	for _, v := range bad {
		if _, err := schema.TypeStringArray.Coerce(v); !errors.Is(err, schema.ErrTypeMismatch) {
			t.Errorf("Coerce(%v) = %v, want ErrTypeMismatch", v, err)
		}
	}
}

// TestStringArrayFile: schema files name the type Array<String>, in any
// case, and FileOf writes it back so.
func TestStringArrayFile(t *testing.T) {
	f := schema.File{Fields: []schema.FileField{{Path: "a.args", Type: "array<string>"}}, EventTypes: []schema.FileEventType{{Name: "x"}}}
	reg, err := f.Registry()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := reg.Field(1); d.DataType != schema.TypeStringArray {
		t.Fatalf("type %v", d.DataType)
	}
	if got := schema.FileOf(reg).Fields[0].Type; got != "Array<String>" {
		t.Fatalf("FileOf type %q", got)
	}
}

// TestDecodeStringArray: hand-written events give an Array<String> field a
// plain JSON array of strings or a single string; numbers are refused.
func TestDecodeStringArray(t *testing.T) {
	reg := schema.NewRegistry()
	if _, err := reg.RegisterFields(schema.FieldDef{Path: "a.args", DataType: schema.TypeStringArray}); err != nil {
		t.Fatal(err)
	}
	_, _ = reg.RegisterEventType("x")
	const head = `{"event_id":1,"event_type":"x","ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":`
	s := value.StringValue
	cases := []struct {
		fields string
		want   value.Value
	}{
		{`{"a.args":["bash","-c","id"]}`, value.ArrayValue(s("bash"), s("-c"), s("id"))},
		{`{"a.args":[]}`, value.ArrayValue()},
		{`{"a.args":["x",null]}`, value.ArrayValue(s("x"), value.NullValue())},
		{`{"a.args":"-c"}`, s("-c")},
		{`{"a.args":{"Array":[{"String":"a"}]}}`, value.ArrayValue(s("a"))},
	}
	for _, slow := range []bool{false, true} {
		d := schema.Decoder{Registry: reg, NoFastPath: slow}
		for _, c := range cases {
			var ev schema.Event
			if err := d.DecodeString(head+c.fields+"}", &ev); err != nil {
				t.Fatalf("%s: %v", c.fields, err)
			}
			if got, _ := ev.Get(1); !got.Equal(c.want) || got.Kind() != c.want.Kind() {
				t.Errorf("%s: %v, want %v", c.fields, got, c.want)
			}
		}
		for _, bad := range []string{`{"a.args":[1]}`, `{"a.args":7}`, `{"a.args":true}`} {
			var ev schema.Event
			if err := d.DecodeString(head+bad+"}", &ev); !errors.Is(err, schema.ErrTypeMismatch) {
				t.Errorf("%s: %v, want ErrTypeMismatch", bad, err)
			}
		}
	}
}
