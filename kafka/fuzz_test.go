package kafka

import (
	"bytes"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzDecodeRecord feeds arbitrary record values, under each format header
// and none, to the Source's decoder: it must never panic nor hang, and what
// it accepts must survive a round trip through both record formats.
func FuzzDecodeRecord(f *testing.F) {
	evs := events(6)
	f.Add(uint8(0), encodeValue(f, FormatBinary, evs))
	f.Add(uint8(1), encodeValue(f, FormatBinary, evs[:1]))
	f.Add(uint8(2), encodeValue(f, FormatJSON, evs))
	f.Add(uint8(0), encodeValue(f, FormatJSON, evs[:2]))
	f.Add(uint8(3), []byte("{\"event_id\":1,\"event_type_id\":1,\"ts_mono_ns\":1,\"ts_wall_ns\":1,\"entity_key\":7,\"fields\":{}}\n"))
	f.Add(uint8(1), []byte("\x89KST\r\n\x1a\n"))
	f.Add(uint8(0), []byte{})
	f.Add(uint8(4), encodeValue(f, FormatProto, evs))
	f.Add(uint8(4), encodeValue(f, FormatProto, evs[:1]))
	headers := [][]kgo.RecordHeader{
		nil,
		formatHeader(FormatBinary),
		formatHeader(FormatJSON),
		{{Key: HeaderFormat, Value: []byte("kbin/7")}},
		formatHeader(FormatProto),
	}
	encs := map[Format]*encoder{}
	for _, fm := range []Format{FormatBinary, FormatJSON, FormatProto} {
		e, err := newEncoder(fm, 1)
		if err != nil {
			f.Fatal(err)
		}
		encs[fm] = e
	}
	f.Cleanup(func() {
		for _, e := range encs {
			e.close()
		}
	})
	// One decoder for the whole run, as a Source has: its long-lived
	// reader must survive every input, good or bad.
	dec := newDecoder(replay.ReaderOptions{}, 1024)
	slow := newDecoder(replay.ReaderOptions{}, 1024)
	// again re-reads what the encoders wrote; one for the run too, since a
	// fresh decoder builds a fresh binary reader (zstd decoder and read
	// buffer) on its first record, which cost more than the rest of an
	// exec.
	again := newDecoder(replay.ReaderOptions{}, 1024)
	f.Cleanup(dec.close)
	f.Cleanup(slow.close)
	f.Cleanup(again.close)
	f.Fuzz(func(t *testing.T, h uint8, value []byte) {
		n, err := dec.decode(headers[int(h)%len(headers)], value)
		// The fast path agrees with a fresh reader over the record alone
		// (under the headers that let a binary value through).
		if hi := int(h) % len(headers); hi <= 1 && kbin.IsBinary(value) {
			sn, serr := slow.slow(-1, value)
			if (err == nil) != (serr == nil) {
				t.Fatalf("decode: %d, %v; slow path: %d, %v", n, err, sn, serr)
			}
			if err == nil && serr == nil {
				if sn != n {
					t.Fatalf("decode: %d events; slow path: %d", n, sn)
				}
				for i := range n {
					if a, b := dec.evs[i].AppendJSON(nil), slow.evs[i].AppendJSON(nil); !bytes.Equal(a, b) {
						t.Fatalf("event %d: fast %s, slow %s", i, a, b)
					}
				}
			}
		}
		if err != nil {
			return
		}
		got := make([]schema.Event, n)
		for i := range got {
			got[i].CopyFrom(&dec.evs[i])
		}
		for fm, enc := range encs {
			v, m, bad, err := enc.appendRecord(nil, ptrs(got))
			if bad != 0 || m != n {
				// An accepted event the encoder refuses: only one too
				// large for a block, which a small input cannot hold.
				t.Fatalf("%v: re-encoding %d events: %d encoded, %d bad, %v", fm, n, m, bad, err)
			}
			if n == 0 {
				continue
			}
			k, err := again.decode(formatHeader(fm), v)
			if err != nil {
				t.Fatalf("%v: re-encoded record does not decode: %v", fm, err)
			}
			if k != n {
				t.Fatalf("%v: %d events, then %d", fm, n, k)
			}
			for i := range got {
				a, b := got[i].AppendJSON(nil), again.evs[i].AppendJSON(nil)
				if !bytes.Equal(a, b) {
					t.Fatalf("%v: event %d:\n%s\n%s", fm, i, a, b)
				}
			}
		}
	})
}
