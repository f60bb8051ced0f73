package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Workiva/go-datastructures/queue"
	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/pad"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
)

// consumeFunc is called for every event a transport delivers, on the
// partition's consumer goroutine only (so per-partition state needs no
// lock). ev is valid only during the call.
type consumeFunc func(part int, ev *schema.Event)

// transport is one way to move events from producers to one consumer per
// partition: the Kestrel bus, or a peer built the way a Go programmer would
// build it with that peer. Every transport shards by entity key, blocks a
// producer while the partition is full, and delivers every event exactly
// once in per-partition order.
type transport interface {
	// start starts the consumers.
	start(consume consumeFunc) error
	// publish hands over one event; producer is the caller's index, in
	// [0, producers). The transport copies ev: the caller reuses it.
	publish(producer int, ev *schema.Event) error
	// publishBatch hands over evs, in order.
	publishBatch(producer int, evs []schema.Event) error
	// stop waits until every published event is consumed, then stops the
	// consumers and waits for them. It is called after every producer's
	// last publish has returned.
	stop(ctx context.Context) error
}

// builder is a transport whose producers can build each event in memory of
// their own ahead of its send time and then hand it over, as a sensor does
// (it fills an event, then publishes it): Kestrel builds in an Event of the
// producer's and gives it away with Bus.PublishMove, Workiva in its next
// pooled event and puts the pointer. The paced scenarios call build before
// waiting for the send time, so only the hand-over (publishBuilt) is timed,
// and, when producers and consumer share processors, after yielding once,
// so that the build is not between the previous event and its delivery.
// The channel builds nothing: its send copies the event value, sharing a
// spilled event's field array with the sender.
type builder interface {
	// build copies ev into the producer's next event to send.
	build(producer int, ev *schema.Event)
	// publishBuilt stamps what build made with ts and hands it over.
	publishBuilt(producer int, ts schema.TimestampMono) error
}

// transportSpec says what to build.
type transportSpec struct {
	partitions, producers, queueSize int
	// wait is the bus's wait strategy (the zero value: the default).
	wait ring.Wait
	// handlerDelay, for the bus only, busy-waits this long per event in
	// the handler: a forced regression that the gate must catch.
	handlerDelay time.Duration
}

// newTransport builds impl's transport.
func newTransport(impl string, s transportSpec) (transport, error) {
	switch impl {
	case ImplKestrel:
		return newBusTransport(s)
	case ImplChannel:
		return newChanTransport(s), nil
	case ImplWorkiva:
		return newWorkivaTransport(s), nil
	}
	return nil, fmt.Errorf("bench: unknown implementation %q", impl)
}

// shardOf is the peers' sharding: XXH3 of the key's 16 bytes, modulo n, as
// the bus does it.
func shardOf(k schema.EntityKey, n int) int {
	if n == 1 {
		return 0
	}
	b := k.Bytes()
	return int(xxh3.Hash(b[:]) % uint64(n))
}

// busTransport is the real thing: engine.Bus with the Block strategy.
type busTransport struct {
	bus   *engine.Bus
	delay int64 // ns of busy work per event in the handler (spec.handlerDelay)
	// built is each producer's own Event, which build fills and
	// publishBuilt moves into the bus (it comes back empty, with a slot's
	// former storage). Padded: producers write theirs concurrently.
	built []paddedEvent
}

type paddedEvent struct {
	ev schema.Event
	_  pad.Line
}

// benchBackpressureTimeout is long enough that a blocked producer in a
// saturated run never times out: a timeout would be a lost event and make
// the figures incomparable. Any that happens is reported as an error.
const benchBackpressureTimeout = 30 * time.Second

func newBusTransport(s transportSpec) (*busTransport, error) {
	bus, err := engine.New(engine.Config{
		Partitions:          s.partitions,
		QueueSize:           s.queueSize,
		Backpressure:        engine.Block,
		BackpressureTimeout: benchBackpressureTimeout,
		Wait:                s.wait,
	})
	if err != nil {
		return nil, err
	}
	return &busTransport{bus: bus, delay: int64(s.handlerDelay), built: make([]paddedEvent, s.producers)}, nil
}

func (t *busTransport) start(consume consumeFunc) error {
	return t.bus.Run(func(part int, batch []*schema.Event) {
		for _, ev := range batch {
			if t.delay > 0 {
				for end := nanotime() + t.delay; nanotime() < end; {
				}
			}
			consume(part, ev)
		}
	})
}

func (t *busTransport) publish(_ int, ev *schema.Event) error { return t.bus.Publish(ev) }

func (t *busTransport) build(p int, ev *schema.Event) { t.built[p].ev.CopyFrom(ev) }

func (t *busTransport) publishBuilt(p int, ts schema.TimestampMono) error {
	ev := &t.built[p].ev
	ev.TsMono = ts
	return t.bus.PublishMove(ev)
}

func (t *busTransport) publishBatch(_ int, evs []schema.Event) error {
	n, err := t.bus.PublishBatch(evs)
	if err == nil && n != len(evs) {
		err = fmt.Errorf("bench: bus accepted %d of %d events", n, len(evs))
	}
	return err
}

func (t *busTransport) stop(ctx context.Context) error { return t.bus.Shutdown(ctx) }

