package ring

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// api is the surface SPSC and MPSC share; the tests below run on both.
type api[T any] interface {
	Cap() int
	Len() int
	TryPush(v T) bool
	Push(ctx context.Context, v T) error
	TryReserve(n int) (seq uint64, got int)
	Reserve(ctx context.Context, n int) (seq uint64, got int, err error)
	Slot(seq uint64) *T
	Commit(seq uint64, n int)
	TryPop() (v T, ok bool)
	Pop(ctx context.Context) (T, error)
	TryPopBatch(dst []T) int
	Peek() (seq uint64, n int)
	WaitRead(ctx context.Context) (seq uint64, n int, err error)
	Release(n int)
	Close()
	Closed() bool
}

var (
	_ api[int] = (*SPSC[int])(nil)
	_ api[int] = (*MPSC[int])(nil)
)

type kind struct {
	name string
	new  func(capacity int, w Wait) api[int]
}

var kinds = []kind{
	{"SPSC", func(c int, w Wait) api[int] { return NewSPSC[int](c, w) }},
	{"MPSC", func(c int, w Wait) api[int] { return NewMPSC[int](c, w) }},
}

// forKinds runs f as a subtest per ring kind.
func forKinds(t *testing.T, f func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// parkNow parks at once: the tests that block exercise the park path.
var parkNow = Wait{Spin: -1, Yield: -1}

func TestCapacityRounding(t *testing.T) {
	f := func(in, want int) {
		t.Helper()
		if got := NewSPSC[int](in, Wait{}).Cap(); got != want {
			t.Errorf("NewSPSC(%d).Cap() = %d, want %d", in, got, want)
		}
		if got := NewMPSC[int](in, Wait{}).Cap(); got != want {
			t.Errorf("NewMPSC(%d).Cap() = %d, want %d", in, got, want)
		}
	}
	f(-5, 2)
	f(0, 2)
	f(1, 2)
	f(2, 2)
	f(3, 4)
	f(4, 4)
	f(5, 8)
	f(1000, 1024)
	f(1024, 1024)
	f(1025, 2048)
	if got := roundCap(1<<40 + 1); got != MaxCapacity {
		t.Errorf("roundCap(huge) = %d, want MaxCapacity", got)
	}
}

func TestFullEmptyWrap(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(4, Wait{})
		if _, ok := r.TryPop(); ok {
			t.Fatal("TryPop on a new ring reported a value")
		}
		if _, n := r.Peek(); n != 0 {
			t.Fatalf("Peek on a new ring = %d slots", n)
		}
		next, want := 0, 0
		// Many laps with the fill level moving, so every slot index is
		// written at every phase of the cursor.
		for lap := range 50 {
			fill := 1 + lap%4
			for range fill {
				if !r.TryPush(next) {
					t.Fatalf("lap %d: TryPush(%d) refused with Len %d", lap, next, r.Len())
				}
				next++
			}
			if r.Len() != fill {
				t.Fatalf("lap %d: Len = %d, want %d", lap, r.Len(), fill)
			}
			if fill == 4 && r.TryPush(-1) {
				t.Fatalf("lap %d: TryPush into a full ring succeeded", lap)
			}
			for range fill {
				v, ok := r.TryPop()
				if !ok || v != want {
					t.Fatalf("lap %d: TryPop = %d, %v, want %d", lap, v, ok, want)
				}
				want++
			}
			if _, ok := r.TryPop(); ok {
				t.Fatalf("lap %d: TryPop on an empty ring reported a value", lap)
			}
			if r.Len() != 0 {
				t.Fatalf("lap %d: Len = %d on an empty ring", lap, r.Len())
			}
		}
	})
}

