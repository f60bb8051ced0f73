package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/value"
)

// TestAlertFlatGolden pins the ECS-flat form of the alert with every value
// kind, and reads it back: the plain values come back by JSON kind
// (integers as I64 where they fit), and re-encode to the same line.
func TestAlertFlatGolden(t *testing.T) {
	a := fullAlert()
	a.Form = FieldsFlat
	line := append(a.AppendJSON(nil), '\n')
	checkGolden(t, "alert_full_flat.json", line)
	if !json.Valid(line) {
		t.Fatalf("not valid JSON: %s", line)
	}
	for _, want := range []string{`"process.executable":"/bin/sh"`, `"process.pid":-5`, `"process.uid":18446744073709551615`,
		`"score":1.5`, `"interactive":true`, `"payload":"aGk="`, `"args":[1,null]`, `"parent":null`} {
		if !bytes.Contains(line, []byte(want)) {
			t.Errorf("flat line lacks %s", want)
		}
	}
	var back Alert
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	if back.Form != FieldsFlat || len(back.Fields) != len(a.Fields) {
		t.Fatalf("read back: form %v, %d fields", back.Form, len(back.Fields))
	}
	if v := back.Fields[1].Value; !v.Equal(value.I64Value(-5)) {
		t.Errorf("process.pid read back as %v", v)
	}
	if v := back.Fields[2].Value; !v.Equal(value.U64Value(math.MaxUint64)) {
		t.Errorf("process.uid read back as %v", v)
	}
	if again := append(back.AppendJSON(nil), '\n'); !bytes.Equal(again, line) {
		t.Errorf("round trip differs:\n got %s\nwant %s", again, line)
	}
	// The tagged form is the default and unchanged.
	a.Form = FieldsTagged
	checkGolden(t, "alert_full.json", append(a.AppendJSON(nil), '\n'))
}

func TestAlertFlatValues(t *testing.T) {
	f := func(v value.Value, want string) {
		t.Helper()
		if got := string(appendFlat(nil, v)); got != want {
			t.Errorf("%v: %s, want %s", v, got, want)
		}
	}
	f(value.F64Value(math.NaN()), "null")
	f(value.F64Value(math.Inf(-1)), "null")
	f(value.F64Value(1e300), "1e+300")
	f(value.StringValue("a\"b"), `"a\"b"`)
	f(value.ArrayValue(value.ArrayValue(value.StringValue("x")), value.BoolValue(false)), `[["x"],false]`)
	if _, err := ParseFieldsForm("flat"); err != nil {
		t.Fatal(err)
	}
	if f, err := ParseFieldsForm("ecs"); err != nil || f != FieldsFlat || f.String() != "flat" {
		t.Fatal(f, err)
	}
	if f, err := ParseFieldsForm(""); err != nil || f != FieldsTagged || f.String() != "tagged" {
		t.Fatal(f, err)
	}
	if _, err := ParseFieldsForm("xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatal(err)
	}
	var bad Alert
	if err := json.Unmarshal([]byte(`{"alert_id":"x","fields":{"a":[{"b":1}]}}`), &bad); err == nil {
		t.Fatal("an object inside a flat value was accepted")
	}
}

func TestAppendJSONFlatAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	a := fullAlert()
	a.Form = FieldsFlat
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = a.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("flat AppendJSON allocates %v times", n)
	}
}

// TestOutputFlat: Config.Fields makes every destination write flat
// fields, and the outputs file's alert_fields key sets it.
func TestOutputFlat(t *testing.T) {
	var buf lockedBuffer
	o, err := New(Config{Destinations: []DestinationConfig{{Dest: NewWriterDestination("w", &buf)}}, Fields: FieldsFlat})
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(1)
	a.Fields = []AlertField{{Path: "process.name", Value: value.StringValue("bash")}}
	if err := o.Emit(a); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"fields":{"process.name":"bash"}`) {
		t.Fatalf("not flat: %s", buf.String())
	}
	if err := (&Config{Destinations: []DestinationConfig{{Dest: NewWriterDestination("w", &buf)}}, Fields: 9}).Validate(); err == nil {
		t.Fatal("Fields 9 validated")
	}

	cfg, err := ReadConfig(strings.NewReader(`{"outputs":[{"name":"c","type":"stdout"}],"alert_fields":"flat"}`), "o.json", LoadOptions{Stdout: &buf})
	if err != nil || cfg.Fields != FieldsFlat {
		t.Fatalf("alert_fields flat: %v %v", cfg.Fields, err)
	}
	_ = cfg.CloseDestinations()
	_, err = ReadConfig(strings.NewReader(`{"outputs":[{"name":"c","type":"stdout"}],"alert_fields":"xml"}`), "o.json", LoadOptions{Stdout: &buf})
	if err == nil || !strings.Contains(err.Error(), "o.json: alert_fields") {
		t.Fatalf("alert_fields xml: %v", err)
	}
}
