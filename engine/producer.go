package engine

// Invariants of Ordered mode (Config.Ordered), on top of the bus's own:
//
//   - Every producer has one lane (an MPSC ring used by it alone, or by
//     the default producer's callers) in every partition; a lane is only
//     ever appended to its partition's list, and Shutdown closes every lane
//     registered before it (registration and Shutdown hold Bus.mu).
//   - A producer's watermark wm is a promise: every event it publishes from
//     now on has TsMono >= wm. It only rises, and is stored before the
//     reservation of the event that raises it, so it also covers an event
//     reserved but not yet committed. Each store is sequentially consistent:
//     a worker that loads wm and then scans a lane of that producer sees
//     every commit made before the store.
//   - A worker releases an event of key (TsMono, ID) only when it is the
//     least key at the heads of its partition's non-empty lanes, and its
//     timestamp is below the watermark of every producer whose lane there
//     is empty and not sealed (closed, and all it ever reserved seen). What
//     such a producer publishes later has TsMono >= wm > the event's, and a
//     non-empty lane's later events come after its head (each producer
//     publishes in order), so nothing released is ever followed by an event
//     of a smaller key, from producers that keep their promise. An event
//     that breaks it is handed on anyway, and counted in Late.
//   - wmIdle (the largest uint64) bounds nothing: the default producer
//     holds it until first used, so a bus fed only by Producer handles
//     never waits for it. A real watermark is at most wmIdle-1.

import (
	"math"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/internal/pad"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
)

// wmIdle is the watermark that holds nothing back.
const wmIdle = math.MaxUint64

// lane is one producer's ring in one partition.
type lane struct {
	r *ring.MPSC[schema.Event]
	p *Producer
}

// Producer is one source of events for a Bus, from Bus.Producer: it has
// Publish, PublishBatch and Claim, which behave and count exactly as the
// Bus's own, and Close. The Bus's own methods are those of its default
// producer, which needs no registration.
//
// Producers matter with Config.Ordered. There each producer has its own
// ring in every partition and a watermark: the timestamp of the last event
// it published, or a later one it promises with Advance. A partition's
// worker merges the producers' rings by (TsMono, ID) and hands an event on
// only once every open producer's watermark has passed its timestamp, so
// events reach the Handler in timestamp order however the producers
// interleave, provided each producer publishes in (TsMono, ID) order. An
// idle producer holds every partition back at its watermark: call Advance
// (a heartbeat) when it has nothing to publish, and Close when it is done.
// Shutdown releases everything regardless. Without Config.Ordered a
// Producer is a handle on the Bus's shared rings: Advance does nothing and
// order is arrival order, as for Bus.Publish.
//
// A Producer is meant for one goroutine at a time (its watermark is its
// publish order); the default producer's methods, Bus.Publish and friends,
// are safe from several, whose calls must then be merged in timestamp
// order by the caller to keep the ordering promise.
type Producer struct {
	bus *Bus
	// lanes[p] is the producer's ring in partition p (Ordered mode); nil
	// otherwise: the partitions' shared rings. Read-only after
	// registration.
	lanes []*ring.MPSC[schema.Event]
	// closed is set by Close, for a handle on the shared rings (which it
	// cannot close).
	closed atomic.Bool
	_      pad.Line

	// wm is the watermark: written by the producer (raised with a CAS, so
	// the default producer's concurrent callers keep it monotone), read by
	// the workers of every partition. Its store publishes to a worker
	// every commit the producer made before it (see the invariants).
	wm atomic.Uint64
	_  pad.Line
}

// newDefaultProducer returns the default producer of b, whose lanes are the
// partitions' rings; in Ordered mode it bounds nothing until first used.
func newDefaultProducer(b *Bus) *Producer {
	p := &Producer{bus: b}
	if b.ordered {
		p.lanes = make([]*ring.MPSC[schema.Event], len(b.parts))
		for i := range b.parts {
			p.lanes[i] = b.parts[i].ring
		}
		p.wm.Store(wmIdle)
	}
	return p
}