func TestReserveAcrossWrap(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(8, Wait{})
		for i := range 5 { // move both cursors to 5
			r.TryPush(i)
			r.TryPop()
		}
		seq, got := r.TryReserve(6) // slots 5,6,7,0,1,2
		if seq != 5 || got != 6 {
			t.Fatalf("TryReserve(6) = %d, %d, want 5, 6", seq, got)
		}
		for i := range got {
			*r.Slot(seq + uint64(i)) = 100 + i
		}
		if _, n := r.Peek(); n != 0 {
			t.Fatalf("Peek before Commit = %d slots", n)
		}
		r.Commit(seq, got)
		// Only 2 slots left: a request for 5 gets 2, the next gets none.
		seq2, got2 := r.TryReserve(5)
		if seq2 != 11 || got2 != 2 {
			t.Fatalf("TryReserve(5) on 2 free = %d, %d, want 11, 2", seq2, got2)
		}
		if _, got := r.TryReserve(1); got != 0 {
			t.Fatalf("TryReserve on a full ring got %d", got)
		}
		*r.Slot(seq2) = 106
		*r.Slot(seq2 + 1) = 107
		r.Commit(seq2, got2)
		if r.Len() != 8 {
			t.Fatalf("Len = %d, want 8", r.Len())
		}
		s, n := r.Peek()
		if s != 5 || n != 8 {
			t.Fatalf("Peek = %d, %d, want 5, 8", s, n)
		}
		for i := range n {
			if v := *r.Slot(s + uint64(i)); v != 100+i {
				t.Fatalf("slot %d = %d, want %d", s+uint64(i), v, 100+i)
			}
		}
		r.Release(3)
		if s, n = r.Peek(); s != 8 || n != 5 {
			t.Fatalf("Peek after Release(3) = %d, %d, want 8, 5", s, n)
		}
		r.Release(100) // clamped to the 5 readable
		if s, n = r.Peek(); s != 13 || n != 0 {
			t.Fatalf("Peek after releasing all = %d, %d, want 13, 0", s, n)
		}
		if r.Len() != 0 {
			t.Fatalf("Len = %d, want 0", r.Len())
		}
	})
}

func TestReserveEdges(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(4, Wait{})
		if _, got := r.TryReserve(0); got != 0 {
			t.Errorf("TryReserve(0) got %d", got)
		}
		if _, got := r.TryReserve(-3); got != 0 {
			t.Errorf("TryReserve(-3) got %d", got)
		}
		if _, got, err := r.Reserve(context.Background(), 0); got != 0 || err != nil {
			t.Errorf("Reserve(0) = %d, %v", got, err)
		}
		seq, got := r.TryReserve(1 << 40)
		if seq != 0 || got != 4 {
			t.Errorf("TryReserve(huge) = %d, %d, want 0, 4", seq, got)
		}
		r.Commit(seq, 0) // no-op
		r.Commit(seq, got)
		r.Release(-1) // no-op
		r.Release(0)
		if s, n := r.Peek(); s != 0 || n != 4 {
			t.Errorf("Peek = %d, %d, want 0, 4", s, n)
		}
	})
}

func TestTryPopBatch(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(8, Wait{})
		dst := make([]int, 5)
		if n := r.TryPopBatch(dst); n != 0 {
			t.Fatalf("TryPopBatch on empty = %d", n)
		}
		next, want := 0, 0
		for round := range 20 {
			for r.TryPush(next) {
				next++
			}
			for {
				n := r.TryPopBatch(dst[:1+round%5])
				if n == 0 {
					break
				}
				for _, v := range dst[:n] {
					if v != want {
						t.Fatalf("round %d: got %d, want %d", round, v, want)
					}
					want++
				}
			}
		}
		if want != next || next < 100 {
			t.Fatalf("popped %d of %d", want, next)
		}
		if n := r.TryPopBatch(nil); n != 0 {
			t.Fatalf("TryPopBatch(nil) = %d", n)
		}
	})
}

