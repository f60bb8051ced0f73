package sink

import "sync/atomic"

// Recycler takes back alerts whose consumers are done with them, so that
// their producer can build later alerts in the same memory instead of
// allocating it anew. A producer that reuses its alerts gives each one a
// Recycler with SetRecycler before Emit; a consumer (an Output, or an
// Emitter of your own) calls Release once it is done with the alert.
//
// The protocol, for an alert with a Recycler handed to Output.Emit:
//
//   - The Output counts the destinations an alert is routed to; each one
//     is done with it when it has settled it: delivered (Send returned),
//     rejected, dropped (queue overflow, retries exhausted, Close giving
//     up). An alert deduplicated away or unrouted is done at once.
//   - When the last one is done, the Output calls Recycle, from whichever
//     of its goroutines that was. The alert has been read for the last
//     time: nothing of the Output or of its destinations keeps a
//     reference to it or to the memory its fields reference (dedup keeps
//     hashes of keys, destinations encode alerts during Send).
//   - Alerts the Output never settles (held by a Send that ignores Close's
//     ctx and never returns) are never recycled; the garbage collector
//     frees them like any other.
//
// An alert without a Recycler (the zero value) works as it always has:
// Release does nothing and the garbage collector frees it.
type Recycler interface {
	// Recycle takes a back: a and the memory it references belong to the
	// Recycler again. It is called at most once per SetRecycler, from any
	// goroutine, so it must be safe for concurrent use; it should not
	// block or allocate (it runs on the Output's delivery path).
	Recycle(a *Alert)
}

// SetRecycler makes Release hand a to r (nil: to nobody). A producer
// calls it on each alert it builds, before Emit; assigning a whole Alert
// value (*a = Alert{...}) clears it, so set it after.
func (a *Alert) SetRecycler(r Recycler) {
	a.recycler = r
	a.others = 0
}

// Release tells a's Recycler that the caller, which owned a, is done with
// it; the caller must not read a, or the memory its fields reference,
// afterwards. Without a Recycler it does nothing.
//
// The Output calls Release for every alert it took (see Recycler); an
// Emitter of your own that takes alerts calls it once it is done with
// each, or never (the garbage collector then frees the alert, and its
// producer allocates a new one).
func (a *Alert) Release() {
	if a.recycler == nil {
		return
	}
	if atomic.AddInt32(&a.others, -1) >= 0 {
		return // another holder is not done yet
	}
	// The last holder: every other one's reads happened before its
	// decrement, so before this.
	r := a.recycler
	a.recycler, a.others = nil, 0
	r.Recycle(a)
}

// share makes n holders of a, each of which calls Release once: the
// dispatcher calls it before a goes to n destination queues. It runs
// before any of them can Release a (the queues' locks order it).
func (a *Alert) share(n int) {
	if a.recycler != nil && n > 1 {
		atomic.StoreInt32(&a.others, int32(n-1))
	}
}

// releaseAll releases every alert of batch.
func releaseAll(batch []*Alert) {
	for _, a := range batch {
		a.Release()
	}
}
