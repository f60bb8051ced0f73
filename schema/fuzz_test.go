package schema_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// FuzzDecodeEvent feeds arbitrary lines to the event decoder. It must never
// panic, and a line it accepts must re-encode to a line that decodes to the
// same event and encodes to the same bytes again (the encoder's output is a
// fixed point).
func FuzzDecodeEvent(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "events.golden.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(golden), []byte("\n")) {
		f.Add(line)
	}
	for _, s := range []string{
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":[[1,{"string":"x"}],[2,"Null"]]}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{"1":{"Array":[{"Array":[]}]}}}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":2,"ts_wall_ns":3,"entity_key":4,"fields":{"1":{"F64":null}}}`,
		`{"event_id":-1}`, `[]`, `{"fields":{"1":"Null","1":"Null"}}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var d schema.Decoder
		var ev schema.Event
		if err := d.Decode(line, &ev); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		first := ev.AppendJSON(nil)
		var again schema.Event
		if err := d.Decode(first, &again); err != nil {
			t.Fatalf("re-decoding our own encoding %s: %v", first, err)
		}
		if second := again.AppendJSON(nil); !bytes.Equal(first, second) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", first, second)
		}
		if ev.ID != again.ID || ev.Type != again.Type || ev.Entity != again.Entity || ev.NumFields() != again.NumFields() {
			t.Fatalf("header changed: %+v vs %+v", ev, again)
		}
		a, b := ev.Fields(), again.Fields()
		for i := range a {
			if a[i].ID != b[i].ID || !equalOrNaN(a[i].Value, b[i].Value) {
				t.Fatalf("field %d: %v vs %v", i, a[i], b[i])
			}
		}
	})
}

// equalOrNaN is Value.Equal, except that NaN equals NaN (NaN encodes as
// null and decodes as NaN).
func equalOrNaN(a, b value.Value) bool {
	if fa, ok := a.F64(); ok {
		if fb, ok := b.F64(); ok && fa != fa && fb != fb {
			return true
		}
	}
	if xa, ok := a.Array(); ok {
		xb, ok := b.Array()
		if !ok || len(xa) != len(xb) {
			return false
		}
		for i := range xa {
			if !equalOrNaN(xa[i], xb[i]) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}
