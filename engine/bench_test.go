package engine

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Every scenario is measured on the Bus and, in the same benchmark, on the
// way a Go programmer would build it with buffered channels: one channel of
// Events (sent by value, so nothing is allocated) per partition, sharded by
// the same hash, one consumer goroutine each. ns/op is per event; events/s
// is the same figure inverted.

// benchQueue is the capacity of every partition queue, bus and channel.
const benchQueue = 4096

// benchKeys is how many entities the producers cycle through.
const benchKeys = 64

var sinkSeq atomic.Uint64 // consumers store here so nothing is optimised away

// benchEvent returns an event with a typical shape: six fields inline.
func benchEvent(b *testing.B, id uint64, key schema.EntityKey) schema.Event {
	var ev schema.Event
	bl := schema.NewBuilder(nil).Type(1).ID(id).Entity(key).Mono(1000).Wall(2000).
		Field(1, value.StringValue("/usr/bin/curl")).
		Field(2, value.U64Value(4242)).
		Field(3, value.U64Value(1)).
		Field(4, value.StringValue("https://example.com/")).
		Field(5, value.I64Value(-1)).
		Field(6, value.BoolValue(true))
	if err := bl.BuildInto(&ev); err != nil {
		b.Fatal(err)
	}
	return ev
}

// transport is one way to move events from producers to per-partition
// consumers.
type transport interface {
	publish(ev *schema.Event)
	publishBatch(evs []schema.Event)
	stop()
}

type busTransport struct {
	b   testing.TB
	bus *Bus
}

func newBusTransport(b testing.TB, partitions int, locked bool, h Handler) *busTransport {
	bus, err := New(Config{Partitions: partitions, QueueSize: benchQueue, BackpressureTimeout: time.Minute,
		LockThreads: locked})
	if err != nil {
		b.Fatal(err)
	}
	if err := bus.Run(h); err != nil {
		b.Fatal(err)
	}
	return &busTransport{b, bus}
}

// publish and publishBatch run on producer goroutines, where b.Fatal is
// not allowed: they report with b.Error and the benchmark fails.
func (t *busTransport) publish(ev *schema.Event) {
	if err := t.bus.Publish(ev); err != nil {
		t.b.Error(err)
	}
}

func (t *busTransport) publishBatch(evs []schema.Event) {
	if _, err := t.bus.PublishBatch(evs); err != nil {
		t.b.Error(err)
	}
}

func (t *busTransport) stop() {
	if err := t.bus.Shutdown(context.Background()); err != nil {
		t.b.Fatal(err)
	}
}

type chanTransport struct {
	chans []chan schema.Event
	shard shard
	wg    sync.WaitGroup
}

// newChanTransport starts one consumer per partition that calls h with
// batches of one event (a channel hands over one at a time).
func newChanTransport(partitions int, h Handler) *chanTransport {
	t := &chanTransport{chans: make([]chan schema.Event, partitions), shard: newShard(partitions)}
	for p := range t.chans {
		ch := make(chan schema.Event, benchQueue)
		t.chans[p] = ch
		t.wg.Go(func() {
			batch := make([]*schema.Event, 1)
			var ev schema.Event // one variable: &ev must not allocate per event
			for ev = range ch {
				batch[0] = &ev
				if h != nil {
					h(p, batch)
				}
			}
		})
	}
	return t
}

func (t *chanTransport) publish(ev *schema.Event) { t.chans[t.shard.of(ev.Entity)] <- *ev }

func (t *chanTransport) publishBatch(evs []schema.Event) {
	for i := range evs {
		t.publish(&evs[i])
	}
}

func (t *chanTransport) stop() {
	for _, ch := range t.chans {
		close(ch)
	}
	t.wg.Wait()
}

// newTransport builds impl: "bus", "bus-locked" (Config.LockThreads) or
// "chan".
func newTransport(b testing.TB, impl string, partitions int, h Handler) transport {
	switch impl {
	case "bus", "bus-locked":
		return newBusTransport(b, partitions, impl == "bus-locked", h)
	}
	return newChanTransport(partitions, h)
}

