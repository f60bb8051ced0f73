package clock

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Invariants:
//
//   - m.st is nil in real mode. In mock mode it points to a state that is never
//     modified after it is stored, so a reader sees all of a state or none of
//     it (the atomic Store/Load pair is the happens-before edge), or to the
//     marker &frozen, which means the time is frozen at m.frozenAt. Frozen
//     time is the mode replay drives once per event, so setting and advancing
//     it allocate nothing: a writer stores m.frozenAt, then &frozen. A reader
//     that loads &frozen reads m.frozenAt next, so it returns the value of a
//     SetMock or Advance that is at least as recent as the one whose marker it
//     saw.
//   - Only a goroutine holding m.mu stores to m.st.
//   - A reader of a frozen state (speed 0) returns its base without reading
//     real time. Any other reader reads real time first and loads m.st
//     second. A writer whose new state depends on the current mock time
//     (Advance, SetSpeed) first stores &publishing, then reads real time a,
//     then stores a state anchored at a whose base is the old state's value
//     at a. So a reader that loaded the
//     old state read its real time before &publishing was stored, hence before
//     a, and returned at most that base; a reader that loads the new state
//     returns at least that base (times before the anchor clamp to it). Mock
//     time therefore never goes backwards across a speed change, even one that
//     races with readers. A reader that loads &publishing waits (yielding) for
//     the writer's next store, a few tens of nanoseconds away.
//   - A state's value is monotonic in real time: speed >= 0, and the
//     float product and its conversion are monotonic, saturating at
//     math.MaxUint64 rather than wrapping.

// state is one immutable mock-mode configuration: the time is
// base + (realNow - anchor) * speed, saturating at math.MaxUint64. Frozen
// time (speed 0) is never a state of its own but the marker frozen, so every
// other state flows (speed > 0).
type state struct {
	base   uint64  // mock nanoseconds at anchor
	anchor uint64  // real nanoseconds (realNow) when base was taken
	speed  float64 // mock nanoseconds per real nanosecond; finite, > 0 (0 only in the frozen marker)
}

// publishing is stored in Manager.st while a writer computes a state from the
// current mock time; readers that see it wait for the real one.
var publishing state

// frozen is stored in Manager.st while mock time is frozen (speed 0); the
// time is then Manager.frozenAt.
var frozen state

// at returns the mock time at real time r.
func (s *state) at(r uint64) uint64 {
	if r <= s.anchor {
		return s.base
	}
	el := r - s.anchor
	if s.speed == 1 {
		return addSat(s.base, el) // exact, and no float conversion
	}
	d := float64(el) * s.speed
	if d >= 1<<64 { // also catches +Inf from a huge speed
		return math.MaxUint64
	}
	return addSat(s.base, uint64(d))
}

// addSat returns a+b, or math.MaxUint64 if that overflows.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

// Manager is a [Clock] that reads either real time or a mock time that tests
// and replay control. It is safe for concurrent use: NowMono, IsMock and Speed
// may be called from any number of goroutines while another calls the
// setters.
//
// The zero value is ready to use and in real mode, reading the same time as
// [Real]. A Manager must not be copied after first use.
//
// In mock mode the time is frozen (speed 0) or flows at a multiple of real
// time; it moves only forward except through SetMock (which may set any time)
// and SetReal (which returns to real time wherever mock time was).
type Manager struct {
	// st is the published mock state, nil in real mode. Loaded by every
	// NowMono; stored only under mu, rarely, so it does not need a cache line
	// of its own.
	st atomic.Pointer[state]
	// frozenAt is the frozen mock time while st is &frozen. Stored only
	// under mu, before st publishes &frozen.
	frozenAt atomic.Uint64
	mu       sync.Mutex // serialises writers
}

// New returns a Manager in real mode. It is equivalent to new(Manager).
func New() *Manager { return new(Manager) }

// NowMono returns the current time in nanoseconds: real monotonic time since
// this package was initialised in real mode, mock time in mock mode. It takes
// no lock and allocates nothing; a frozen mock time is returned without
// reading the real clock.
func (m *Manager) NowMono() uint64 {
	if m.st.Load() == &frozen {
		return m.frozenAt.Load() // the value does not depend on real time
	}
	return m.nowFlowing()
}

// nowFlowing reads the time when it depends on real time (real mode or a
// speed above 0).
func (m *Manager) nowFlowing() uint64 {
	r := realNow() // before the load; see Invariants
	s := m.st.Load()
	if s == nil {
		return r
	}
	if s == &publishing {
		return m.nowSlow()
	}
	return m.valueAt(s, r)
}

