package kafka

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
	"github.com/twmb/franz-go/pkg/kgo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func ptrs(evs []schema.Event) []*schema.Event {
	out := make([]*schema.Event, len(evs))
	for i := range evs {
		out[i] = &evs[i]
	}
	return out
}

// sameEvents compares events by their JSON form.
func sameEvents(t testing.TB, got, want []schema.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if g, w := got[i].AppendJSON(nil), want[i].AppendJSON(nil); !bytes.Equal(g, w) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func formatHeader(f Format) []kgo.RecordHeader {
	return []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte(f.header())}}
}

// TestCodecRoundTrip encodes groups of events in every format, over many
// records from one encoder, and decodes them back, with and without the
// format header (protobuf needs it); a binary or JSON record is a whole log
// any replay reader reads.
func TestCodecRoundTrip(t *testing.T) {
	all := events(3000)
	for _, f := range []Format{FormatBinary, FormatJSON, FormatProto} {
		for _, blockSize := range []int{replay.MaxBlockSize / 2, 4096} {
			enc, err := newEncoderSize(f, 1, blockSize)
			if err != nil {
				t.Fatal(err)
			}
			dec := newDecoder(replay.ReaderOptions{}, DefaultMaxRecordEvents)
			for _, n := range []int{1, 7, 100, 2892} {
				evs := all[:n]
				v, got, bad, err := enc.appendRecord([]byte("prefix"), ptrs(evs))
				if err != nil || got != n || bad != 0 || !bytes.HasPrefix(v, []byte("prefix")) {
					t.Fatalf("%v: encode %d: %d, %d bad, %v", f, n, got, bad, err)
				}
				v = v[len("prefix"):]
				for _, hdr := range [][]kgo.RecordHeader{formatHeader(f), nil} {
					if hdr == nil && f == FormatProto {
						continue
					}
					k, err := dec.decode(hdr, v)
					if err != nil {
						t.Fatalf("%v: decode %d: %v", f, n, err)
					}
					sameEvents(t, dec.evs[:k], evs)
				}
				if f == FormatProto {
					continue
				}
				r, err := replay.NewReader(bytes.NewReader(v))
				if err != nil {
					t.Fatal(err)
				}
				var ev schema.Event
				count := 0
				for err = r.Next(&ev); err == nil; err = r.Next(&ev) {
					count++
				}
				if err != io.EOF || count != n {
					t.Fatalf("%v: replay reader read %d events, then %v", f, count, err)
				}
				if f == FormatBinary {
					blocks, _, ok := kbin.WalkBlocks(v[len(enc.header) : len(v)-kbin.EndMarkerSize])
					if !ok || (blockSize == 4096 && n > 100 && blocks < 2) {
						t.Fatalf("%d events in %d blocks (whole %v)", n, blocks, ok)
					}
				}
			}
			enc.close()
		}
	}
}

// TestCodecOversizedEvent leaves out an event too large for a block,
// counting it, and encodes the rest.
func TestCodecOversizedEvent(t *testing.T) {
	enc, err := newEncoder(FormatBinary, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.close()
	evs := events(3)
	huge, err := schema.NewBuilder(nil).ID(99).Type(1).Entity(evs[0].Entity).
		Field(1, value.StringValue(strings.Repeat("x", replay.MaxBlockSize+1))).Build()
	if err != nil {
		t.Fatal(err)
	}
	v, n, bad, err := enc.appendRecord(nil, []*schema.Event{&evs[0], &huge, &evs[1]})
	if n != 2 || bad != 1 || !errors.Is(err, replay.ErrTooLarge) {
		t.Fatalf("encoded %d, bad %d, err %v", n, bad, err)
	}
	dec := newDecoder(replay.ReaderOptions{}, 10)
	k, err := dec.decode(formatHeader(FormatBinary), v)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, dec.evs[:k], []schema.Event{evs[0], evs[1]})
	// Nothing encodable: no record at all.
	v, n, bad, _ = enc.appendRecord(nil, []*schema.Event{&huge})
	if len(v) != 0 || n != 0 || bad != 1 {
		t.Fatalf("only a huge event: %d bytes, %d events, %d bad", len(v), n, bad)
	}
}

