package clock

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bracket runs f between two real-time readings and returns them.
func bracket(f func()) (before, after uint64) {
	before = realNow()
	f()
	after = realNow()
	return before, after
}

func TestTimeMock(t *testing.T) {
	m := New()
	m.SetMock(1_000)
	if !m.IsMock() {
		t.Fatal("IsMock() = false after SetMock")
	}
	if got := m.Speed(); got != 0 {
		t.Fatalf("Speed() = %v after SetMock, want 0", got)
	}
	for range 3 {
		if got := m.NowMono(); got != 1_000 {
			t.Fatalf("NowMono() = %d, want 1000 (frozen)", got)
		}
		time.Sleep(time.Millisecond)
	}
	m.SetMock(5) // setting may move time backwards
	if got := m.NowMono(); got != 5 {
		t.Fatalf("NowMono() = %d after SetMock(5)", got)
	}
	m.SetMock(math.MaxUint64)
	if got := m.NowMono(); got != math.MaxUint64 {
		t.Fatalf("NowMono() = %d after SetMock(MaxUint64)", got)
	}

	var got uint64
	lo, hi := bracket(func() { m.SetReal(); got = m.NowMono() })
	if m.IsMock() || m.Speed() != 1 {
		t.Fatalf("after SetReal: IsMock() = %v, Speed() = %v", m.IsMock(), m.Speed())
	}
	if got < lo || got > hi {
		t.Fatalf("NowMono() = %d after SetReal, want real time in [%d, %d]", got, lo, hi)
	}
}

func TestTimeSpeedMultiplier(t *testing.T) {
	for _, speed := range []float64{10, 0.5, 1, 3.7} {
		m := New()
		m.SetMock(1_000_000)
		// The anchor lies in [a0, a1]; the read in [r0, r1]; so the mock
		// delta lies in [(r0-a1)*speed, (r1-a0)*speed]. Allow 2x beyond that
		// for float rounding and a noisy machine; the bounds hold whatever the
		// scheduler does.
		a0, a1 := bracket(func() {
			if err := m.SetSpeed(speed); err != nil {
				t.Fatal(err)
			}
		})
		time.Sleep(50 * time.Millisecond)
		var now uint64
		r0, r1 := bracket(func() { now = m.NowMono() })
		delta := float64(now - 1_000_000)
		lo, hi := float64(r0-a1)*speed/2, float64(r1-a0)*speed*2
		if delta < lo || delta > hi {
			t.Errorf("speed %v: mock advanced %.0f ns, want within [%.0f, %.0f]", speed, delta, lo, hi)
		}
		if got := m.Speed(); got != speed {
			t.Errorf("Speed() = %v, want %v", got, speed)
		}
		// At least 50ms of real time passed, so the mock delta is at least
		// roughly speed*50ms: a range check, never an exact instant.
		if floor := 50e6 * speed / 2; delta < floor {
			t.Errorf("speed %v: mock advanced %.0f ns, want >= %.0f", speed, delta, floor)
		}
	}
}

func TestTimeAdvancement(t *testing.T) {
	m := New()
	m.SetMock(0)
	steps := []struct {
		d    time.Duration
		want uint64
	}{
		{time.Second, 1e9},
		{500 * time.Millisecond, 1.5e9},
		{0, 1.5e9},
		{time.Nanosecond, 1.5e9 + 1},
	}
	for _, s := range steps {
		if err := m.Advance(s.d); err != nil {
			t.Fatalf("Advance(%v): %v", s.d, err)
		}
		if got := m.NowMono(); got != s.want {
			t.Fatalf("after Advance(%v): NowMono() = %d, want %d", s.d, got, s.want)
		}
	}
	if got := m.Speed(); got != 0 {
		t.Fatalf("Advance changed a frozen clock's speed to %v", got)
	}

	// Errors leave the clock unchanged.
	if err := m.Advance(-time.Second); !errors.Is(err, ErrNegativeDuration) {
		t.Fatalf("Advance(-1s) = %v, want ErrNegativeDuration", err)
	}
	m.SetMock(math.MaxUint64 - 10)
	if err := m.Advance(11); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Advance past MaxUint64 = %v, want ErrOverflow", err)
	}
	if err := m.Advance(10); err != nil {
		t.Fatalf("Advance to MaxUint64: %v", err)
	}
	if got := m.NowMono(); got != math.MaxUint64 {
		t.Fatalf("NowMono() = %d, want MaxUint64", got)
	}

	// Advance keeps a flowing clock's speed.
	m.SetMock(0)
	if err := m.SetSpeed(2); err != nil {
		t.Fatal(err)
	}
	before := m.NowMono()
	if err := m.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := m.NowMono(); got < before+uint64(time.Hour) || m.Speed() != 2 {
		t.Fatalf("after Advance(1h) at speed 2: NowMono() = %d (was %d), Speed() = %v", got, before, m.Speed())
	}
	m.SetMock(math.MaxUint64 - 10)
	if err := m.SetSpeed(1); err != nil {
		t.Fatal(err)
	}
	if err := m.Advance(time.Hour); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Advance past MaxUint64 while flowing = %v, want ErrOverflow", err)
	}
	if !m.IsMock() || m.Speed() != 1 {
		t.Fatal("failed Advance changed the clock")
	}
}