// valueAt returns the time state s gives at real time r (s is not nil and
// not &publishing).
func (m *Manager) valueAt(s *state, r uint64) uint64 {
	if s == &frozen {
		return m.frozenAt.Load()
	}
	return s.at(r)
}

// nowSlow waits for a writer to finish publishing, then reads the time.
func (m *Manager) nowSlow() uint64 {
	for {
		runtime.Gosched()
		r := realNow()
		s := m.st.Load()
		if s == nil {
			return r
		}
		if s != &publishing {
			return m.valueAt(s, r)
		}
	}
}

// settled returns the published state (nil in real mode), waiting out a
// writer that is publishing.
func (m *Manager) settled() *state {
	s := m.st.Load()
	for s == &publishing {
		runtime.Gosched()
		s = m.st.Load()
	}
	return s
}

// IsMock reports whether the Manager is in mock mode. The zero value reports
// false.
func (m *Manager) IsMock() bool { return m.st.Load() != nil }

// Speed returns how many mock nanoseconds pass per real nanosecond: 1 in real
// mode (including the zero value), 0 when mock time is frozen.
func (m *Manager) Speed() float64 {
	s := m.settled()
	if s == nil {
		return 1
	}
	return s.speed
}

// SetMock switches to mock mode with the time frozen at t nanoseconds (speed
// 0). t may be earlier than the current time: setting the time is the one way
// to move it backwards.
//
// It allocates nothing and takes an uncontended lock, so a replay may call
// it for every event.
func (m *Manager) SetMock(t uint64) {
	m.mu.Lock()
	m.frozenAt.Store(t)
	m.st.Store(&frozen)
	m.mu.Unlock()
}

// SetReal switches to real mode. The time jumps to real time, which may be
// earlier than the mock time it replaces. In real mode it does nothing.
func (m *Manager) SetReal() {
	m.mu.Lock()
	m.st.Store(nil)
	m.mu.Unlock()
}

// Advance moves the time forward by d and keeps the rate at which it flows:
// a frozen mock time stays frozen at the later time, a flowing one keeps its
// speed. In real mode, Advance switches to mock mode at the current real time
// plus d, flowing at speed 1, so the clock keeps running, d ahead of real
// time, until SetReal.
//
// A negative d returns an error matching [ErrNegativeDuration], and a time
// past math.MaxUint64 nanoseconds one matching [ErrOverflow]; in both cases
// the clock is unchanged.
func (m *Manager) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: Advance(%v)", ErrNegativeDuration, d)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.st.Load()
	speed := 1.0
	if old != nil {
		speed = old.speed
	}
	if old == &frozen {
		// Frozen: the new time does not depend on real time, so there is
		// nothing for a reader to race with, and nothing to allocate.
		base := m.frozenAt.Load()
		t := base + uint64(d)
		if t < base {
			return fmt.Errorf("%w: %d + %v", ErrOverflow, base, d)
		}
		m.frozenAt.Store(t)
		return nil
	}
	next := &state{speed: speed}
	m.st.Store(&publishing)
	a := realNow()
	cur := a
	if old != nil {
		cur = old.at(a)
	}
	t := cur + uint64(d)
	if t < cur {
		m.st.Store(old)
		return fmt.Errorf("%w: %d + %v", ErrOverflow, cur, d)
	}
	next.base, next.anchor = t, a
	m.st.Store(next)
	return nil
}

// SetSpeed makes time flow at mult times real time from now on, starting from
// the current time, so the time does not jump: 0 freezes it, 1 runs at real
// rate, 10 ten times faster. In real mode it switches to mock mode at the
// current real time. A negative, NaN or infinite mult returns an error
// matching [ErrInvalidSpeed] and leaves the clock unchanged.
//
// A mock time that flows faster than uint64 nanoseconds can hold stops at
// math.MaxUint64.
func (m *Manager) SetSpeed(mult float64) error {
	if !(mult >= 0) || math.IsInf(mult, 1) { // !(>=) also rejects NaN
		return fmt.Errorf("%w: %v", ErrInvalidSpeed, mult)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.st.Load()
	if mult == 0 { // freeze at the current time
		if old != &frozen {
			m.st.Store(&publishing)
			a := realNow()
			cur := a
			if old != nil {
				cur = old.at(a)
			}
			m.frozenAt.Store(cur)
			m.st.Store(&frozen)
		}
		return nil
	}
	next := &state{speed: mult}
	m.st.Store(&publishing)
	a := realNow()
	next.base, next.anchor = a, a
	if old != nil {
		next.base = m.valueAt(old, a)
	}
	m.st.Store(next)
	return nil
}
