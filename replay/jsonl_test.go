package replay

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

const goodLine = `{"event_id":1,"event_type_id":1,"ts_mono_ns":1000,"ts_wall_ns":2000,"entity_key":7,"fields":{"1":{"I64":5}}}`

// badLines are lines every reader must reject, each with a word its error
// must contain.
var badLines = []struct {
	name, line, want string
	is               error
}{
	{"not JSON", `{"event_id":1,`, "", schema.ErrInvalidEvent},
	{"not an object", `[1,2,3]`, "", schema.ErrInvalidEvent},
	{"trailing garbage", goodLine + ` x`, "", schema.ErrInvalidEvent},
	{"missing key", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"fields":{}}`, "entity_key", schema.ErrInvalidEvent},
	{"unknown key", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{},"x":1}`, "x", schema.ErrInvalidEvent},
	{"string id", `{"event_id":"1","event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{}}`, "event_id", schema.ErrInvalidEvent},
	{"negative ts", `{"event_id":1,"event_type_id":1,"ts_mono_ns":-1,"ts_wall_ns":2,"entity_key":0,"fields":{}}`, "ts_mono_ns", schema.ErrInvalidEvent},
	{"no type", `{"event_id":1,"event_type_id":0,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{}}`, "event_type_id", schema.ErrInvalidEvent},
	{"entity past 2^128", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":340282366920938463463374607431768211456,"fields":{}}`, "entity_key", schema.ErrInvalidEvent},
	{"unknown variant", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"Int":5}}}`, "fields.1", schema.ErrInvalidEvent},
	{"duplicate field", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"I64":5},"1":{"I64":6}}}`, "1", nil},
	{"field id 0", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":[[0,{"I64":5}]]}`, "", schema.ErrInvalidEvent},
	{"bad pair", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":[[1,{"I64":5},3]]}`, "pair", schema.ErrInvalidEvent},
	{"u64 overflow", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"U64":18446744073709551616}}}`, "fields.1", schema.ErrInvalidEvent},
	{"too many fields", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":"Null","2":"Null","3":"Null","4":"Null","5":"Null"}}`, "fields", schema.ErrInvalidEvent},
	{"too deep", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"Array":[{"Array":[{"Array":[{"Array":[]}]}]}]}}}`, "", schema.ErrInvalidEvent},
	{"too long", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"String":"` + strings.Repeat("a", 300) + `"}}}`, "too long", ErrLineTooLong},
	{"unregistered field", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"999":{"I64":5}}}`, "999", schema.ErrUnknownField},
	{"wrong type", `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"String":"x"}}}`, "", schema.ErrTypeMismatch},
	{"bad header mid-log", `{"magic":[75,69,83,84],"version":2}`, "version", ErrBadHeader},
}

// strictOpts are the limits the bad lines are checked under.
var strictOpts = ReaderOptions{File: "t.jsonl", Registry: demo.Registry(), MaxLineBytes: 256, MaxFields: 4, MaxDepth: 2}

func TestBadLines(t *testing.T) {
	for _, c := range badLines {
		t.Run(c.name, func(t *testing.T) {
			data := goodLine + "\n\n" + c.line + "\n" + goodLine + "\n"
			r, err := NewReaderWith(strings.NewReader(data), strictOpts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var ev schema.Event
			if err := r.Next(&ev); err != nil {
				t.Fatal(err)
			}
			err = r.Next(&ev)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T), want a *LineError", err, err)
			}
			if le.Line != 3 || le.File != "t.jsonl" || le.Offset != int64(len(goodLine)+2) {
				t.Errorf("error at %s:%d offset %d, want t.jsonl:3 offset %d", le.File, le.Line, le.Offset, len(goodLine)+2)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "t.jsonl:3: ") || !strings.Contains(msg, c.want) {
				t.Errorf("message %q: want prefix t.jsonl:3: and %q", msg, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v does not match %v", err, c.is)
			}
			// The reader goes on past the bad line.
			if err := r.Next(&ev); err != nil {
				t.Fatalf("after the bad line: %v", err)
			}
			if ev.ID != 1 || r.Pos().Record != 4 {
				t.Errorf("event %d at line %d, want event 1 at line 4", ev.ID, r.Pos().Record)
			}
			if err := r.Next(&ev); err != io.EOF {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
			if err := r.Next(&ev); err != io.EOF {
				t.Fatalf("after the end: %v, want io.EOF again", err)
			}
		})
	}
}

// TestBadFirstLine checks that a bad first line (looked at for a header) is
// reported like any other, and a bad header fails NewReader.
func TestBadFirstLine(t *testing.T) {
	for _, c := range badLines {
		if c.name == "bad header mid-log" {
			continue
		}
		r, err := NewReaderWith(strings.NewReader(c.line+"\n"+goodLine), strictOpts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ev schema.Event
		var le *LineError
		if err := r.Next(&ev); !errors.As(err, &le) || le.Line != 1 {
			t.Errorf("%s: %v, want a *LineError at line 1", c.name, err)
		}
		if err := r.Next(&ev); err != nil || ev.ID != 1 {
			t.Errorf("%s: after the bad line: %v", c.name, err)
		}
		r.Close()
	}
	for _, h := range []string{
		`{"magic":[75,69,83,83],"version":1}`,
		`{"magic":"KEST","version":1}`,
		`{"magic":[75,69,83,84],"version":2}`,
		`{"magic":[75,69,83,84]}`,
		`{"magic":[75,69,83,84],"version":1,"schema_version":-1}`,
	} {
		_, err := NewReader(strings.NewReader(h + "\n" + goodLine + "\n"))
		if !errors.Is(err, ErrBadHeader) {
			t.Errorf("%s: %v, want ErrBadHeader", h, err)
		}
	}
}

func TestHeaderOnlyAndEmpty(t *testing.T) {
	for _, data := range []string{"", "\n\n", `{"magic":[75,69,83,84],"version":1}`, `{"magic":[75,69,83,84],"version":1}` + "\n"} {
		r, err := NewReader(strings.NewReader(data))
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if err := r.Next(new(schema.Event)); err != io.EOF {
			t.Errorf("%q: %v, want io.EOF", data, err)
		}
		r.Close()
	}
}

// TestConcatenatedLogs checks that a second header line (cat a.jsonl
// b.jsonl) is skipped.
func TestConcatenatedLogs(t *testing.T) {
	evs := demo.GenerateEvents(1, 10, nil)
	a := encodeAll(t, evs[:5], WriterOptions{Header: true, SchemaVersion: 1}, false)
	b := encodeAll(t, evs[5:], WriterOptions{Header: true, SchemaVersion: 2}, false)
	got, r := readAll(t, append(a, b...), ReaderOptions{})
	equalLines(t, got, evs)
	if r.Header().SchemaVersion != 1 {
		t.Errorf("header %+v, want the first", r.Header())
	}
}

// TestLongLines checks lines around the read buffer's size and the limit.
func TestLongLines(t *testing.T) {
	const (
		pre  = `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":2,"entity_key":0,"fields":{"1":{"String":"`
		post = `"}}}`
	)
	mk := func(n int) string { return pre + strings.Repeat("x", n-len(pre)-len(post)) + post }
	for _, n := range []int{readBufSize - 1, readBufSize, readBufSize + 1, 3*readBufSize + 7, 5*readBufSize + 3} { // past 4*readBufSize the buffer may be released
		for _, limit := range []int{n - 1, n, n + 1} {
			for _, eol := range []string{"\n", "\r\n", ""} {
				data := mk(n) + eol + goodLine + "\n"
				r, err := NewReaderWith(strings.NewReader(data), ReaderOptions{MaxLineBytes: limit})
				if err != nil {
					t.Fatal(err)
				}
				var ev schema.Event
				err = r.Next(&ev)
				if eol == "" {
					// The lines ran together: one line, too long or invalid.
					if err == nil {
						t.Fatalf("line of %d run into the next: no error", n)
					}
					r.Close()
					continue
				}
				if limit < n {
					if !errors.Is(err, ErrLineTooLong) {
						t.Fatalf("line of %d, limit %d: %v, want ErrLineTooLong", n, limit, err)
					}
				} else if err != nil {
					t.Fatalf("line of %d, limit %d: %v", n, limit, err)
				} else if s, _ := ev.Fields()[0].Value.Str(); len(s) != n-len(pre)-len(post) {
					t.Fatalf("line of %d: string of %d", n, len(s))
				}
				if err := r.Next(&ev); err != nil || ev.ID != 1 {
					t.Fatalf("line of %d, limit %d: next: %v", n, limit, err)
				}
				r.Close()
			}
		}
	}
}

