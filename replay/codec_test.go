package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

var goldenMeta = map[string]json.RawMessage{"host": json.RawMessage(`"web-01"`), "sensor": json.RawMessage(`{"name":"kestrel","build":7}`)}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the writer's output (run with -update if the change is meant):\n got %q\nwant %q", path, got, want)
	}
}

func TestRoundTripGolden(t *testing.T) {
	evs := variedEvents(t)

	obj := encodeAll(t, evs, WriterOptions{}, false)
	golden(t, "varied.jsonl", obj)
	pairs := encodeAll(t, evs, WriterOptions{Header: true, SchemaVersion: 3, Meta: goldenMeta, FieldsAsPairs: true}, false)
	golden(t, "varied_pairs.jsonl", pairs)
	bin := encodeAll(t, evs, WriterOptions{SchemaVersion: 3, Meta: goldenMeta, BlockEvents: 2}, true)
	if *update {
		if err := os.WriteFile("testdata/varied.kbin", bin, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Every form reads back to the same events.
	for _, c := range []struct {
		name string
		data []byte
		fmt  Format
		hdr  bool
	}{
		{"object", obj, FormatJSON, false},
		{"pairs", pairs, FormatJSON, true},
		{"binary", bin, FormatBinary, true},
		{"zstd", encodeAll(t, evs, WriterOptions{Compress: true}, false), FormatJSONZstd, false},
		{"zstd pairs", encodeAll(t, evs, WriterOptions{Compress: true, Header: true, SchemaVersion: 3, Meta: goldenMeta, FieldsAsPairs: true}, false), FormatJSONZstd, true},
		{"binary copy", bin, FormatBinary, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, r := readAll(t, c.data, ReaderOptions{CopyStrings: c.name == "binary copy"})
			equalLines(t, got, evs)
			if r.Format() != c.fmt {
				t.Errorf("format %v, want %v", r.Format(), c.fmt)
			}
			h := r.Header()
			if c.hdr {
				if h.Version != 1 || h.SchemaVersion != 3 || string(h.Meta["host"]) != `"web-01"` ||
					string(h.Meta["sensor"]) != `{"name":"kestrel","build":7}` || len(h.Meta) != 2 {
					t.Errorf("header %+v", h)
				}
			} else if h.Version != 0 || h.Meta != nil {
				t.Errorf("header %+v, want none", h)
			}
		})
	}

	// The binary file in testdata (written by an earlier build) still reads.
	old, err := os.ReadFile("testdata/varied.kbin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, old, ReaderOptions{})
	equalLines(t, got, evs)

	// JSON -> binary -> JSON, and pairs -> object, give the golden bytes.
	fromJSON, _ := readAll(t, obj, ReaderOptions{})
	fromBin, _ := readAll(t, encodeAll(t, fromJSON, WriterOptions{}, true), ReaderOptions{})
	if back := encodeAll(t, fromBin, WriterOptions{}, false); !bytes.Equal(back, obj) {
		t.Fatalf("JSON -> binary -> JSON changed the log:\n%s\nwant\n%s", back, obj)
	}
	fromPairs, _ := readAll(t, pairs, ReaderOptions{})
	if back := encodeAll(t, fromPairs, WriterOptions{}, false); !bytes.Equal(back, obj) {
		t.Fatalf("pairs -> object changed the log:\n%s\nwant\n%s", back, obj)
	}
}

// TestOriginalLog reads a log in the shape the Rust original writes: a header
// line, fields as [id, value] pairs, lower-case variant names, CRLF and
// blank lines.
func TestOriginalLog(t *testing.T) {
	evs, r := readAll(t, mustRead(t, "testdata/original.jsonl"), ReaderOptions{})
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	h := r.Header()
	if h.Version != 1 || h.SchemaVersion != 1 || string(h.Meta["created_at_ns"]) != "1700000000000000000" {
		t.Errorf("header %+v", h)
	}
	want := []string{
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1700000001000000000,"entity_key":4242,"fields":{"1":{"I64":4242},"3":{"String":"/usr/bin/curl"},"5":{"String":"curl -fsSL https://example.com/x.sh"},"6":{"U64":3}}}`,
		`{"event_id":2,"event_type_id":2,"ts_mono_ns":1000500000,"ts_wall_ns":1700000001000500000,"entity_key":4242,"fields":{"1":{"I64":4242},"9":{"String":"/etc/shadow"},"10":{"U64":0},"16":"Null"}}`,
		`{"event_id":3,"event_type_id":3,"ts_mono_ns":1002000000,"ts_wall_ns":1700000001002000000,"entity_key":340282366920938463463374607431768211455,"fields":{"2":{"Bool":true},"4":{"F64":0.25},"7":{"Bytes":[1,2]},"8":{"Array":[{"I64":1},"Null",{"String":"x"}]}}}`,
	}
	for i, ev := range evs {
		if got := string(ev.AppendJSON(nil)); got != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i+1, got, want[i])
		}
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCreateOpen(t *testing.T) {
	evs := demo.GenerateEvents(7, 3000, nil)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		fmt  Format
	}{
		{"log.jsonl", FormatJSON},
		{"log.jsonl.zst", FormatJSONZstd},
		{"log.kbin", FormatBinary},
		{"LOG.ZST", FormatJSONZstd},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			w, err := Create(path, WriterOptions{BlockEvents: 500})
			if err != nil {
				t.Fatal(err)
			}
			for i := range evs {
				if err := w.Write(&evs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(&evs[0]); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close: %v, want ErrClosed", err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != c.fmt {
				t.Errorf("format %v, want %v", r.Format(), c.fmt)
			}
			var got []schema.Event
			for {
				var ev schema.Event
				if err := r.Next(&ev); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					break
				}
				got = append(got, ev)
			}
			equalLines(t, got, evs)
			pos := r.Pos()
			if pos.File != path || pos.TotalBytes != st.Size() || pos.Bytes != st.Size() {
				t.Errorf("position %+v, want file %s and %d bytes of %d", pos, path, st.Size(), st.Size())
			}
			if err := r.Close(); err != nil {
				t.Error(err)
			}
			if err := r.Next(new(schema.Event)); !errors.Is(err, ErrReaderClosed) {
				t.Errorf("Next after Close: %v, want ErrReaderClosed", err)
			}
		})
	}
}

func TestWriterOptionsValidate(t *testing.T) {
	bad := []WriterOptions{
		{Level: -1}, {Level: 23}, {BlockSize: -1}, {BlockSize: MaxBlockSize}, {BlockEvents: -1},
		{BlockEvents: MaxBlockEvents + 1}, {Meta: map[string]json.RawMessage{"magic": json.RawMessage("1")}},
		{Meta: map[string]json.RawMessage{"x": json.RawMessage("{")}},
	}
	for _, o := range bad {
		if err := o.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: Validate = %v, want ErrConfig", o, err)
		}
		if _, err := NewJSONWriter(new(bytes.Buffer), o); err == nil {
			t.Errorf("%+v: NewJSONWriter accepted it", o)
		}
	}
	if err := (&ReaderOptions{MaxLineBytes: -1}).Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("ReaderOptions: %v, want ErrConfig", err)
	}
}

// TestWriterLevels checks every zstd level the options accept works.
func TestWriterLevels(t *testing.T) {
	evs := demo.GenerateEvents(3, 200, nil)
	for _, lvl := range []int{0, 1, 3, 7, 22} {
		for _, bin := range []bool{false, true} {
			data := encodeAll(t, evs, WriterOptions{Level: lvl, Compress: true}, bin)
			got, _ := readAll(t, data, ReaderOptions{})
			equalLines(t, got, evs)
		}
	}
}
