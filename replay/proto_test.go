package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// encodeProto writes evs as one protobuf log and returns it.
func encodeProto(tb testing.TB, evs []schema.Event, opts WriterOptions) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := NewProtoWriter(&buf, opts)
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

// The protobuf log is detected by its magic, keeps its header, and reads
// back every event as written; its bytes are pinned by a golden file.
func TestProtoRoundTrip(t *testing.T) {
	evs := variedEvents(t)
	data := encodeProto(t, evs, WriterOptions{SchemaVersion: 3, SchemaID: "acme.sensor", Meta: goldenMeta})
	golden(t, "varied.kpb", data)
	got, r := readAll(t, data, ReaderOptions{})
	equalLines(t, got, evs)
	h := r.Header()
	if r.Format() != FormatProto || r.Format().String() != "protobuf" || h.Version != 1 || h.SchemaVersion != 3 ||
		h.SchemaID != "acme.sensor" || string(h.Meta["host"]) != `"web-01"` ||
		string(h.Meta["sensor"]) != `{"name":"kestrel","build":7}` || len(h.Meta) != 2 {
		t.Errorf("format %v, header %+v", r.Format(), h)
	}
	// No header members, no events: still a log.
	got, r = readAll(t, encodeProto(t, nil, WriterOptions{}), ReaderOptions{})
	if len(got) != 0 || r.Header().Version != 1 || r.Header().Meta != nil {
		t.Errorf("empty log: %d events, header %+v", len(got), r.Header())
	}
	// Every message is event.proto's, length-delimited after the magic.
	rest := data[len(protoMagic):]
	msg, n := protowire.ConsumeBytes(rest)
	if ph, err := protoevent.DecodeLogHeader(msg); n < 0 || err != nil || ph.SchemaID != "acme.sensor" {
		t.Fatalf("header message: %+v %v", ph, err)
	}
	msg, _ = protowire.ConsumeBytes(rest[n:])
	var ev schema.Event
	if err := protoevent.DecodeEvent(msg, &ev); err != nil || string(ev.AppendJSON(nil)) != lines(evs)[0] {
		t.Fatalf("first event message: %s %v", ev.AppendJSON(nil), err)
	}
}