// lastSeq is a Handler that keeps the last event id per batch.
func lastSeq(_ int, batch []*schema.Event) { sinkSeq.Store(batch[len(batch)-1].ID) }

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPublish measures publishing throughput (consumers keep up or
// push back): 1, 2 and 4 producers into 1, 2 and 4 partitions.
func BenchmarkPublish(b *testing.B) {
	for _, impl := range []string{"bus", "chan"} {
		for _, producers := range []int{1, 2, 4} {
			for _, partitions := range []int{1, 2, 4} {
				name := fmt.Sprintf("impl=%s/producers=%d/partitions=%d", impl, producers, partitions)
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					tr := newTransport(b, impl, partitions, lastSeq)
					evs := make([][]schema.Event, producers)
					for p := range evs {
						evs[p] = make([]schema.Event, benchKeys)
						for k := range evs[p] {
							evs[p][k] = benchEvent(b, uint64(k), schema.EntityKey{Hi: uint64(p), Lo: uint64(k)})
						}
					}
					var wg sync.WaitGroup
					b.ResetTimer()
					for p := range producers {
						n := b.N / producers
						if p == 0 {
							n += b.N % producers
						}
						wg.Go(func() {
							mine := evs[p]
							for i := range n {
								tr.publish(&mine[i%benchKeys])
							}
						})
					}
					wg.Wait()
					b.StopTimer()
					reportRate(b)
					tr.stop()
				})
			}
		}
	}
}

// BenchmarkPublishBatch measures PublishBatch against a loop of channel
// sends, with 16 events per call: all of one entity (one range reserved per
// call) and of 16 entities (ranges as long as a partition's run).
func BenchmarkPublishBatch(b *testing.B) {
	const batch = 16
	for _, impl := range []string{"bus", "chan"} {
		for _, mixed := range []bool{false, true} {
			name := fmt.Sprintf("impl=%s/entities=%d/partitions=2", impl, map[bool]int{false: 1, true: batch}[mixed])
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				tr := newTransport(b, impl, 2, lastSeq)
				evs := make([]schema.Event, batch)
				for i := range evs {
					key := schema.EntityKeyFrom64(7)
					if mixed {
						key = schema.EntityKeyFrom64(uint64(i))
					}
					evs[i] = benchEvent(b, uint64(i), key)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i += batch {
					tr.publishBatch(evs[:min(batch, b.N-i)])
				}
				b.StopTimer()
				reportRate(b)
				tr.stop()
			})
		}
	}
}

// BenchmarkEndToEnd measures the latency of one event in flight, from
// Publish to its receipt: by the Handler (the publisher waits for the
// Handler to have seen it) and by a subscriber's Recv (on the bus) or a
// second channel (the peer). Waiting yields; nothing spins on a core. The
// worker parks between events, so this is the price of a wake-up, which
// bus-locked (Config.LockThreads) shows to be high.
func BenchmarkEndToEnd(b *testing.B) {
	for _, impl := range []string{"bus", "bus-locked", "chan"} {
		b.Run("to=handler/impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			var seen atomic.Uint64
			tr := newTransport(b, impl, 1, func(_ int, batch []*schema.Event) {
				seen.Store(batch[len(batch)-1].ID)
			})
			ev := benchEvent(b, 0, schema.EntityKeyFrom64(1))
			b.ResetTimer()
			for i := range b.N {
				ev.ID = uint64(i + 1)
				tr.publish(&ev)
				for seen.Load() != ev.ID {
					runtime.Gosched()
				}
			}
			b.StopTimer()
			tr.stop()
		})
	}

	for _, locked := range []bool{false, true} {
		name := "to=subscriber/impl=bus"
		if locked {
			name += "-locked"
		}
		b.Run(name, func(b *testing.B) { benchSubscriber(b, locked) })
	}

	b.Run("to=subscriber/impl=chan", func(b *testing.B) {
		b.ReportAllocs()
		in, out := make(chan schema.Event, benchQueue), make(chan schema.Event, benchQueue)
		var wg sync.WaitGroup
		wg.Go(func() {
			for ev := range in {
				out <- ev
			}
			close(out)
		})
		ev := benchEvent(b, 0, schema.EntityKeyFrom64(1))
		var got schema.Event
		b.ResetTimer()
		for i := range b.N {
			ev.ID = uint64(i)
			in <- ev
			got = <-out
		}
		b.StopTimer()
		sinkSeq.Store(got.ID)
		close(in)
		wg.Wait()
	})
}

