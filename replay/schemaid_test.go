package replay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

func encodeOne(t *testing.T, opts replay.WriterOptions, bin bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var (
		w   replay.Writer
		err error
	)
	if bin {
		w, err = replay.NewBinaryWriter(&buf, opts)
	} else {
		w, err = replay.NewJSONWriter(&buf, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	ev.ID, ev.Type = 1, 1
	_ = ev.Add(1, value.I64Value(5))
	if err := w.Write(&ev); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The schema id round-trips through both headers, apart from Meta, and a
// log written without one is byte for byte what it was before.
func TestHeaderSchemaID(t *testing.T) {
	meta := map[string]json.RawMessage{"host": json.RawMessage(`"h1"`), "zz": json.RawMessage(`1`)}
	for _, bin := range []bool{false, true} {
		opts := replay.WriterOptions{Header: true, SchemaVersion: 3, Meta: meta}
		plain := encodeOne(t, opts, bin)
		opts.SchemaID = "acme.sensor"
		withID := encodeOne(t, opts, bin)
		if bytes.Contains(plain, []byte("schema_id")) {
			t.Errorf("bin %v: schema_id written without SchemaID", bin)
		}
		rd, err := replay.NewReader(bytes.NewReader(withID))
		if err != nil {
			t.Fatal(err)
		}
		h := rd.Header()
		if h.SchemaID != "acme.sensor" || h.SchemaVersion != 3 || len(h.Meta) != 2 || string(h.Meta["host"]) != `"h1"` {
			t.Errorf("bin %v: header %+v", bin, h)
		}
		var ev schema.Event
		if err := rd.Next(&ev); err != nil || ev.ID != 1 {
			t.Errorf("bin %v: event after the header: %v", bin, err)
		}
		rd, _ = replay.NewReader(bytes.NewReader(plain))
		if h := rd.Header(); h.SchemaID != "" || h.SchemaVersion != 3 {
			t.Errorf("bin %v: plain header %+v", bin, h)
		}
	}
	if line := strings.SplitN(string(encodeOne(t, replay.WriterOptions{Header: true, SchemaID: "s"}, false)), "\n", 2)[0]; line !=
		`{"magic":[75,69,83,84],"version":1,"schema_version":0,"schema_id":"s"}` {
		t.Errorf("header line %s", line)
	}
	for _, opts := range []replay.WriterOptions{
		{SchemaID: "bad id"},
		{Meta: map[string]json.RawMessage{"schema_id": json.RawMessage(`"x"`)}},
	} {
		if _, err := replay.NewJSONWriter(&bytes.Buffer{}, opts); !errors.Is(err, replay.ErrConfig) {
			t.Errorf("%+v: %v", opts, err)
		}
	}
	// A schema_id that is not a string is a bad header.
	_, err := replay.NewReader(strings.NewReader(`{"magic":[75,69,83,84],"version":1,"schema_id":7}` + "\n"))
	if !errors.Is(err, replay.ErrBadHeader) {
		t.Errorf("numeric schema_id: %v", err)
	}
}
