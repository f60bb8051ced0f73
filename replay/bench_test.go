package replay

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

const benchEvents = 20000

var (
	benchOnce                      sync.Once
	benchJSON, benchZstd, benchBin []byte
	benchPairs                     []byte
	benchEvs                       []schema.Event
	sinkEvent                      schema.Event
)

func benchLogs(b *testing.B) {
	benchOnce.Do(func() {
		benchEvs = GenerateEvents(1, benchEvents, nil)
		benchJSON = encodeAll(b, benchEvs, WriterOptions{}, false)
		benchPairs = encodeAll(b, benchEvs, WriterOptions{FieldsAsPairs: true, Header: true}, false)
		benchZstd = encodeAll(b, benchEvs, WriterOptions{Compress: true}, false)
		benchBin = encodeAll(b, benchEvs, WriterOptions{}, true)
	})
}

func encodeAll(tb testing.TB, evs []schema.Event, opts WriterOptions, bin bool) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w Writer
	var err error
	if bin {
		w, err = NewBinaryWriter(&buf, opts)
	} else {
		w, err = NewJSONWriter(&buf, opts)
	}
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

func benchDecode(b *testing.B, data []byte, opts ReaderOptions) {
	benchLogs(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		r, err := NewReaderWith(bytes.NewReader(data), opts)
		if err != nil {
			b.Fatal(err)
		}
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
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecodeJSON(b *testing.B) { benchLogs(b); benchDecode(b, benchJSON, ReaderOptions{}) }
func BenchmarkDecodeJSONPairs(b *testing.B) {
	benchLogs(b)
	benchDecode(b, benchPairs, ReaderOptions{})
}
func BenchmarkDecodeJSONZstd(b *testing.B) { benchLogs(b); benchDecode(b, benchZstd, ReaderOptions{}) }
func BenchmarkDecodeBinary(b *testing.B)   { benchLogs(b); benchDecode(b, benchBin, ReaderOptions{}) }
