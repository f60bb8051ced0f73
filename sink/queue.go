package sink

import (
	"sync"
	"sync/atomic"
)

// queueShrinkCap is the capacity above which an emptied queue gives its
// ring back to the garbage collector.
const queueShrinkCap = 1024

// alertQueue is a destination's bounded FIFO between the dispatcher (the
// one producer) and the worker (the one consumer). Unlike a channel its
// ring grows by doubling as alerts arrive, up to limit, and is released
// once it drains, so a bound sized for a long outage (DefaultDestQueue)
// costs memory only while an outage lasts.
//
// Invariants: buf[head], ..., buf[(head+n-1) % len(buf)] are the queued
// alerts, oldest first, and every other slot is nil (so the queue keeps
// no delivered alert reachable); n <= limit. mu guards all of it; length
// mirrors n for Stats and publishes nothing else. ready and room hold at
// most one token each: a push leaves one in ready, a pop one in room, so
// a side that found the queue empty (or full) under mu and then waits on
// the channel cannot miss the other side's change.
type alertQueue struct {
	mu     sync.Mutex
	buf    []*Alert
	head   int
	n      int
	limit  int
	closed bool

	length atomic.Int64
	ready  chan struct{} // an alert was pushed, or the queue was closed
	room   chan struct{} // an alert was popped
}

func newAlertQueue(limit int) *alertQueue {
	return &alertQueue{limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// push appends a unless the queue is full (or closed); it reports whether
// it did.
func (q *alertQueue) push(a *Alert) bool {
	q.mu.Lock()
	if q.n >= q.limit || q.closed {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = a
	q.n++
	q.length.Store(int64(q.n))
	q.mu.Unlock()
	signal(q.ready)
	return true
}

// grow doubles the ring (a power of two, so indexes wrap with a mask).
func (q *alertQueue) grow() {
	c := max(2*len(q.buf), 64)
	nb := make([]*Alert, c)
	for i := range q.n {
		nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = nb, 0
}

// pop removes the oldest alert. ok is false when the queue is empty; closed
// then says whether it is closed too (nothing will come).
func (q *alertQueue) pop() (a *Alert, ok, closed bool) {
	q.mu.Lock()
	if q.n == 0 {
		closed = q.closed
		if cap(q.buf) > queueShrinkCap {
			q.buf, q.head = nil, 0
		}
		q.mu.Unlock()
		return nil, false, closed
	}
	i := q.head
	a = q.buf[i]
	q.buf[i] = nil
	q.head = (i + 1) & (len(q.buf) - 1)
	q.n--
	q.length.Store(int64(q.n))
	q.mu.Unlock()
	signal(q.room)
	return a, true, false
}

// close marks the end of the input; queued alerts can still be popped.
func (q *alertQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.ready)
}

// len returns the number of queued alerts, without the lock.
func (q *alertQueue) len() int { return int(q.length.Load()) }

// signal leaves a token in a one-slot channel unless one is there already.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
