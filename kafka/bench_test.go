package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Benchmarks run against kfake on loopback: an in-process broker, so the
// figures measure the bridge and the client, with the broker's CPU taken
// from the same cores. Run them with
//
//	go test -run '^$' -bench . -benchtime 200ms -benchmem ./kafka/

var benchSink atomic.Uint64

// benchCluster starts a three-broker cluster without test logging.
func benchCluster(b *testing.B, partitions int32, topic string) (*kfake.Cluster, Config) {
	c := newCluster(b, 3, partitions, topic)
	cfg := testConfig(b, c, topic)
	cfg.Logger = nil
	return c, cfg
}

// BenchmarkForward measures events per second through a Forwarder into
// kfake, by partition count, against the naive peer of one JSON record per
// event produced straight with the client.
func BenchmarkForward(b *testing.B) {
	evs := events(1 << 14)
	for _, parts := range []int32{1, 4, 16} {
		b.Run(fmt.Sprintf("kbin/partitions=%d", parts), func(b *testing.B) {
			_, cfg := benchCluster(b, parts, "fwd")
			cfg.Linger = 5 * time.Millisecond
			benchForward(b, cfg, evs)
		})
	}
	b.Run("jsonl/partitions=4", func(b *testing.B) {
		_, cfg := benchCluster(b, 4, "fwd")
		cfg.Format = FormatJSON
		benchForward(b, cfg, evs)
	})
	b.Run("peer-json-record-per-event/partitions=4", func(b *testing.B) {
		c, _ := benchCluster(b, 4, "fwd")
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("fwd"))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		var failed atomic.Int64
		promise := func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		}
		ctx := context.Background()
		var bytes int64
		b.ReportAllocs()
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			ev := &evs[i%len(evs)]
			v := ev.AppendJSON(nil)
			bytes += int64(len(v))
			cl.Produce(ctx, &kgo.Record{Key: ev.Entity.AppendDecimal(nil), Value: v}, promise)
		}
		if err := cl.Flush(ctx); err != nil || failed.Load() > 0 {
			b.Fatal(err, failed.Load())
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		b.ReportMetric(float64(bytes)/float64(b.N), "wire-B/event")
	})
}

func benchForward(b *testing.B, cfg Config, evs []schema.Event) {
	f, err := NewForwarder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		f.Publish(&evs[i%len(evs)])
	}
	if err := f.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := f.Stats()
	b.ReportMetric(float64(st.Delivered)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(st.Bytes)/float64(st.Delivered), "wire-B/event")
	b.ReportMetric(float64(st.Delivered)/float64(max(st.Records, 1)), "events/record")
}

// BenchmarkConsume measures events per second from the topic through a
// Source into a bus with a handler that only counts, by partition count.
// Each iteration reads the same 32768 events with a new group.
func BenchmarkConsume(b *testing.B) {
	const n = 1 << 15
	evs := events(n)
	for _, parts := range []int32{1, 4, 16} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			_, cfg := benchCluster(b, parts, "consume")
			cfg.BatchEvents = 4096
			forward(b, cfg, evs)
			cfg.DeadLetterTopic = NoDeadLetter
			b.ReportAllocs()
			var total time.Duration
			for i := 0; b.Loop(); i++ {
				cfg.Group = fmt.Sprintf("bench-%d", i)
				total += consumeAll(b, cfg, n)
			}
			b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "events/s")
		})
	}
}

// consumeAll runs a Source until its bus's handler saw n events and
// returns how long that took.
func consumeAll(b *testing.B, cfg Config, n int) time.Duration {
	bus, err := engine.New(engine.Config{Partitions: 2})
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	done := make(chan struct{})
	bus.Run(func(_ int, batch []*schema.Event) {
		if handled.Add(int64(len(batch))) == int64(n) {
			close(done)
		}
	})
	src, err := NewSource(cfg, bus)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	start := time.Now()
	go func() { ran <- src.Run(ctx) }()
	<-done
	d := time.Since(start)
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	bus.Shutdown(context.Background())
	benchSink.Add(uint64(handled.Load()))
	return d
}