// Producer registers a new producer. In Ordered mode it allocates the
// producer's ring in every partition (Config.QueueSize slots each) and,
// from now until it closes, holds every partition's merge back at its
// watermark, which starts at 0: register producers before they start, or
// call Advance at once, since events of a producer registered mid-stream
// older than what was already handed on come out late (PartitionStats.Late).
// It returns ErrClosed once Shutdown has begun.
func (b *Bus) Producer() (*Producer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	p := &Producer{bus: b}
	if !b.ordered {
		return p, nil
	}
	p.lanes = make([]*ring.MPSC[schema.Event], len(b.parts))
	for i := range b.parts {
		p.lanes[i] = ring.NewMPSCNotify[schema.Event](b.cfg.QueueSize, b.cfg.Wait, b.notifiers[b.WorkerOf(i)])
	}
	for i := range b.parts {
		part := &b.parts[i]
		old := *part.lanes.Load()
		lanes := make([]lane, len(old), len(old)+1)
		copy(lanes, old)
		lanes = append(lanes, lane{r: p.lanes[i], p: p})
		part.lanes.Store(&lanes) // after wm is 0: publishes the lane and its bound
	}
	return p, nil
}

// Publish publishes ev as Bus.Publish does, as this producer: in Ordered
// mode into its own rings, raising its watermark to ev.TsMono first. After
// Close it returns ErrClosed.
func (p *Producer) Publish(ev *schema.Event) error {
	if ev == nil {
		return ErrNilEvent
	}
	if p.lanes == nil {
		if p.closed.Load() {
			return ErrClosed
		}
		return p.bus.Publish(ev)
	}
	return p.publishOrdered(ev)
}

// PublishBatch publishes evs as Bus.PublishBatch does, as this producer; in
// Ordered mode evs must be in timestamp order (the watermark rises with
// them). After Close it returns ErrClosed.
func (p *Producer) PublishBatch(evs []schema.Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	if p.lanes == nil {
		if p.closed.Load() {
			return 0, ErrClosed
		}
		return p.bus.PublishBatch(evs)
	}
	return p.publishBatchOrdered(evs)
}

// Claim reserves a slot as Bus.Claim does, as this producer: in Ordered
// mode in its own ring, and Commit raises its watermark to the event's
// TsMono before publishing it. After Close it returns ErrClosed.
func (p *Producer) Claim(entity schema.EntityKey) (Claim, error) {
	if p.lanes == nil {
		if p.closed.Load() {
			return Claim{}, ErrClosed
		}
		return p.bus.Claim(entity)
	}
	return p.claimOrdered(entity)
}

// Advance raises the producer's watermark to ts: a promise that every event
// it publishes from now on has TsMono >= ts. An idle producer calls it (a
// heartbeat, with its clock's time) so that it does not hold back the
// other producers' events in Ordered mode; a ts at or below the watermark
// does nothing. Without Config.Ordered it does nothing.
func (p *Producer) Advance(ts schema.TimestampMono) {
	if p.lanes != nil {
		p.advance(uint64(ts))
	}
}

// Advance is the default producer's Producer.Advance: the watermark of
// Bus.Publish, PublishBatch and Claim. In Ordered mode the default producer
// holds nothing back until it is first used (a Publish, or this call).
func (b *Bus) Advance(ts schema.TimestampMono) { b.def.Advance(ts) }

// Watermark returns the producer's watermark: in Ordered mode the timestamp
// every event it publishes from now on is at least; 0 otherwise, and
// math.MaxUint64 for the default producer before its first use.
func (p *Producer) Watermark() schema.TimestampMono { return schema.TimestampMono(p.wm.Load()) }

// Close ends the producer: further Publish, PublishBatch and Claim return
// ErrClosed, and in Ordered mode its rings close, so once the events it
// published are handed on it holds no partition back. Events it published
// are delivered. Commit every Claim before Close. Close is idempotent.
func (p *Producer) Close() error {
	if p.closed.Swap(true) || p.lanes == nil {
		return nil
	}
	for _, r := range p.lanes {
		r.Close() // wakes the worker, whose merge sees the lane sealed
	}
	return nil
}

