package sink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// benchSink keeps results alive against dead-code elimination.
var benchSink []byte

func benchAlerts(n int) []*Alert {
	out := make([]*Alert, n)
	for i := range out {
		out[i] = testAlert(i)
	}
	return out
}

func BenchmarkAppendJSON(b *testing.B) {
	a := testAlert(1)
	buf := a.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = a.AppendJSON(buf[:0])
	}
	benchSink = buf
}

// BenchmarkEmit is the caller's side of Emit with the queue not full: the
// Output drops (counted) where it cannot keep up, so the figure is the
// call itself, never a wait. refused/op says how often the ring was full.
func BenchmarkEmit(b *testing.B) {
	o, err := New(Config{Destinations: []DestinationConfig{{Dest: NewWriterDestination("discard", io.Discard)}}, Queue: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	alerts := benchAlerts(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = o.Emit(alerts[i&1023])
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(o.Stats().Refused)/float64(b.N), "refused/op")
	_ = o.Close(context.Background())
}

func BenchmarkEmitParallel(b *testing.B) {
	o, err := New(Config{Destinations: []DestinationConfig{{Dest: NewWriterDestination("discard", io.Discard)}}, Queue: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	alerts := benchAlerts(1024)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = o.Emit(alerts[i&1023])
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(o.Stats().Refused)/float64(b.N), "refused/op")
	_ = o.Close(context.Background())
}

// runThrough emits b.N alerts into o, waiting for room rather than
// dropping, and waits until the destination delivered them all.
func runThrough(b *testing.B, o *Output, beforeClose func()) {
	alerts := benchAlerts(1024)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := o.Emit(alerts[i&1023]); err != nil {
			b.Fatal(err)
		}
	}
	for o.Stats().Destinations[0].Delivered < uint64(b.N) {
		time.Sleep(20 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "alerts/s")
	if beforeClose != nil {
		beforeClose()
	}
	if err := o.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOutputDiscard: alerts per second from Emit through the
// dispatcher, routing and a destination queue to a destination that
// encodes each alert's JSON line and discards it.
func BenchmarkOutputDiscard(b *testing.B) {
	runThrough(b, discardOutput(b), nil)
}

// discardOutput returns an Output to a destination that encodes and
// discards, holding Emit up rather than dropping.
func discardOutput(b *testing.B) *Output {
	o, err := New(Config{
		Destinations: []DestinationConfig{{Dest: NewWriterDestination("discard", io.Discard), Queue: 4096,
			Overflow: OverflowBlock, BlockTimeout: time.Minute, Batch: BatchConfig{MaxCount: 256}}},
		Queue: 4096, EmitTimeout: time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	return o
}

// BenchmarkOutputDiscardRecycled is BenchmarkOutputDiscard with alerts
// that have a Recycler: the producer takes each alert back (a channel
// of 1024) before emitting it again, as detect's slab does. Read its
// alerts/s beside BenchmarkOutputDiscard's for what recycling costs the
// dispatch path (the channel is the recycler's own cost).
func BenchmarkOutputDiscardRecycled(b *testing.B) {
	o := discardOutput(b)
	free := make(chanRecycler, 1024)
	for _, a := range benchAlerts(cap(free)) {
		free <- a
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		a := <-free
		a.SetRecycler(free)
		if err := o.Emit(a); err != nil {
			b.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "alerts/s")
}

// BenchmarkOutputDiscardStalledSibling is BenchmarkOutputDiscard with a
// second destination whose Send never returns: read its alerts/s beside
// BenchmarkOutputDiscard's to see what the stalled sibling costs (its
// alerts are dropped, counted, once its queue is full).
func BenchmarkOutputDiscardStalledSibling(b *testing.B) {
	stop := make(chan struct{})
	stuck := &funcDest{name: "stuck", send: func(ctx context.Context, _ []*Alert) error {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		return nil
	}}
	o, err := New(Config{
		Destinations: []DestinationConfig{
			{Dest: NewWriterDestination("discard", io.Discard), Queue: 4096,
				Overflow: OverflowBlock, BlockTimeout: time.Minute, Batch: BatchConfig{MaxCount: 256}},
			{Dest: stuck, Queue: 16},
		},
		Queue: 4096, EmitTimeout: time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	runThrough(b, o, func() { close(stop) })
}

// BenchmarkChannelDiscard is the peer of BenchmarkOutputDiscard: the same
// alerts over a buffered channel to one goroutine that encodes and
// discards them (no dedup, routing, batching or accounting).
func BenchmarkChannelDiscard(b *testing.B) {
	alerts := benchAlerts(1024)
	ch := make(chan *Alert, 4096)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf []byte
		for a := range ch {
			buf = a.AppendJSON(buf[:0])
			buf = append(buf, '\n')
			_, _ = io.Discard.Write(buf)
		}
		benchSink = buf
	}()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		ch <- alerts[i&1023]
	}
	close(ch)
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "alerts/s")
}

// BenchmarkOutputWebhook: alerts per second to a local HTTP server, in
// batches of 256.
func BenchmarkOutputWebhook(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	d, err := NewWebhookDestination(WebhookConfig{HTTPConfig: HTTPConfig{URL: srv.URL}})
	if err != nil {
		b.Fatal(err)
	}
	o, err := New(Config{
		Destinations: []DestinationConfig{{Dest: d, Queue: 4096, Overflow: OverflowBlock, BlockTimeout: time.Minute,
			Batch: BatchConfig{MaxCount: 256}}},
		Queue: 4096, EmitTimeout: time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	runThrough(b, o, nil)
}

func BenchmarkDedupCheck(b *testing.B) {
	d := newDedup(DedupConfig{Window: time.Minute, Fields: []string{"process.pid"}})
	alerts := benchAlerts(1024)
	b.ReportAllocs()
	now := uint64(0)
	i := 0
	for b.Loop() {
		d.check(alerts[i&1023], now)
		now += 1000
		i++
	}
}