func TestCloseSemantics(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		r := k.new(4, Wait{})
		r.TryPush(1)
		seq, got := r.TryReserve(2) // reserved before the close
		if got != 2 {
			t.Fatalf("TryReserve(2) got %d", got)
		}
		if r.Closed() {
			t.Fatal("Closed before Close")
		}
		r.Close()
		r.Close() // idempotent
		if !r.Closed() {
			t.Fatal("not Closed after Close")
		}
		if r.TryPush(9) {
			t.Error("TryPush after Close succeeded")
		}
		if err := r.Push(ctx, 9); !errors.Is(err, ErrClosed) {
			t.Errorf("Push after Close = %v, want ErrClosed", err)
		}
		if _, got := r.TryReserve(1); got != 0 {
			t.Errorf("TryReserve after Close got %d", got)
		}
		if _, _, err := r.Reserve(ctx, 1); !errors.Is(err, ErrClosed) {
			t.Errorf("Reserve after Close = %v, want ErrClosed", err)
		}
		// The value pushed before the close drains.
		if v, err := r.Pop(ctx); v != 1 || err != nil {
			t.Fatalf("Pop = %d, %v, want 1", v, err)
		}
		// The reservation made before the close is still awaited: nothing
		// to read, and yet not drained.
		if _, ok := r.TryPop(); ok {
			t.Fatal("TryPop read an uncommitted slot")
		}
		res := make(chan error, 1)
		go func() {
			s, n, err := r.WaitRead(ctx)
			if err == nil && (s != seq || n != 2 || *r.Slot(s) != 2 || *r.Slot(s + 1) != 3) {
				err = errors.New("wrong run")
			}
			res <- err
		}()
		*r.Slot(seq) = 2
		*r.Slot(seq + 1) = 3
		r.Commit(seq, got)
		if err := <-res; err != nil {
			t.Fatalf("WaitRead after the late commit: %v", err)
		}
		r.Release(2)
		if _, err := r.Pop(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("Pop on a closed, drained ring = %v, want ErrClosed", err)
		}
		if _, _, err := r.WaitRead(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("WaitRead on a closed, drained ring = %v, want ErrClosed", err)
		}
	})
}

// TestCloseWakesParkedConsumer: a consumer parked on an empty ring returns
// ErrClosed when the ring is closed.
func TestCloseWakesParkedConsumer(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(4, parkNow)
		res := make(chan error, 1)
		go func() {
			_, err := r.Pop(context.Background())
			res <- err
		}()
		waitParked(t, r, false)
		r.Close()
		if err := <-res; !errors.Is(err, ErrClosed) {
			t.Fatalf("parked Pop after Close = %v, want ErrClosed", err)
		}
	})
}

func TestBlockingPushPop(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		for _, w := range []Wait{{}, parkNow, {Spin: 3, Yield: -1}, {Spin: -1, Yield: 3}} {
			r := k.new(2, w)
			const n = 2000
			done := make(chan error, 1)
			go func() {
				for i := range n {
					if err := r.Push(context.Background(), i); err != nil {
						done <- err
						return
					}
				}
				r.Close()
				done <- nil
			}()
			for i := 0; ; i++ {
				v, err := r.Pop(context.Background())
				if errors.Is(err, ErrClosed) {
					if i != n {
						t.Fatalf("%+v: ErrClosed after %d values, want %d", w, i, n)
					}
					break
				}
				if err != nil || v != i {
					t.Fatalf("%+v: Pop = %d, %v, want %d", w, v, err, i)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("%+v: Push: %v", w, err)
			}
		}
	})
}

