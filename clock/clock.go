package clock

import "time"

// Clock is a source of monotonic time in nanoseconds. Successive calls from
// one goroutine never return a smaller value unless the clock is explicitly
// reset (for example [Manager.SetMock] to an earlier time, or
// [Manager.SetReal] after mock time ran ahead of real time).
//
// Implementations must be safe for concurrent use. A nil Clock is not
// usable; callers that want real time should pass [Real]{}.
type Clock interface {
	// NowMono returns the current monotonic time in nanoseconds.
	NowMono() uint64
}

// epoch is the base of real time: monotonic nanoseconds are measured from
// here. It carries a monotonic clock reading, so time.Since(epoch) reads
// only the monotonic clock, never the wall clock.
var epoch = time.Now()

// realNow returns real monotonic nanoseconds since epoch. It never goes
// backwards: the monotonic clock does not, and time.Since saturates rather
// than overflowing.
func realNow() uint64 {
	return uint64(time.Since(epoch))
}

// Real is the real monotonic clock: nanoseconds since this package was
// initialised. Its zero value is the only value and is ready to use; it holds
// no state, so it is safe for concurrent use and allocates nothing.
type Real struct{}

// NowMono returns real monotonic nanoseconds since this package was
// initialised. It never goes backwards.
func (Real) NowMono() uint64 { return realNow() }

// Func adapts a plain function to the [Clock] interface, mostly for tests:
// Func(f).NowMono() returns f(). The function must be safe for concurrent use
// if the Clock is shared. The zero value (nil) is a clock that always reads
// 0.
type Func func() uint64

// NowMono returns f(), or 0 if f is nil.
func (f Func) NowMono() uint64 {
	if f == nil {
		return 0
	}
	return f()
}

// Compile-time checks that each type is a Clock.
var (
	_ Clock = Real{}
	_ Clock = Func(nil)
	_ Clock = (*Manager)(nil)
)
