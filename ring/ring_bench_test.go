package ring

// Throughput benchmarks, ours beside a buffered channel so a ratio can be
// read from one run. Workiva's queue.RingBuffer, the third-party peer, is
// measured by the same loops in the bench module (bench/ring_peer_test.go),
// so that this module does not require it.
// One op is one 64-byte event moved from a producer goroutine to the
// consumer (the benchmark goroutine); ns/op is per element. "ring" copies
// the 64-byte event into its slot and out again with Push and Pop;
// "ring-ptr" moves pointers to events, as Workiva's ring must; "batch16"
// reserves and commits 16 slots at a time, written in place, and the
// consumer takes whatever run is committed with WaitRead and one Release.
//
//	go test -run '^$' -bench . -benchmem -benchtime=200ms ./ring/

import (
	"context"
	"strconv"
	"sync"
	"testing"
)

type event64 struct{ a [8]uint64 }

const benchCap = 1024

var benchSink uint64

// split gives producer p its share of n elements.
func split(n, producers, p int) int {
	k := n / producers
	if p == 0 {
		k += n % producers
	}
	return k
}

// runBench starts the producers, runs consume in the benchmark goroutine,
// and reports per-element figures.
func runBench(b *testing.B, producers int, produce func(p, n int), consume func(n int)) {
	b.ReportAllocs()
	b.SetBytes(int64(len(event64{}.a) * 8))
	var wg sync.WaitGroup
	b.ResetTimer()
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			produce(p, split(b.N, producers, p))
		}()
	}
	consume(b.N)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/elem")
}

// The ring benchmarks below come in an SPSC and an MPSC copy because a
// call through an interface or a generic type parameter would not inline
// Slot, Commit and the rest, and callers (engine) use the concrete types.