func TestContextCancel(t *testing.T) {
	forKinds(t, func(t *testing.T, k kind) {
		r := k.new(2, parkNow)
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		// Empty: the consumer side gives up with ctx's error.
		if _, err := r.Pop(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("Pop(cancelled) on empty = %v", err)
		}
		if _, _, err := r.WaitRead(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitRead(cancelled) on empty = %v", err)
		}
		// Room: a cancelled ctx does not stop an operation that can go on.
		if err := r.Push(cancelled, 1); err != nil {
			t.Errorf("Push(cancelled) with room = %v", err)
		}
		r.TryPush(2)
		// Full: the producer side gives up with ctx's error.
		if err := r.Push(cancelled, 3); !errors.Is(err, context.Canceled) {
			t.Errorf("Push(cancelled) on full = %v", err)
		}
		if _, _, err := r.Reserve(cancelled, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Reserve(cancelled) on full = %v", err)
		}

		// A producer parked on a full ring returns when its ctx ends.
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() { res <- r.Push(ctx, 3) }()
		waitParked(t, r, true)
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("parked Push after cancel = %v", err)
		}
		// And a parked consumer.
		r.TryPop()
		r.TryPop()
		ctx, cancel = context.WithCancel(context.Background())
		go func() { _, err := r.Pop(ctx); res <- err }()
		waitParked(t, r, false)
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("parked Pop after cancel = %v", err)
		}
		// The ring still works: nothing was half-done.
		if !r.TryPush(7) {
			t.Fatal("TryPush after cancelled waits failed")
		}
		if v, ok := r.TryPop(); !ok || v != 7 {
			t.Fatalf("TryPop = %d, %v", v, ok)
		}
	})
}

// TestCloseReleasesBlockedProducers: producers parked on a full ring return
// ErrClosed when it closes; what was in stays and drains; no goroutine is
// left behind (goleak in TestMain).
func TestCloseReleasesBlockedProducers(t *testing.T) {
	r := NewMPSC[int](4, parkNow)
	for i := range 4 {
		r.TryPush(i)
	}
	const blocked = 6
	var wg sync.WaitGroup
	errs := make(chan error, blocked)
	for i := range blocked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs <- r.Push(context.Background(), 100+i)
			} else {
				_, _, err := r.Reserve(context.Background(), 3)
				errs <- err
			}
		}()
	}
	waitFor(t, "producers parked", func() bool { return r.prod.parked.Load() == blocked })
	r.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked producer got %v, want ErrClosed", err)
		}
	}
	for i := range 4 {
		if v, err := r.Pop(context.Background()); v != i || err != nil {
			t.Fatalf("Pop = %d, %v, want %d", v, err, i)
		}
	}
	if _, err := r.Pop(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pop after drain = %v", err)
	}

	s := NewSPSC[int](2, parkNow)
	s.TryPush(1)
	s.TryPush(2)
	res := make(chan error, 1)
	go func() { res <- s.Push(context.Background(), 3) }()
	waitFor(t, "producer parked", func() bool { return s.prod.parked.Load() == 1 })
	s.Close()
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked SPSC producer got %v", err)
	}
}

// waitParked waits (without a clock) until a goroutine is parked on r's
// producer side (prod) or consumer side.
func waitParked(t *testing.T, r api[int], prod bool) {
	t.Helper()
	var w *waker
	switch r := r.(type) {
	case *SPSC[int]:
		w = &r.cons
		if prod {
			w = &r.prod
		}
	case *MPSC[int]:
		w = r.cons
		if prod {
			w = &r.prod
		}
	}
	waitFor(t, "a parked waiter", func() bool { return w.parked.Load() != 0 })
}

// waitFor yields until cond holds, and fails the test if it does not within
// a bound counted in yields, not time (a hang instead of a failure would
// cost the whole test binary's timeout).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 20_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestWaitValidate(t *testing.T) {
	f := func(w Wait, ok bool) {
		t.Helper()
		err := w.Validate()
		if (err == nil) != ok {
			t.Errorf("%+v.Validate() = %v", w, err)
		}
		if err != nil && !errors.Is(err, ErrBadWait) {
			t.Errorf("%+v.Validate() = %v, does not match ErrBadWait", w, err)
		}
	}
	f(Wait{}, true)
	f(Wait{Spin: -1, Yield: -1}, true)
	f(Wait{Spin: MaxSpin, Yield: MaxYield}, true)
	f(Wait{Spin: MaxSpin + 1}, false)
	f(Wait{Yield: MaxYield + 1}, false)
	if got := (Wait{Yield: MaxYield + 1}).Validate().Error(); got != "ring: invalid wait strategy: Yield 65537 above maximum 65536" {
		t.Errorf("error text %q", got)
	}

	g := func(w Wait, spin, yieldEnd int) {
		t.Helper()
		if s, y := w.normalize(); s != spin || y != yieldEnd {
			t.Errorf("%+v.normalize() = %d, %d, want %d, %d", w, s, y, spin, yieldEnd)
		}
	}
	g(Wait{}, DefaultSpin, DefaultSpin+DefaultYield)
	g(Wait{Spin: -1, Yield: -7}, 0, 0)
	g(Wait{Spin: 5, Yield: 2}, 5, 7)
	g(Wait{Spin: 1 << 40, Yield: 1 << 40}, MaxSpin, MaxSpin+MaxYield)
}

