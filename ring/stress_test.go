package ring

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Stress values carry their producer in the high bits and that producer's
// count in the low bits, so the consumer checks exactly-once and
// per-producer order with one counter per producer.
const prodShift = 40

func stressN(t *testing.T, full int) int {
	switch {
	case raceEnabled && testing.Short():
		return full / 40
	case raceEnabled || testing.Short():
		return full / 10
	}
	return full
}

// produce pushes values [0, n) of producer p into r by a mix of TryPush,
// Push and batched reservations (committed in one piece, in pieces, or in
// pieces out of order), until n or until the ring closes. It returns how
// many values were accepted: exactly those must come out.
func produce(r api[int], p, n int, seed uint64) (accepted int) {
	rng := rand.New(rand.NewPCG(seed, uint64(p)))
	ctx := context.Background()
	base := p << prodShift
	for i := 0; i < n; {
		switch rng.IntN(4) {
		case 0:
			for !r.TryPush(base | i) {
				if r.Closed() {
					return i
				}
				runtime.Gosched()
			}
			i++
		case 1:
			if err := r.Push(ctx, base|i); err != nil {
				return i
			}
			i++
		default:
			seq, got, err := r.Reserve(ctx, min(1+rng.IntN(7), n-i))
			if err != nil {
				return i
			}
			for j := range got {
				*r.Slot(seq + uint64(j)) = base | (i + j)
			}
			if _, isM := r.(*MPSC[int]); isM && got > 1 && rng.IntN(2) == 0 {
				// In two pieces, the later one first.
				k := 1 + rng.IntN(got-1)
				r.Commit(seq+uint64(k), got-k)
				runtime.Gosched()
				r.Commit(seq, k)
			} else {
				r.Commit(seq, got)
			}
			i += got
		}
	}
	return n
}

// consume drains r until ErrClosed with a mix of Pop, TryPopBatch and
// WaitRead with partial releases, checking per-producer order; it returns
// the count received per producer.
func consume(t *testing.T, r api[int], producers int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 99))
	ctx := context.Background()
	next := make([]int, producers)
	dst := make([]int, 16)
	check := func(v int) bool {
		p, i := v>>prodShift, v&(1<<prodShift-1)
		if p < 0 || p >= producers || i != next[p] {
			t.Errorf("got producer %d value %d, want value %d", p, i, next[min(max(p, 0), producers-1)])
			return false
		}
		next[p]++
		return true
	}
	for {
		switch rng.IntN(3) {
		case 0:
			v, err := r.Pop(ctx)
			if errors.Is(err, ErrClosed) {
				return next
			}
			if !check(v) {
				return next
			}
		case 1:
			n := r.TryPopBatch(dst[:1+rng.IntN(len(dst))])
			if n == 0 {
				runtime.Gosched()
			}
			for _, v := range dst[:n] {
				if !check(v) {
					return next
				}
			}
		default:
			seq, n, err := r.WaitRead(ctx)
			if errors.Is(err, ErrClosed) {
				return next
			}
			n = 1 + rng.IntN(n) // release part of the run, re-read the rest
			for j := range n {
				if !check(*r.Slot(seq + uint64(j))) {
					return next
				}
			}
			r.Release(n)
		}
	}
}

// TestStressExactlyOnce: several producers, every value arrives once, in
// per-producer order, over small capacities and every wait strategy.
func TestStressExactlyOnce(t *testing.T) {
	n := stressN(t, 100000)
	forKinds(t, func(t *testing.T, k kind) {
		producers := 4
		if k.name == "SPSC" {
			producers = 1
		}
		for _, capacity := range []int{2, 8, 64} {
			for wi, w := range []Wait{{}, parkNow, {Spin: 2, Yield: 1}} {
				r := k.new(capacity, w)
				var wg sync.WaitGroup
				for p := range producers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if got := produce(r, p, n, uint64(capacity*10+wi)); got != n {
							t.Errorf("producer %d stopped at %d of %d", p, got, n)
						}
					}()
				}
				go func() { wg.Wait(); r.Close() }()
				recv := consume(t, r, producers, uint64(capacity))
				for p, c := range recv {
					if c != n {
						t.Errorf("cap %d wait %+v: producer %d: received %d of %d", capacity, w, p, c, n)
					}
				}
			}
		}
	})
}