// chanTransport is one buffered channel of events per partition, values
// sent by copy (no allocation per event), one consumer goroutine each.
type chanTransport struct {
	chans []chan schema.Event
	wg    sync.WaitGroup
}

func newChanTransport(s transportSpec) *chanTransport {
	t := &chanTransport{chans: make([]chan schema.Event, s.partitions)}
	for i := range t.chans {
		t.chans[i] = make(chan schema.Event, s.queueSize)
	}
	return t
}

func (t *chanTransport) start(consume consumeFunc) error {
	for p, ch := range t.chans {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			var ev schema.Event // declared outside the loop: &ev must not escape per event
			for ev = range ch {
				consume(p, &ev)
			}
		}()
	}
	return nil
}

func (t *chanTransport) publish(_ int, ev *schema.Event) error {
	t.chans[shardOf(ev.Entity, len(t.chans))] <- *ev
	return nil
}

func (t *chanTransport) publishBatch(p int, evs []schema.Event) error {
	for i := range evs {
		t.publish(p, &evs[i])
	}
	return nil
}

func (t *chanTransport) stop(ctx context.Context) error {
	for _, ch := range t.chans {
		close(ch)
	}
	return waitGroup(ctx, &t.wg)
}

// workivaTransport is one queue.RingBuffer per partition. The ring holds
// interface values, so events travel as pointers into pools allocated up
// front (no allocation per event): a producer copies its event into its next
// slot of the pool it keeps for the event's partition and puts the pointer.
// A ring is FIFO, so a producer's events in one partition are consumed in
// the order of their slots, and a pool of queueSize+2 slots is never
// overwritten while still in use: at most queueSize events wait in the
// ring, one is being consumed, and one is being put.
type workivaTransport struct {
	rings    []*queue.RingBuffer
	pools    [][]schema.Event // by producer*partitions + partition
	next     []int            // next pool slot, same index; one writer each
	put      []int64          // events put, same index; one writer each
	built    []builtSlot      // by producer: the pool slot build filled
	consumed []paddedCounter  // per partition
	wg       sync.WaitGroup
}

type paddedCounter struct {
	n atomic.Int64
	_ pad.Line
}

func newWorkivaTransport(s transportSpec) *workivaTransport {
	t := &workivaTransport{
		rings:    make([]*queue.RingBuffer, s.partitions),
		pools:    make([][]schema.Event, s.producers*s.partitions),
		next:     make([]int, s.producers*s.partitions),
		put:      make([]int64, s.producers*s.partitions),
		built:    make([]builtSlot, s.producers),
		consumed: make([]paddedCounter, s.partitions),
	}
	for i := range t.rings {
		t.rings[i] = queue.NewRingBuffer(uint64(s.queueSize))
	}
	for i := range t.pools {
		t.pools[i] = make([]schema.Event, int(t.rings[0].Cap())+2)
	}
	return t
}

func (t *workivaTransport) start(consume consumeFunc) error {
	for p, r := range t.rings {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				item, err := r.Get()
				if err != nil { // queue.ErrDisposed: stop was called
					return
				}
				consume(p, item.(*schema.Event))
				t.consumed[p].n.Add(1)
			}
		}()
	}
	return nil
}

func (t *workivaTransport) publish(producer int, ev *schema.Event) error {
	t.build(producer, ev)
	return t.put1(producer)
}

// builtSlot is the pool slot a Workiva producer filled last, and its
// partition (hashed once, in build). Padded: producers write theirs
// concurrently.
type builtSlot struct {
	ev   *schema.Event
	part int
	_    pad.Line
}

// build copies ev into the producer's next pool slot for ev's partition.
func (t *workivaTransport) build(producer int, ev *schema.Event) {
	part := shardOf(ev.Entity, len(t.rings))
	k := producer*len(t.rings) + part
	pool := t.pools[k]
	slot := &pool[t.next[k]]
	t.next[k] = (t.next[k] + 1) % len(pool)
	slot.CopyFrom(ev)
	t.built[producer] = builtSlot{ev: slot, part: part}
}

func (t *workivaTransport) publishBuilt(producer int, ts schema.TimestampMono) error {
	t.built[producer].ev.TsMono = ts
	return t.put1(producer)
}

// put1 puts the slot build filled last.
func (t *workivaTransport) put1(producer int) error {
	b := &t.built[producer]
	t.put[producer*len(t.rings)+b.part]++
	return t.rings[b.part].Put(b.ev)
}

func (t *workivaTransport) publishBatch(p int, evs []schema.Event) error {
	for i := range evs {
		if err := t.publish(p, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *workivaTransport) stop(ctx context.Context) error {
	// Get spins (with Gosched) rather than parking, so wait for the rings
	// to drain, then dispose of them to release the consumers. The
	// producers have returned (stop's contract), so their counts are final.
	var put int64
	for _, n := range t.put {
		put += n
	}
	for {
		var done int64
		for i := range t.consumed {
			done += t.consumed[i].n.Load()
		}
		if done >= put {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	for _, r := range t.rings {
		r.Dispose()
	}
	return waitGroup(ctx, &t.wg)
}

// waitGroup waits for wg or ctx.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("bench: consumers did not stop"), ctx.Err())
	}
}