// TestZeroAllocs: the non-blocking operations allocate nothing.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	type ev struct {
		a, b uint64
		p    *int
	}
	x := 1
	v := ev{1, 2, &x}
	dst := make([]ev, 8)
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
	s := NewSPSC[ev](64, Wait{})
	m := NewMPSC[ev](64, Wait{})
	ctx := context.Background()
	check("SPSC TryPush+TryPop", func() { s.TryPush(v); s.TryPop() })
	check("MPSC TryPush+TryPop", func() { m.TryPush(v); m.TryPop() })
	check("SPSC Push+Pop", func() { _ = s.Push(ctx, v); _, _ = s.Pop(ctx) })
	check("MPSC Push+Pop", func() { _ = m.Push(ctx, v); _, _ = m.Pop(ctx) })
	check("SPSC TryReserve+Commit+Peek+Release", func() {
		seq, got := s.TryReserve(8)
		for i := range got {
			*s.Slot(seq + uint64(i)) = v
		}
		s.Commit(seq, got)
		_, n := s.Peek()
		s.Release(n)
	})
	check("MPSC TryReserve+Commit+Peek+Release", func() {
		seq, got := m.TryReserve(8)
		for i := range got {
			*m.Slot(seq + uint64(i)) = v
		}
		m.Commit(seq, got)
		_, n := m.Peek()
		m.Release(n)
	})
	check("SPSC Reserve+WaitRead", func() {
		seq, got, _ := s.Reserve(ctx, 8)
		s.Commit(seq, got)
		_, n, _ := s.WaitRead(ctx)
		s.Release(n)
	})
	check("MPSC Reserve+WaitRead", func() {
		seq, got, _ := m.Reserve(ctx, 8)
		m.Commit(seq, got)
		_, n, _ := m.WaitRead(ctx)
		m.Release(n)
	})
	check("SPSC TryPopBatch", func() {
		for range 5 {
			s.TryPush(v)
		}
		s.TryPopBatch(dst)
	})
	check("MPSC TryPopBatch", func() {
		for range 5 {
			m.TryPush(v)
		}
		m.TryPopBatch(dst)
	})
}

func TestLowLatencyWait(t *testing.T) {
	w := LowLatency()
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	if spin, yieldEnd := w.normalize(); spin != MaxSpin/2 || yieldEnd != spin {
		t.Errorf("LowLatency normalizes to spin %d, yield end %d", spin, yieldEnd)
	}
}