// BenchmarkLatency measures sensor → detection worker latency at a steady
// rate: events are published to a Forwarder at rate events/s for a second,
// each stamped with its publish time, and a Source's workers compute the
// delay. Reported: P50, P99 and max in microseconds.
func BenchmarkLatency(b *testing.B) {
	for _, tc := range []struct {
		rate   int
		linger time.Duration
	}{{5000, time.Millisecond}, {5000, 5 * time.Millisecond}, {20000, 5 * time.Millisecond}} {
		b.Run(fmt.Sprintf("rate=%d/linger=%v", tc.rate, tc.linger), func(b *testing.B) {
			for b.Loop() {
				lat := measureLatency(b, tc.rate, tc.linger, time.Second)
				b.ReportMetric(float64(pct(lat, 0.50))/1e3, "p50-µs")
				b.ReportMetric(float64(pct(lat, 0.99))/1e3, "p99-µs")
				b.ReportMetric(float64(lat[len(lat)-1])/1e3, "max-µs")
			}
		})
	}
}

func pct(sorted []int64, p float64) int64 {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// measureLatency returns the sorted delays, in nanoseconds, of events sent
// at rate per second for d.
func measureLatency(b *testing.B, rate int, linger, d time.Duration) []int64 {
	_, cfg := benchCluster(b, 4, "latency")
	cfg.Linger = linger
	cfg.DeadLetterTopic = NoDeadLetter
	cfg.Group = fmt.Sprintf("lat-%d-%v", rate, linger)
	epoch := time.Now()
	var mu sync.Mutex
	var lat []int64
	bus, err := engine.New(engine.Config{Partitions: 2})
	if err != nil {
		b.Fatal(err)
	}
	bus.Run(func(_ int, batch []*schema.Event) {
		now := int64(time.Since(epoch))
		mu.Lock()
		for _, ev := range batch {
			lat = append(lat, now-int64(ev.TsWall))
		}
		mu.Unlock()
	})
	src, err := NewSource(cfg, bus)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx) }()
	waitAssigned(b, src, 10*time.Second)

	f, err := NewForwarder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	evs := events(1 << 12)
	total := int(float64(rate) * d.Seconds())
	tick := time.Millisecond
	perTick := max(1, rate/1000)
	start := time.Now()
	for sent := 0; sent < total; {
		for range perTick {
			ev := &evs[sent%len(evs)]
			ev.TsWall = schema.TimestampWall(time.Since(epoch))
			f.Publish(ev)
			sent++
		}
		if next := start.Add(time.Duration(sent/perTick) * tick); time.Until(next) > 0 {
			time.Sleep(time.Until(next))
		}
	}
	if err := f.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-ran
	bus.Shutdown(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(lat) < total {
		b.Fatalf("%d of %d events arrived", len(lat), total)
	}
	slices.Sort(lat)
	return lat
}

// BenchmarkCodec measures a record's encoding and decoding per event, for
// records of 1, 16 and 256 events: the decoder builds a replay reader per
// record (see the package's notes), which small records pay for.
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		evs := events(n)
		for _, f := range []Format{FormatBinary, FormatJSON, FormatProto} {
			b.Run(fmt.Sprintf("encode/%v/events=%d", f, n), func(b *testing.B) {
				enc, err := newEncoder(f, 1)
				if err != nil {
					b.Fatal(err)
				}
				defer enc.close()
				p := ptrs(evs)
				var buf []byte
				b.ReportAllocs()
				for b.Loop() {
					buf, _, _, _ = enc.appendRecord(buf[:0], p)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
				b.ReportMetric(float64(len(buf))/float64(n), "B/event")
			})
			b.Run(fmt.Sprintf("decode/%v/events=%d", f, n), func(b *testing.B) {
				v := encodeValue(b, f, evs)
				dec := newDecoder(replay.ReaderOptions{}, DefaultMaxRecordEvents)
				hdr := formatHeader(f)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := dec.decode(hdr, v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			})
		}
	}
}