func TestAdvanceInRealMode(t *testing.T) {
	var m Manager
	lo := realNow()
	if err := m.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if !m.IsMock() || m.Speed() != 1 {
		t.Fatalf("after Advance in real mode: IsMock() = %v, Speed() = %v, want true, 1", m.IsMock(), m.Speed())
	}
	got := m.NowMono()
	if got < lo+uint64(time.Hour) {
		t.Fatalf("NowMono() = %d, want >= %d (real + 1h)", got, lo+uint64(time.Hour))
	}
	time.Sleep(2 * time.Millisecond)
	later := m.NowMono()
	if later-got < uint64(time.Millisecond) {
		t.Fatalf("clock stopped after Advance in real mode: %d then %d", got, later)
	}
}

func TestZeroValueIsRealAndMonotonic(t *testing.T) {
	var m Manager
	if m.IsMock() || m.Speed() != 1 {
		t.Fatalf("zero Manager: IsMock() = %v, Speed() = %v, want false, 1", m.IsMock(), m.Speed())
	}
	var got uint64
	lo, hi := bracket(func() { got = m.NowMono() })
	if got < lo || got > hi {
		t.Fatalf("zero Manager NowMono() = %d, want real time in [%d, %d]", got, lo, hi)
	}
	check := func(name string, c Clock) {
		t.Helper()
		prev := c.NowMono()
		for range 100_000 {
			now := c.NowMono()
			if now < prev {
				t.Fatalf("%s went backwards: %d then %d", name, prev, now)
			}
			prev = now
		}
	}
	check("Manager", &m)
	check("Real", Real{})
}

func TestFunc(t *testing.T) {
	if got := Func(nil).NowMono(); got != 0 {
		t.Fatalf("Func(nil).NowMono() = %d, want 0", got)
	}
	n := uint64(41)
	var c Clock = Func(func() uint64 { n++; return n })
	if got := c.NowMono(); got != 42 {
		t.Fatalf("Func.NowMono() = %d, want 42", got)
	}
}

func TestSetSpeedZeroFreezes(t *testing.T) {
	m := New()
	m.SetMock(0)
	if err := m.SetSpeed(1000); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if err := m.SetSpeed(0); err != nil {
		t.Fatal(err)
	}
	frozen := m.NowMono()
	if frozen == 0 {
		t.Fatal("mock time did not flow at speed 1000")
	}
	time.Sleep(2 * time.Millisecond)
	if got := m.NowMono(); got != frozen {
		t.Fatalf("NowMono() = %d after SetSpeed(0), want frozen at %d", got, frozen)
	}
	if err := m.SetSpeed(math.Copysign(0, -1)); err != nil {
		t.Fatalf("SetSpeed(-0) = %v, want nil (same as 0)", err)
	}
	if got := m.NowMono(); got != frozen {
		t.Fatalf("NowMono() = %d after SetSpeed(-0), want %d", got, frozen)
	}

	// From real mode, SetSpeed(0) freezes at the current real time.
	var r Manager
	var err error
	lo, hi := bracket(func() { err = r.SetSpeed(0) })
	if err != nil {
		t.Fatal(err)
	}
	got := r.NowMono()
	if !r.IsMock() || got < lo || got > hi {
		t.Fatalf("SetSpeed(0) in real mode: IsMock() = %v, NowMono() = %d, want frozen in [%d, %d]", r.IsMock(), got, lo, hi)
	}
}

func TestSetSpeedInvalid(t *testing.T) {
	m := New()
	m.SetMock(7)
	f := func(speed float64) {
		t.Helper()
		if err := m.SetSpeed(speed); !errors.Is(err, ErrInvalidSpeed) {
			t.Errorf("SetSpeed(%v) = %v, want ErrInvalidSpeed", speed, err)
		}
		if m.NowMono() != 7 || m.Speed() != 0 {
			t.Errorf("SetSpeed(%v) changed the clock", speed)
		}
	}
	f(-1)
	f(-math.SmallestNonzeroFloat64)
	f(math.NaN())
	f(math.Inf(1))
	f(math.Inf(-1))

	var r Manager
	if err := r.SetSpeed(-2); !errors.Is(err, ErrInvalidSpeed) || r.IsMock() {
		t.Errorf("SetSpeed(-2) in real mode = %v, IsMock() = %v; want ErrInvalidSpeed, false", err, r.IsMock())
	}
}