// advance raises the watermark to ts, and wakes workers waiting for it.
func (p *Producer) advance(ts uint64) {
	// ts <= wm, unless wm is wmIdle (whose +1 wraps to 0): nothing to do.
	if ts < p.wm.Load()+1 {
		return
	}
	p.advanceSlow(ts)
}

func (p *Producer) advanceSlow(ts uint64) {
	ts = min(ts, wmIdle-1) // wmIdle is not a watermark
	for {
		old := p.wm.Load()
		if ts <= old && old != wmIdle {
			return
		}
		if p.wm.CompareAndSwap(old, ts) {
			break
		}
	}
	b := p.bus
	// After the store: a worker that raised wmParked (after storing its
	// need) before our load re-reads the watermark, or is woken here when
	// ts can release what it holds.
	if b.wmParked.Load() != 0 {
		for w, n := range b.notifiers {
			if ts > b.needs[w].v.Load() {
				n.Wake()
			}
		}
	}
}

// needSlot is one worker's entry of Bus.needs, alone on its line.
type needSlot struct {
	v atomic.Uint64
	_ pad.Line
}

// publishOrdered is Publish in Ordered mode.
func (p *Producer) publishOrdered(ev *schema.Event) error {
	if ev == nil {
		return ErrNilEvent
	}
	b := p.bus
	p.advance(uint64(ev.TsMono)) // before the reservation: it covers ev
	pi := b.shard.of(ev.Entity)
	if b.route != nil {
		return b.publishRouting(p.lanes, pi, ev)
	}
	return b.publishLane(&b.parts[pi], p.lanes[pi], ev)
}

// publishBatchOrdered is PublishBatch in Ordered mode: the watermark rises
// to the first event's timestamp before anything is reserved, and to the
// last one's after (evs in timestamp order: every event is then covered
// from its reservation on). evs is not empty.
func (p *Producer) publishBatchOrdered(evs []schema.Event) (int, error) {
	p.advance(uint64(evs[0].TsMono))
	n, err := p.bus.publishBatch(p.lanes, evs)
	if n > 0 {
		p.advance(uint64(evs[n-1].TsMono))
	}
	return n, err
}

// claimOrdered is Claim in Ordered mode. The watermark stays where it is
// until Commit: the claimed event's timestamp is not known yet, and an
// uncommitted slot stops the worker's scan of the lane.
func (p *Producer) claimOrdered(entity schema.EntityKey) (Claim, error) {
	b := p.bus
	pi := b.shard.of(entity)
	part, r := &b.parts[pi], p.lanes[pi]
	seq, got := r.TryReserve(1)
	if got == 0 {
		var err error
		if seq, _, err = b.reserveSlow(part, r, 1); err != nil {
			return Claim{}, err
		}
	}
	ev := r.Slot(seq)
	ev.Reset()
	ev.Entity = entity
	return Claim{r: r, seq: seq, ev: ev, p: p}, nil
}

// commitOrdered raises the watermark to the claimed event's timestamp and
// copies it into the other partitions Route names, before Claim.Commit
// publishes the claimed slot.
func (p *Producer) commitOrdered(ev *schema.Event) {
	p.advance(uint64(ev.TsMono))
	if p.bus.route != nil {
		p.bus.copyRouted(p.lanes, ev)
	}
}

// depth returns how many events the partition's lanes hold.
func (part *partition) depth() uint64 {
	var d uint64
	for _, l := range *part.lanes.Load() {
		d += uint64(l.r.Len())
	}
	return d
}

// capacity returns the partition's lanes' total room.
func (part *partition) capacity() uint64 {
	var c uint64
	for _, l := range *part.lanes.Load() {
		c += uint64(l.r.Cap())
	}
	return c
}