// TestStressCloseLosesNothing closes the ring while producers are busy: a
// value is either refused or delivered; the count received per producer is
// exactly the count it had accepted. This is the invariant engine's
// Shutdown relies on.
func TestStressCloseLosesNothing(t *testing.T) {
	n := stressN(t, 1<<30) // effectively unbounded: the close stops them
	rounds := 20
	if raceEnabled || testing.Short() {
		rounds = 6
	}
	forKinds(t, func(t *testing.T, k kind) {
		producers := 3
		if k.name == "SPSC" {
			producers = 1
		}
		for round := range rounds {
			w := Wait{}
			if round%2 == 1 {
				w = parkNow
			}
			r := k.new(4<<(round%3), w)
			var wg sync.WaitGroup
			accepted := make([]int, producers)
			var started atomic.Int32
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					started.Add(1)
					accepted[p] = produce(r, p, n, uint64(round))
				}()
			}
			recv := make(chan []int, 1)
			go func() { recv <- consume(t, r, producers, uint64(round)) }()
			waitFor(t, "producers started", func() bool { return started.Load() == int32(producers) })
			for range 50 + round*20 {
				runtime.Gosched()
			}
			r.Close()
			wg.Wait()
			got := <-recv
			for p := range producers {
				if got[p] != accepted[p] {
					t.Fatalf("round %d: producer %d: %d accepted, %d delivered", round, p, accepted[p], got[p])
				}
			}
		}
	})
}

// TestMPSCCommitOrder: the consumer sees a run only once it and every run
// before it are committed, whatever order the producers commit in.
func TestMPSCCommitOrder(t *testing.T) {
	r := NewMPSC[int](8, Wait{})
	a, na := r.TryReserve(2) // [0,2)
	b, nb := r.TryReserve(3) // [2,5)
	c, nc := r.TryReserve(1) // [5,6)
	if a != 0 || b != 2 || c != 5 || na+nb+nc != 6 {
		t.Fatalf("reservations %d+%d %d+%d %d+%d", a, na, b, nb, c, nc)
	}
	fill := func(seq uint64, n int) {
		for i := range n {
			*r.Slot(seq + uint64(i)) = int(seq) + i
		}
	}
	fill(a, na)
	fill(b, nb)
	fill(c, nc)
	peek := func(wantSeq uint64, wantN int) {
		t.Helper()
		if s, n := r.Peek(); s != wantSeq || n != wantN {
			t.Fatalf("Peek = %d, %d, want %d, %d", s, n, wantSeq, wantN)
		}
	}
	r.Commit(c, nc)
	peek(0, 0)
	r.Commit(b+1, 2) // the tail of b first
	peek(0, 0)
	r.Commit(a, na)
	peek(0, 2)
	r.Release(1)
	peek(1, 1)
	r.Commit(b, 1)
	peek(1, 1) // the consumer's cached run still ends at 2 ...
	r.Release(1)
	peek(2, 4) // ... and extends over b's pieces and c once it is used up
	for i := range 4 {
		if v := *r.Slot(2 + uint64(i)); v != 2+i {
			t.Fatalf("slot %d = %d", 2+i, v)
		}
	}
	r.Release(4)
	// Wrap around with stale markers from the first lap in every cell.
	for lap := range 10 {
		seq, got := r.TryReserve(8)
		if got != 8 {
			t.Fatalf("lap %d: got %d", lap, got)
		}
		fill(seq, got)
		for i := 7; i >= 0; i-- { // one piece each, last first
			r.Commit(seq+uint64(i), 1)
			if i > 0 {
				peek(seq, 0)
			}
		}
		peek(seq, 8)
		r.Release(8)
	}
}

// TestPassWake: one release with room for several wakes every parked
// producer it has room for, not only the first.
func TestPassWake(t *testing.T) {
	r := NewMPSC[int](4, parkNow)
	for i := range 4 {
		r.TryPush(i)
	}
	const producers = 3
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Push(context.Background(), 10+p); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, "producers parked", func() bool { return r.prod.parked.Load() == producers })
	seq, n := r.Peek()
	if seq != 0 || n != 4 {
		t.Fatalf("Peek = %d, %d", seq, n)
	}
	r.Release(4) // one release, one signal: the woken producers pass it on
	wg.Wait()
	if r.Len() != producers {
		t.Fatalf("Len = %d, want %d", r.Len(), producers)
	}
}
