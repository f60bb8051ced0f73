package replay

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

// The benchmarks run on one thread over a generated log of realistic events
// (demo.GenerateEvents: 6 to 10 fields, paths and command lines as strings) and
// report events/s beside ns/op (one op = the whole log).
//
//	go test -run '^$' -bench . -benchtime 200ms -benchmem ./replay/

const benchEvents = 20000

var (
	benchOnce                                  sync.Once
	benchEvs                                   []schema.Event
	benchJSON, benchPairs, benchZstd, benchBin []byte
	benchProto                                 []byte
	sinkEvent                                  schema.Event
)

func benchLogs(b *testing.B) {
	benchOnce.Do(func() {
		benchEvs = demo.GenerateEvents(1, benchEvents, nil)
		benchJSON = encodeAll(b, benchEvs, WriterOptions{}, false)
		benchPairs = encodeAll(b, benchEvs, WriterOptions{FieldsAsPairs: true, Header: true}, false)
		benchZstd = encodeAll(b, benchEvs, WriterOptions{Compress: true}, false)
		benchBin = encodeAll(b, benchEvs, WriterOptions{}, true)
		benchProto = encodeProto(b, benchEvs, WriterOptions{})
	})
}

func reportEvents(b *testing.B, perOp int) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchDecode(b *testing.B, data func() []byte, opts ReaderOptions) {
	benchLogs(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data())))
	for b.Loop() {
		r, err := NewReaderWith(bytes.NewReader(data()), opts)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if err := r.Next(&sinkEvent); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		r.Close()
		if n != benchEvents {
			b.Fatalf("%d events", n)
		}
	}
	reportEvents(b, benchEvents)
}

func BenchmarkDecodeJSON(b *testing.B) {
	benchDecode(b, func() []byte { return benchJSON }, ReaderOptions{})
}

// BenchmarkDecodeJSONSonic is BenchmarkDecodeJSON without the fast path:
// every line through schema.Decoder (sonic), the peer it is measured against.
func BenchmarkDecodeJSONSonic(b *testing.B) {
	benchDecode(b, func() []byte { return benchJSON }, ReaderOptions{noFastPath: true})
}

func BenchmarkDecodeJSONPairs(b *testing.B) {
	benchDecode(b, func() []byte { return benchPairs }, ReaderOptions{})
}
func BenchmarkDecodeJSONZstd(b *testing.B) {
	benchDecode(b, func() []byte { return benchZstd }, ReaderOptions{})
}
func BenchmarkDecodeBinary(b *testing.B) {
	benchDecode(b, func() []byte { return benchBin }, ReaderOptions{})
}
func BenchmarkDecodeBinaryCopy(b *testing.B) {
	benchDecode(b, func() []byte { return benchBin }, ReaderOptions{CopyStrings: true})
}
func BenchmarkDecodeProto(b *testing.B) {
	benchDecode(b, func() []byte { return benchProto }, ReaderOptions{})
}
func BenchmarkDecodeProtoRegistry(b *testing.B) {
	benchDecode(b, func() []byte { return benchProto }, ReaderOptions{Registry: demo.Registry()})
}
func BenchmarkDecodeBinaryRegistry(b *testing.B) {
	benchDecode(b, func() []byte { return benchBin }, ReaderOptions{Registry: demo.Registry()})
}

// BenchmarkReplay replays into a Publisher that keeps nothing, so it
// measures the reader plus the replay loop (clock, accounting); the clock
// is a clock.Manager, as in a real replay, or one that costs nothing.
func BenchmarkReplay(b *testing.B) {
	benchLogs(b)
	for _, c := range []struct {
		name string
		data func() []byte
	}{
		{"json", func() []byte { return benchJSON }},
		{"zstd", func() []byte { return benchZstd }},
		{"binary", func() []byte { return benchBin }},
	} {
		for _, clk := range []struct {
			name string
			mk   func() MockClock
		}{{"manager", func() MockClock { return clock.New() }}, {"atomic", func() MockClock { return new(atomicClock) }}} {
			b.Run(c.name+"/"+clk.name, func(b *testing.B) {
				rp, err := New(&nopPublisher{}, Config{Clock: clk.mk()})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(c.data())))
				for b.Loop() {
					r, err := NewReader(bytes.NewReader(c.data()))
					if err != nil {
						b.Fatal(err)
					}
					st, err := rp.ReplayReader(context.Background(), r)
					if err != nil || st.Published != benchEvents {
						b.Fatal(err, st.Published)
					}
					r.Close()
				}
				reportEvents(b, benchEvents)
			})
		}
	}
}

func benchWrite(b *testing.B, opts WriterOptions, bin bool) {
	benchLogs(b)
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		var w Writer
		cw := &countWriter{}
		if bin {
			w, _ = NewBinaryWriter(cw, opts)
		} else {
			w, _ = NewJSONWriter(cw, opts)
		}
		for i := range benchEvs {
			if err := w.Write(&benchEvs[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.SetBytes(size)
	reportEvents(b, benchEvents)
	b.ReportMetric(float64(size)/benchEvents, "B/event")
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func BenchmarkWriteJSON(b *testing.B)      { benchWrite(b, WriterOptions{}, false) }
func BenchmarkWriteJSONPairs(b *testing.B) { benchWrite(b, WriterOptions{FieldsAsPairs: true}, false) }
func BenchmarkWriteJSONZstd(b *testing.B)  { benchWrite(b, WriterOptions{Compress: true}, false) }
func BenchmarkWriteBinary(b *testing.B)    { benchWrite(b, WriterOptions{}, true) }

// BenchmarkWriteProto is the protobuf log's writer, on the same events.
func BenchmarkWriteProto(b *testing.B) {
	benchLogs(b)
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		cw := &countWriter{}
		w, _ := NewProtoWriter(cw, WriterOptions{})
		for i := range benchEvs {
			if err := w.Write(&benchEvs[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.SetBytes(size)
	reportEvents(b, benchEvents)
	b.ReportMetric(float64(size)/benchEvents, "B/event")
}

// BenchmarkWriteBinaryLevel1 is the binary writer at zstd's fastest level.
func BenchmarkWriteBinaryLevel1(b *testing.B) { benchWrite(b, WriterOptions{Level: 1}, true) }