func TestSetSpeedNeverGoesBackwards(t *testing.T) {
	m := New()
	m.SetMock(1e9)
	prev := m.NowMono()
	for i, speed := range []float64{100, 0.01, 50, 0, 1, 1e-9, 1e6, 0.5, 1} {
		if err := m.SetSpeed(speed); err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			now := m.NowMono()
			if now < prev {
				t.Fatalf("step %d (speed %v): time went backwards from %d to %d", i, speed, prev, now)
			}
			prev = now
		}
	}
}

func TestStateSaturates(t *testing.T) {
	f := func(s state, r, want uint64) {
		t.Helper()
		if got := s.at(r); got != want {
			t.Errorf("%+v.at(%d) = %d, want %d", s, r, got, want)
		}
	}
	const max = math.MaxUint64
	f(state{base: 10, anchor: 100, speed: 2}, 50, 10) // before the anchor: clamp
	f(state{base: 10, anchor: 100, speed: 2}, 100, 10)
	f(state{base: 10, anchor: 100, speed: 2}, 150, 110)
	f(state{base: 10, anchor: 100, speed: 0.5}, 150, 35)
	f(state{base: 10, anchor: 100, speed: 0}, 1e18, 10)
	f(state{base: max - 5, speed: 1}, 5, max)
	f(state{base: max - 5, speed: 1}, 6, max)
	f(state{base: max - 5, speed: 2}, 10, max)
	f(state{base: 0, speed: 1e300}, 1, max)
	f(state{base: 0, speed: math.MaxFloat64}, 1e18, max) // product is +Inf
	f(state{base: 1, speed: 4}, 1<<62, max)              // product is 2^64 exactly
	f(state{base: 0, speed: 3}, 1<<62, 3<<62)

	// Speed that overflows in a live Manager stops at MaxUint64.
	m := New()
	m.SetMock(max - 1_000)
	if err := m.SetSpeed(1e12); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if got := m.NowMono(); got != max {
		t.Fatalf("NowMono() = %d, want saturated MaxUint64", got)
	}
}

// TestConcurrentReaders runs readers against a writer that changes speed and
// advances: each reader must see time only move forward. Run it with -race.
func TestConcurrentReaders(t *testing.T) {
	m := New()
	m.SetMock(1e9)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := m.NowMono()
			for !stop.Load() {
				now := m.NowMono()
				if now < prev {
					t.Errorf("reader saw %d then %d", prev, now)
					return
				}
				prev = now
				_, _ = m.IsMock(), m.Speed()
			}
		}()
	}
	speeds := []float64{10, 0.001, 1000, 0, 1, 3.5, 0.25}
	// Bounded by time too: on a loaded machine the readers may starve the
	// writer, and fewer iterations still exercise every transition.
	deadline := time.Now().Add(500 * time.Millisecond)
	for i := 0; i < 3000 && time.Now().Before(deadline); i++ {
		var err error
		if i%5 == 4 {
			err = m.Advance(time.Duration(i))
		} else {
			err = m.SetSpeed(speeds[i%len(speeds)])
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%64 == 0 {
			time.Sleep(10 * time.Microsecond)
		}
	}
	stop.Store(true)
	wg.Wait()

	// Mode switches may move time backwards by design; readers must still
	// see consistent states (the race detector checks that).
	stop.Store(false)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				_ = m.NowMono()
			}
		}()
	}
	for i := range 1000 {
		switch i % 4 {
		case 0:
			m.SetMock(uint64(i))
		case 1:
			_ = m.SetSpeed(2)
		case 2:
			m.SetReal()
		case 3:
			_ = m.Advance(time.Millisecond)
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestNowMonoNoAlloc(t *testing.T) {
	speedy := New()
	speedy.SetMock(0)
	if err := speedy.SetSpeed(3); err != nil {
		t.Fatal(err)
	}
	frozen := New()
	frozen.SetMock(42)
	for _, tc := range []struct {
		name string
		c    Clock
	}{
		{"Real", Real{}},
		{"Func", Func(func() uint64 { return 1 })},
		{"ManagerReal", new(Manager)},
		{"ManagerMock", frozen},
		{"ManagerMockSpeed", speedy},
	} {
		if n := testing.AllocsPerRun(1000, func() { _ = tc.c.NowMono() }); n != 0 {
			t.Errorf("%s: NowMono allocates %v times per call, want 0", tc.name, n)
		}
	}
}

// Replay sets the frozen mock time once per event: that must not allocate.
func TestSetMockNoAlloc(t *testing.T) {
	m := New()
	var ts uint64
	if n := testing.AllocsPerRun(1000, func() {
		ts += 7
		m.SetMock(ts)
		if err := m.Advance(3); err != nil {
			t.Fatal(err)
		}
		if err := m.SetSpeed(0); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("SetMock+Advance+SetSpeed(0) frozen: %v allocs, want 0", n)
	}
	if got := m.NowMono(); got != ts+3 {
		t.Errorf("NowMono = %d, want %d", got, ts+3)
	}
	if m.Speed() != 0 || !m.IsMock() {
		t.Errorf("speed %v mock %v", m.Speed(), m.IsMock())
	}
}