// TestDecodedStringsOutliveNext checks that strings of an event stay valid
// while the reader moves on, as a bus holding the event needs.
func TestDecodedStringsOutliveNext(t *testing.T) {
	evs := demo.GenerateEvents(5, 3000, nil)
	want := lines(evs)
	for _, bin := range []bool{false, true} {
		data := encodeAll(t, evs, WriterOptions{BlockEvents: 100}, bin)
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		kept := make([]schema.Event, len(evs))
		var ev schema.Event
		for i := range kept {
			if err := r.Next(&ev); err != nil {
				t.Fatal(err)
			}
			kept[i].CopyFrom(&ev) // shares strings, as Bus.Publish does
		}
		for i := range kept {
			if got := string(kept[i].AppendJSON(nil)); got != want[i] {
				t.Fatalf("binary %v: event %d changed:\n got %s\nwant %s", bin, i, got, want[i])
			}
		}
		r.Close()
	}
}

// TestRegistryCoerces checks a reader with a registry coerces values the
// field types allow, in both formats.
func TestRegistryCoerces(t *testing.T) {
	reg := demo.Registry() // field 6, process.args_count, is a U64 field
	ev := build(t, 1, 1, 5, schema.EntityKey{}, fld(6, value.I64Value(3)))
	for _, bin := range []bool{false, true} {
		got, _ := readAll(t, encodeAll(t, []schema.Event{ev}, WriterOptions{}, bin), ReaderOptions{Registry: reg})
		if v, _ := got[0].Get(6); v.Kind() != value.KindU64 {
			t.Errorf("binary %v: %v, want a U64", bin, v)
		}
	}
}