// benchSubscriber is BenchmarkEndToEnd's bus-to-subscriber case.
func benchSubscriber(b *testing.B, locked bool) {
	b.ReportAllocs()
	bus, err := New(Config{Partitions: 1, QueueSize: benchQueue, BackpressureTimeout: time.Minute, LockThreads: locked})
	if err != nil {
		b.Fatal(err)
	}
	s, err := bus.Subscribe()
	if err != nil {
		b.Fatal(err)
	}
	if err := bus.Run(nil); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ev := benchEvent(b, 0, schema.EntityKeyFrom64(1))
	var got schema.Event
	b.ResetTimer()
	for i := range b.N {
		ev.ID = uint64(i)
		if err := bus.Publish(&ev); err != nil {
			b.Fatal(err)
		}
		if err := s.Recv(ctx, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := bus.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStats measures a Stats snapshot of 4 partitions.
func BenchmarkStats(b *testing.B) {
	b.ReportAllocs()
	bus := newBusTransport(b, 4, false, nil)
	defer bus.stop()
	b.ResetTimer()
	for range b.N {
		st := bus.bus.Stats()
		sinkSeq.Store(st.Partitions[0].Published)
	}
}

// BenchmarkPublishIdle measures what one Publish costs a paced producer:
// the partition's worker is idle (parked, or yielding with ring.LowLatency)
// when the event comes, and the slot it lands in was last written a lap of
// the ring ago, as at a sensor's ordinary rate. One P (GOMAXPROCS 1, as the
// harness's latency scenarios run), the harness's workload events, a ring of
// 4096; after each publish the producer yields until the worker has the
// event, then yields a while longer, as a paced producer does. It reports
// the median, P90 and P99 of the publish calls' durations; the channel row
// is a buffered channel whose consumer is parked in a receive; the
// lowlatency-move row builds each event in the producer's own Event before
// the timed call and hands it over with PublishMove.
func BenchmarkPublishIdle(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	evs := demo.GenerateEvents(1, 4096, nil)
	waits := []struct {
		name string
		w    ring.Wait
	}{{"park", ring.Wait{Spin: -1, Yield: -1}}, {"lowlatency", ring.LowLatency()}, {"lowlatency-move", ring.LowLatency()}, {"chan", ring.Wait{}}}
	for _, wt := range waits {
		b.Run("wait="+wt.name, func(b *testing.B) {
			var done atomic.Int64
			var publish func(*schema.Event)
			var stop func()
			if wt.name == "chan" {
				ch := make(chan schema.Event, 4096)
				fin := make(chan struct{})
				go func() {
					defer close(fin)
					for range ch {
						done.Add(1)
					}
				}()
				publish = func(ev *schema.Event) { ch <- *ev }
				stop = func() { close(ch); <-fin }
			} else {
				bus, err := New(Config{Partitions: 1, QueueSize: 4096, Wait: wt.w})
				if err != nil {
					b.Fatal(err)
				}
				if err := bus.Run(func(_ int, batch []*schema.Event) { done.Add(int64(len(batch))) }); err != nil {
					b.Fatal(err)
				}
				publish = func(ev *schema.Event) { _ = bus.Publish(ev) }
				if wt.name == "lowlatency-move" {
					publish = func(ev *schema.Event) { _ = bus.PublishMove(ev) }
				}
				stop = func() { _ = bus.Shutdown(context.Background()) }
			}
			lat := make([]int64, b.N)
			var mine schema.Event // built before the timed hand-over, for PublishMove
			b.ResetTimer()
			for i := range b.N {
				ev := &evs[i%len(evs)]
				if wt.name == "lowlatency-move" {
					mine.CopyFrom(ev)
					ev = &mine
				}
				t0 := time.Now()
				publish(ev)
				lat[i] = int64(time.Since(t0))
				for done.Load() != int64(i+1) {
					runtime.Gosched()
				}
				for range 20 {
					runtime.Gosched()
				}
			}
			b.StopTimer()
			stop()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*9/10]), "p90-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
		})
	}
}
