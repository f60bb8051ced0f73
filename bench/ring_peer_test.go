package bench_test

// ring's throughput benchmarks beside Workiva's queue.RingBuffer, the
// third-party peer, which lives here so that the root module does not
// require it (ring/ring_bench_test.go measures ring and a channel alone).
// The loops are ring's: one op is one 64-byte event moved from a producer
// goroutine to the consumer (the benchmark goroutine); ns/elem is per
// element. Workiva's ring holds interface{} values, so both carry pointers
// into a preallocated pool (nothing is allocated per element): like for
// like.
//
//	go test -run '^$' -bench RingPeer -benchmem -benchtime=200ms ./bench/

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/Workiva/go-datastructures/queue"

	"github.com/kestrel-sec/kestrel/ring"
)

type event64 struct{ a [8]uint64 }

const peerCap = 1024

var peerSink uint64

// runPeer starts the producers, each with its own share of b.N and its
// own pool of 2*peerCap events (none rewritten while still queued), runs
// consume in the benchmark goroutine, and reports per-element figures.
func runPeer(b *testing.B, producers int, put func(*event64) error, get func() (*event64, error)) {
	pool := make([]event64, producers*2*peerCap)
	b.ReportAllocs()
	b.SetBytes(int64(len(event64{}.a) * 8))
	var wg sync.WaitGroup
	b.ResetTimer()
	for p := range producers {
		n := b.N / producers
		if p == 0 {
			n += b.N % producers
		}
		mine := pool[p*2*peerCap : (p+1)*2*peerCap]
		wg.Go(func() {
			for i := range n {
				e := &mine[i%len(mine)]
				e.a[1] = uint64(i)
				if err := put(e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	var sum uint64
	for range b.N {
		e, err := get()
		if err != nil {
			b.Error(err)
			break
		}
		sum += e.a[1]
	}
	peerSink = sum
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/elem")
}

func peerRing(b *testing.B, producers int) {
	ctx := context.Background()
	if producers == 1 {
		r := ring.NewSPSC[*event64](peerCap, ring.Wait{})
		runPeer(b, 1, func(e *event64) error { return r.Push(ctx, e) }, func() (*event64, error) { return r.Pop(ctx) })
		return
	}
	r := ring.NewMPSC[*event64](peerCap, ring.Wait{})
	runPeer(b, producers, func(e *event64) error { return r.Push(ctx, e) }, func() (*event64, error) { return r.Pop(ctx) })
}

func peerChan(b *testing.B, producers int) {
	ch := make(chan *event64, peerCap)
	runPeer(b, producers, func(e *event64) error { ch <- e; return nil }, func() (*event64, error) { return <-ch, nil })
}

func peerWorkiva(b *testing.B, producers int) {
	rb := queue.NewRingBuffer(peerCap)
	runPeer(b, producers, func(e *event64) error { return rb.Put(e) }, func() (*event64, error) {
		v, err := rb.Get()
		if err != nil {
			return nil, err
		}
		return v.(*event64), nil
	})
}

// BenchmarkRingPeer moves pointers through ring (SPSC for one producer,
// MPSC for more), a buffered channel and Workiva's RingBuffer.
func BenchmarkRingPeer(b *testing.B) {
	for _, p := range []int{1, 2, 4} {
		b.Run("p"+strconv.Itoa(p), func(b *testing.B) {
			b.Run("ring-ptr", func(b *testing.B) { peerRing(b, p) })
			b.Run("chan-ptr", func(b *testing.B) { peerChan(b, p) })
			b.Run("workiva", func(b *testing.B) { peerWorkiva(b, p) })
		})
	}
}

// BenchmarkRingPeerUncontended is the cost of the operations themselves,
// with no other goroutine: put then get on one goroutine.
func BenchmarkRingPeerUncontended(b *testing.B) {
	e := &event64{}
	b.Run("ring/push-pop", func(b *testing.B) {
		r := ring.NewSPSC[*event64](peerCap, ring.Wait{})
		b.ReportAllocs()
		for range b.N {
			r.TryPush(e)
			e, _ = r.TryPop()
		}
	})
	b.Run("workiva/put-get", func(b *testing.B) {
		rb := queue.NewRingBuffer(peerCap)
		b.ReportAllocs()
		for range b.N {
			_ = rb.Put(e)
			v, _ := rb.Get()
			e = v.(*event64)
		}
	})
	peerSink = e.a[0]
}