func benchSPSCSingle(b *testing.B, w Wait) {
	r := NewSPSC[event64](benchCap, w)
	ctx := context.Background()
	runBench(b, 1, func(p, n int) {
		e := event64{a: [8]uint64{uint64(p)}}
		for i := range n {
			e.a[1] = uint64(i)
			if err := r.Push(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	}, func(n int) {
		var sum uint64
		for range n {
			e, err := r.Pop(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			sum += e.a[1]
		}
		benchSink = sum
	})
}

func benchMPSCSingle(b *testing.B, producers int, w Wait) {
	r := NewMPSC[event64](benchCap, w)
	ctx := context.Background()
	runBench(b, producers, func(p, n int) {
		e := event64{a: [8]uint64{uint64(p)}}
		for i := range n {
			e.a[1] = uint64(i)
			if err := r.Push(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	}, func(n int) {
		var sum uint64
		for range n {
			e, err := r.Pop(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			sum += e.a[1]
		}
		benchSink = sum
	})
}

// The -ptr variants carry *event64, pointers into a preallocated pool, as
// Workiva's ring must (its slots are interface{}): like for like with it.

func benchSPSCSinglePtr(b *testing.B, w Wait) {
	r := NewSPSC[*event64](benchCap, w)
	ctx := context.Background()
	pool := make([]event64, 2*benchCap)
	runBench(b, 1, func(p, n int) {
		for i := range n {
			e := &pool[i%len(pool)]
			e.a[1] = uint64(i)
			if err := r.Push(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	}, func(n int) {
		var sum uint64
		for range n {
			e, err := r.Pop(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			sum += e.a[1]
		}
		benchSink = sum
	})
}

func benchMPSCSinglePtr(b *testing.B, producers int, w Wait) {
	r := NewMPSC[*event64](benchCap, w)
	ctx := context.Background()
	pool := make([]event64, producers*2*benchCap)
	runBench(b, producers, func(p, n int) {
		mine := pool[p*2*benchCap : (p+1)*2*benchCap]
		for i := range n {
			e := &mine[i%len(mine)]
			e.a[1] = uint64(i)
			if err := r.Push(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	}, func(n int) {
		var sum uint64
		for range n {
			e, err := r.Pop(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			sum += e.a[1]
		}
		benchSink = sum
	})
}

func benchSPSCBatch(b *testing.B, batch int, w Wait) {
	r := NewSPSC[event64](benchCap, w)
	ctx := context.Background()
	runBench(b, 1, func(p, n int) {
		for i := 0; i < n; {
			seq, got, err := r.Reserve(ctx, min(batch, n-i))
			if err != nil {
				b.Error(err)
				return
			}
			for j := range got {
				e := r.Slot(seq + uint64(j))
				e.a[0], e.a[1] = uint64(p), uint64(i+j)
			}
			r.Commit(seq, got)
			i += got
		}
	}, func(n int) {
		var sum uint64
		for done := 0; done < n; {
			seq, k, err := r.WaitRead(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			for j := range k {
				sum += r.Slot(seq + uint64(j)).a[1]
			}
			r.Release(k)
			done += k
		}
		benchSink = sum
	})
}

func benchMPSCBatch(b *testing.B, producers, batch int, w Wait) {
	r := NewMPSC[event64](benchCap, w)
	ctx := context.Background()
	runBench(b, producers, func(p, n int) {
		for i := 0; i < n; {
			seq, got, err := r.Reserve(ctx, min(batch, n-i))
			if err != nil {
				b.Error(err)
				return
			}
			for j := range got {
				e := r.Slot(seq + uint64(j))
				e.a[0], e.a[1] = uint64(p), uint64(i+j)
			}
			r.Commit(seq, got)
			i += got
		}
	}, func(n int) {
		var sum uint64
		for done := 0; done < n; {
			seq, k, err := r.WaitRead(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			for j := range k {
				sum += r.Slot(seq + uint64(j)).a[1]
			}
			r.Release(k)
			done += k
		}
		benchSink = sum
	})
}

func benchChan(b *testing.B, producers int) {
	ch := make(chan event64, benchCap)
	runBench(b, producers, func(p, n int) {
		e := event64{a: [8]uint64{uint64(p)}}
		for i := range n {
			e.a[1] = uint64(i)
			ch <- e
		}
	}, func(n int) {
		var sum uint64
		for range n {
			e := <-ch
			sum += e.a[1]
		}
		benchSink = sum
	})
}

func BenchmarkSPSC(b *testing.B) {
	b.Run("ring", func(b *testing.B) { benchSPSCSingle(b, Wait{}) })
	b.Run("ring-ptr", func(b *testing.B) { benchSPSCSinglePtr(b, Wait{}) })
	b.Run("ring-batch16", func(b *testing.B) { benchSPSCBatch(b, 16, Wait{}) })
	b.Run("chan", func(b *testing.B) { benchChan(b, 1) })
}

func BenchmarkMPSC(b *testing.B) {
	for _, p := range []int{1, 2, 4} {
		b.Run("p"+strconv.Itoa(p), func(b *testing.B) {
			b.Run("ring", func(b *testing.B) { benchMPSCSingle(b, p, Wait{}) })
			b.Run("ring-ptr", func(b *testing.B) { benchMPSCSinglePtr(b, p, Wait{}) })
			b.Run("ring-batch16", func(b *testing.B) { benchMPSCBatch(b, p, 16, Wait{}) })
			b.Run("chan", func(b *testing.B) { benchChan(b, p) })
		})
	}
}

// BenchmarkUncontended is the cost of the operations themselves, with no
// other goroutine: push then pop on one goroutine, one or 16 at a time.
func BenchmarkUncontended(b *testing.B) {
	e := event64{}
	b.Run("SPSC/push-pop", func(b *testing.B) {
		r := NewSPSC[event64](benchCap, Wait{})
		b.ReportAllocs()
		for range b.N {
			r.TryPush(e)
			e, _ = r.TryPop()
		}
	})
	b.Run("MPSC/push-pop", func(b *testing.B) {
		r := NewMPSC[event64](benchCap, Wait{})
		b.ReportAllocs()
		for range b.N {
			r.TryPush(e)
			e, _ = r.TryPop()
		}
	})
	b.Run("chan/send-recv", func(b *testing.B) {
		ch := make(chan event64, benchCap)
		b.ReportAllocs()
		for range b.N {
			ch <- e
			e = <-ch
		}
	})
	b.Run("SPSC/batch16", func(b *testing.B) {
		r := NewSPSC[event64](benchCap, Wait{})
		b.ReportAllocs()
		for i := 0; i < b.N; i += 16 {
			seq, got := r.TryReserve(16)
			for j := range got {
				*r.Slot(seq + uint64(j)) = e
			}
			r.Commit(seq, got)
			seq, n := r.Peek()
			for j := range n {
				e.a[0] += r.Slot(seq + uint64(j)).a[0]
			}
			r.Release(n)
		}
	})
	b.Run("MPSC/batch16", func(b *testing.B) {
		r := NewMPSC[event64](benchCap, Wait{})
		b.ReportAllocs()
		for i := 0; i < b.N; i += 16 {
			seq, got := r.TryReserve(16)
			for j := range got {
				*r.Slot(seq + uint64(j)) = e
			}
			r.Commit(seq, got)
			seq, n := r.Peek()
			for j := range n {
				e.a[0] += r.Slot(seq + uint64(j)).a[0]
			}
			r.Release(n)
		}
	})
	benchSink = e.a[0]
}