// TestDecodePoison lists what makes a record poison.
func TestDecodePoison(t *testing.T) {
	evs := events(5)
	good := encodeValue(t, FormatBinary, evs)
	goodJSON := encodeValue(t, FormatJSON, evs)
	reg := demo.Registry()
	unknown, err := schema.NewBuilder(nil).ID(1).Type(1).Field(999, value.I64Value(1)).Build()
	if err != nil {
		t.Fatal(err)
	}
	unknownField := encodeValue(t, FormatJSON, []schema.Event{unknown})
	f := func(name string, opts replay.ReaderOptions, max int, hdr []kgo.RecordHeader, v []byte, want string) {
		t.Helper()
		dec := newDecoder(opts, max)
		_, err := dec.decode(hdr, v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want an error mentioning %q", name, err, want)
		}
	}
	none := replay.ReaderOptions{}
	f("unknown version", none, 10, []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte("kbin/2")}}, good, "unsupported")
	f("kbin header, json value", none, 10, formatHeader(FormatBinary), goodJSON, "magic")
	f("jsonl header, kbin value", none, 10, formatHeader(FormatJSON), good, "value is binary")
	f("too many events", none, 4, nil, good, "more events than the record limit")
	f("too many JSON events", none, 4, nil, goodJSON, "more events than the record limit")
	f("registry", replay.ReaderOptions{Registry: reg}, 10, nil, unknownField, "line 1")
	f("cut", none, 10, nil, good[:len(good)-1], "truncated")
	f("empty kbin", none, 10, formatHeader(FormatBinary), nil, "magic")
	goodProto := encodeValue(t, FormatProto, evs)
	f("too many protobuf events", none, 4, formatHeader(FormatProto), goodProto, "more events than the record limit")
	f("protobuf cut", none, 10, formatHeader(FormatProto), goodProto[:len(goodProto)-1], "malformed")
	f("protobuf registry", replay.ReaderOptions{Registry: reg}, 10, formatHeader(FormatProto),
		encodeValue(t, FormatProto, []schema.Event{unknown}), "unknown field")
	noType := protoevent.AppendBatch(nil, protoevent.BatchHeader{}, []*schema.Event{{ID: 3}})
	f("protobuf without type", none, 10, formatHeader(FormatProto), noType, "event_type_id missing")
	f("protobuf too many fields", replay.ReaderOptions{MaxFields: 1}, 10, formatHeader(FormatProto), goodProto, "more than the limit")

	// Exactly the limit is fine; an empty JSON-lines value holds no event.
	dec := newDecoder(none, 5)
	if n, err := dec.decode(nil, good); err != nil || n != 5 {
		t.Fatalf("at the limit: %d, %v", n, err)
	}
	if n, err := dec.decode(nil, nil); err != nil || n != 0 {
		t.Fatalf("empty value: %d, %v", n, err)
	}
}

// TestCodecGolden pins the wire format: the JSON-lines and protobuf records
// byte for byte, and the binary record by what it decodes to (zstd's output
// may change with the library; its input may not).
func TestCodecGolden(t *testing.T) {
	evs := events(4)
	for _, f := range []Format{FormatBinary, FormatJSON, FormatProto} {
		path := filepath.Join("testdata", "record."+f.String())
		v := encodeValue(t, f, evs)
		if *update {
			if err := os.WriteFile(path, v, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to write it)", err)
		}
		if f != FormatBinary && !bytes.Equal(v, golden) {
			t.Fatalf("JSON-lines record changed:\n got %s\nwant %s", v, golden)
		}
		dec := newDecoder(replay.ReaderOptions{}, 10)
		n, err := dec.decode(formatHeader(f), golden)
		if err != nil {
			t.Fatal(err)
		}
		sameEvents(t, dec.evs[:n], evs)
	}
}

// TestFastPathAgrees corrupts a binary record of several blocks one byte at
// a time: whatever the fast path accepts, the slow path accepts with the
// same events, and the decoder's long-lived reader recovers after every
// failure (a good record decodes between the bad ones).
func TestFastPathAgrees(t *testing.T) {
	evs := events(6)
	enc, err := newEncoderSize(FormatBinary, 1, 300)
	if err != nil {
		t.Fatal(err)
	}
	good, _, _, err := enc.appendRecord(nil, ptrs(evs))
	enc.close()
	if err != nil {
		t.Fatal(err)
	}
	if nb, _, _ := kbin.WalkBlocks(good[kbin.StreamHeaderSize : len(good)-kbin.EndMarkerSize]); nb < 2 {
		t.Fatalf("%d blocks, want several", nb)
	}
	dec := newDecoder(replay.ReaderOptions{}, 100)
	defer dec.close()
	slow := newDecoder(replay.ReaderOptions{}, 100)
	step := 1
	if raceEnabled {
		step = 7
	}
	bad := bytes.Clone(good)
	fastOK := 0
	for i := 0; i < len(good); i += step {
		bad[i] ^= 0x55
		n, ok := dec.fast(bad)
		sn, serr := slow.slow(-1, bad)
		if ok {
			fastOK++
			if serr != nil || sn != n {
				t.Fatalf("byte %d: fast path took %d events, slow path %d, %v", i, n, sn, serr)
			}
			sameEvents(t, dec.evs[:n], slow.evs[:n])
		}
		bad[i] ^= 0x55
		if n, ok := dec.fast(good); !ok || n != len(evs) {
			t.Fatalf("after byte %d: the good record takes the slow path", i)
		}
		sameEvents(t, dec.evs[:len(evs)], evs)
	}
	t.Logf("%d of %d corruptions passed the fast path (and the slow one)", fastOK, len(good)/step)
}