// TestOneProcYields checks that with GOMAXPROCS 1 a waiter yields where it
// would spin (phases turns the spin rounds into yields, and back with more
// Ps), and that a ping-pong between LowLatency waiters on the only P works.
// The speed is the harness's to show (kestrel-bench's latency scenarios run
// there): a spinning waiter would hold the P for its whole spin at every
// hand-over, 0.3 ms here, against about a microsecond yielding; the
// deadline is only a failsafe.
func TestOneProcYields(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer func() { runtime.GOMAXPROCS(prev); refreshProcs() }()
	refreshProcs() // as the next park or ring would
	spin, yieldEnd := LowLatency().normalize()
	if s, y := phases(spin, yieldEnd); s != 0 || y != yieldEnd {
		t.Fatalf("GOMAXPROCS 1: phases(%d, %d) = %d, %d; want 0, %d", spin, yieldEnd, s, y, yieldEnd)
	}
	runtime.GOMAXPROCS(2)
	refreshProcs()
	if s, y := phases(spin, yieldEnd); s != spin || y != yieldEnd {
		t.Fatalf("GOMAXPROCS 2: phases(%d, %d) = %d, %d; want them unchanged", spin, yieldEnd, s, y)
	}
	runtime.GOMAXPROCS(1)

	ping := NewMPSC[int](2, LowLatency()) // a new ring sees GOMAXPROCS 1
	pong := NewSPSC[int](2, LowLatency())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const rounds = 2000
	done := make(chan error, 1)
	go func() {
		for range rounds {
			v, err := ping.Pop(ctx)
			if err != nil {
				done <- err
				return
			}
			if err := pong.Push(ctx, v+1); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range rounds {
		if err := ping.Push(ctx, i); err != nil {
			t.Fatalf("round %d: push: %v", i, err)
		}
		v, err := pong.Pop(ctx)
		if err != nil {
			t.Fatalf("round %d: pop: %v", i, err)
		}
		if v != i+1 {
			t.Fatalf("round %d: got %d", i, v)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// One consumer drains three rings that share a Notifier, parking on it
// between bursts: every value arrives once, each ring's in order, and the
// consumer stops when all three are closed and drained.
func TestNotifierManyRings(t *testing.T) {
	n := NewNotifier()
	rings := make([]*MPSC[int], 3)
	for i := range rings {
		rings[i] = NewMPSCNotify[int](4, Wait{Spin: -1, Yield: -1}, n) // park at once
	}
	const per = 3000
	var wg sync.WaitGroup
	for i, r := range rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range per {
				if err := r.Push(context.Background(), i*per+v); err != nil {
					t.Error(err)
					return
				}
				if v%500 == 0 {
					runtime.Gosched() // let the consumer park now and then
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		for _, r := range rings {
			r.Close()
		}
	}()

	next := make([]int, len(rings))
	ready := func() bool {
		for _, r := range rings {
			if _, k := r.Peek(); k > 0 || r.Drained() {
				return true
			}
		}
		return false
	}
	for {
		done := 0
		for i, r := range rings {
			seq, k := r.Peek()
			for j := range k {
				if v := *r.Slot(seq + uint64(j)); v != i*per+next[i] {
					t.Fatalf("ring %d: got %d, want %d", i, v, i*per+next[i])
				}
				next[i]++
			}
			r.Release(k)
			if k == 0 && r.Drained() {
				done++
			}
		}
		if done == len(rings) {
			break
		}
		if err := n.Wait(context.Background(), nil, ready); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range next {
		if k != per {
			t.Errorf("ring %d: %d values, want %d", i, k, per)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A fresh Notifier: n may hold a stale wake token, which is a valid
	// (spurious) wake-up.
	if err := NewNotifier().Wait(ctx, nil, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with an ended ctx: %v", err)
	}
}

// TestCursors checks Reserved and Released: reservations move the first,
// releases the second, and Close changes neither.
func TestCursors(t *testing.T) {
	r := NewMPSC[int](8, Wait{})
	if r.Reserved() != 0 || r.Released() != 0 {
		t.Fatalf("new ring: Reserved %d Released %d", r.Reserved(), r.Released())
	}
	seq, got := r.TryReserve(3)
	if got != 3 || r.Reserved() != 3 || r.Released() != 0 {
		t.Fatalf("after reserving 3: got %d, Reserved %d, Released %d", got, r.Reserved(), r.Released())
	}
	r.Commit(seq, got)
	if _, n := r.Peek(); n != 3 {
		t.Fatalf("Peek n = %d, want 3", n)
	}
	r.Release(2)
	r.Close()
	if r.Reserved() != 3 || r.Released() != 2 {
		t.Fatalf("after Release(2) and Close: Reserved %d, Released %d", r.Reserved(), r.Released())
	}
}