// Create and Open choose the protobuf log by the .kpb extension and the
// magic; convert-style copies through it keep events and header.
func TestProtoCreateOpen(t *testing.T) {
	evs := demo.GenerateEvents(7, 3000, nil)
	path := filepath.Join(t.TempDir(), "log.kpb")
	w, err := Create(path, WriterOptions{SchemaVersion: 2, SchemaID: "kestrel.ecs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(*ProtoWriter); !ok {
		t.Fatalf("Create(.kpb) gave %T", w)
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
		t.Errorf("write after close: %v", err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []schema.Event
	for {
		var ev schema.Event
		err := r.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	equalLines(t, got, evs)
	if p := r.Pos(); p.File != path || p.Record != int64(len(evs)) || p.Bytes != p.TotalBytes {
		t.Errorf("position %+v", p)
	}
	if h := r.Header(); h.SchemaID != "kestrel.ecs" || h.SchemaVersion != 2 {
		t.Errorf("header %+v", h)
	}
	// A .kpb that is not one says so.
	bad := filepath.Join(t.TempDir(), "bad.kpb")
	os.WriteFile(bad, []byte("nonsense"), 0o600)
	if _, err := Open(bad); !errors.Is(err, ErrBadHeader) {
		t.Errorf("bad .kpb: %v", err)
	}
	os.WriteFile(bad, nil, 0o600)
	if _, err := Open(bad); !errors.Is(err, ErrBadHeader) {
		t.Errorf("empty .kpb: %v", err)
	}
}

// A cut log yields every whole record before the cut, then a
// *TruncatedError; never more, never silently.
func TestProtoTruncated(t *testing.T) {
	evs := append(variedEvents(t), demo.GenerateEvents(9, 12, nil)...)
	data := encodeProto(t, evs, WriterOptions{Meta: goldenMeta})
	// Offsets where each event record ends.
	rest := data[len(protoMagic):]
	_, hn := protowire.ConsumeBytes(rest)
	ends, off := []int{}, len(protoMagic)+hn
	for range evs {
		_, n := protowire.ConsumeBytes(data[off:])
		off += n
		ends = append(ends, off)
	}
	want := lines(evs)
	for cut := 3; cut < len(data); cut++ {
		got, errs, err := readLog(data[:cut], ReaderOptions{})
		if cut < len(protoMagic)+hn {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("cut at %d, inside the header: %v", cut, err)
			}
			continue
		}
		var te *TruncatedError
		if len(errs) != 0 || !errors.As(err, &te) {
			t.Fatalf("cut at %d: %v %v, want a *TruncatedError", cut, errs, err)
		}
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		if len(got) != whole || te.Events != int64(whole) {
			t.Fatalf("cut at %d: %d events (error says %d), want %d", cut, len(got), te.Events, whole)
		}
		for i := range got {
			if string(got[i].AppendJSON(nil)) != want[i] {
				t.Fatalf("cut at %d: event %d differs", cut, i)
			}
		}
	}
	// Data after the end record is corruption.
	if _, _, err := readLog(append(bytes.Clone(data), 1, 2), ReaderOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing data: %v", err)
	}
}

// A record that does not decode, or that the registry refuses, is a
// *LineError naming it; the reader goes on, and lenient replay counts it.
// A length past the limit ends the log.
func TestProtoBadRecords(t *testing.T) {
	evs := demo.GenerateEvents(3, 4, nil)
	data := encodeProto(t, evs[:2], WriterOptions{})
	data = data[:len(data)-1]                                                             // drop the end record
	data = protowire.AppendBytes(data, []byte{0x3a, 0x05, 0x08})                          // a field longer than its event
	data = protowire.AppendBytes(data, protoevent.AppendEvent(nil, &schema.Event{ID: 9})) // no event type
	tail := encodeProto(t, evs[2:], WriterOptions{})
	data = append(data, tail[len(protoMagic)+3:]...) // tail's records and end, without its magic and empty header
	got, errs, err := readLog(data, ReaderOptions{})
	if err != nil || len(got) != 4 || len(errs) != 2 {
		t.Fatalf("%d events, errors %v, final %v", len(got), errs, err)
	}
	var le *LineError
	if !errors.As(errs[0], &le) || le.Line != 3 || !errors.Is(errs[0], protoevent.ErrMalformed) {
		t.Errorf("first bad record: %v", errs[0])
	}
	if !errors.As(errs[1], &le) || le.Line != 4 {
		t.Errorf("second bad record: %v", errs[1])
	}
	rp, err := New(&nopPublisher{}, Config{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewReader(bytes.NewReader(data))
	st, err := rp.ReplayReader(context.Background(), r)
	if err != nil || st.Published != 4 || st.BadLines != 2 {
		t.Errorf("lenient replay: %+v %v", st, err)
	}
	// Under a registry, an unknown field is refused.
	reg := demo.Registry()
	var ev schema.Event
	ev.Type = 1
	ev.Add(999, value.I64Value(1))
	bad := encodeProto(t, []schema.Event{ev}, WriterOptions{})
	if _, errs, _ := readLog(bad, ReaderOptions{Registry: reg}); len(errs) != 1 || !errors.Is(errs[0], schema.ErrUnknownField) {
		t.Errorf("unknown field: %v", errs)
	}
	// A record longer than the limit.
	big := encodeProto(t, demo.GenerateEvents(1, 1, nil), WriterOptions{})
	if _, _, err := readLog(big, ReaderOptions{MaxLineBytes: 10}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("record past the limit: %v", err)
	}
}

func TestProtoWriteNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	evs := demo.GenerateEvents(31, 2000, nil)
	w, err := NewProtoWriter(io.Discard, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		w.Write(&evs[i])
	}
	i := 0
	if n := testing.AllocsPerRun(len(evs), func() {
		if err := w.Write(&evs[i%len(evs)]); err != nil {
			t.Fatal(err)
		}
		i++
	}); n != 0 {
		t.Errorf("%v allocations per Write", n)
	}
}

// FuzzProtoLog reads arbitrary bytes as a protobuf log (the magic is
// prepended when missing): no panic, every error typed, and every event
// read re-encodes to the same event.
func FuzzProtoLog(f *testing.F) {
	f.Add(mustRead(f, "testdata/varied.kpb"))
	f.Add(encodeProto(f, demo.GenerateEvents(1, 20, nil), WriterOptions{SchemaID: "x", SchemaVersion: 1}))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !bytes.HasPrefix(in, protoMagic) {
			in = append(bytes.Clone(protoMagic), in...)
		}
		evs, errs, err := readLog(in, ReaderOptions{MaxFields: 64})
		for _, e := range append(errs, err) {
			if e == nil {
				continue
			}
			if !errors.Is(e, ErrBadHeader) && !errors.Is(e, ErrCorrupt) && !errors.Is(e, ErrTruncated) &&
				!errors.Is(e, protoevent.ErrMalformed) {
				t.Fatalf("untyped error %v (%T)", e, e)
			}
		}
		for i := range evs {
			var back schema.Event
			if err := protoevent.DecodeEvent(protoevent.AppendEvent(nil, &evs[i]), &back); err != nil {
				t.Fatal(err)
			}
			if g, w := back.AppendJSON(nil), evs[i].AppendJSON(nil); !bytes.Equal(g, w) {
				t.Fatalf("event %d changed:\n%s\n%s", i, w, g)
			}
		}
	})
}
