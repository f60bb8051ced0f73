package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadline is a reusable context.Context that ends BackpressureTimeout after
// arm. The standard context.WithTimeout allocates a context and a timer per
// call; a blocked Publish or a worker blocked on a slow subscriber would then
// allocate on every wait. A deadline is armed and disarmed instead, and is
// thrown away only when it actually fires (its Done channel is closed then,
// and a closed channel cannot be reopened): a timeout, which is rare, counted,
// and already costs the caller BackpressureTimeout.
//
// Producers take deadlines from deadlinePool; each worker owns one.
type deadline struct {
	done  chan struct{}
	timer *time.Timer // runs fire; stopped while not armed
	when  time.Time
	fired atomic.Bool // set before done is closed
}

func newDeadline() *deadline {
	d := &deadline{done: make(chan struct{})}
	d.timer = time.AfterFunc(time.Hour, d.fire)
	d.timer.Stop()
	return d
}

func (d *deadline) fire() {
	d.fired.Store(true)
	close(d.done)
}

// arm starts the countdown. d must be unarmed and not fired.
func (d *deadline) arm(timeout time.Duration) {
	d.when = time.Now().Add(timeout)
	d.timer.Reset(timeout)
}

// disarm stops the countdown and reports whether d can be armed again
// (false: it fired, or is firing, and must be replaced).
func (d *deadline) disarm() bool { return d.timer.Stop() }

// Deadline returns when d fires.
func (d *deadline) Deadline() (time.Time, bool) { return d.when, true }

// Done is closed when d fires.
func (d *deadline) Done() <-chan struct{} { return d.done }

// Err returns context.DeadlineExceeded once d fired, else nil.
func (d *deadline) Err() error {
	if d.fired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// Value returns nil: a deadline carries no values.
func (d *deadline) Value(any) any { return nil }

// deadlinePool holds unarmed, unfired deadlines for blocked producers.
var deadlinePool = sync.Pool{New: func() any { return newDeadline() }}
