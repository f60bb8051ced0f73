package engine

import (
	"context"
	"errors"
	"log/slog"
	"math/bits"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// Invariants:
//
//   - A partition's ring is the only place an accepted event lives until its
//     worker has handed it to the Handler and copied it to every subscriber
//     (or counted it refused there); only then is it released, and
//     partition.delivered grows by the batch right after the release.
//   - An event is accepted exactly when a producer's reservation of its slot
//     succeeds. The ring refuses reservations once closed, and its consumer
//     drains every slot reserved before the close (waiting for the commit),
//     so the close of each ring is the single point that orders Publish
//     against Shutdown: a reservation before it is delivered, one after it
//     fails with ErrClosed. No event is accepted and then lost, and there is
//     no bus-level lock or counter on the fast path.
//   - dropped and timedOut are written only on the slow path (atomic adds);
//     delivered only by the partition's worker; highWater by the worker, by
//     producers that found the ring full and by Stats, always through
//     storeMax so it never goes down; published only by Stats. Nothing but
//     the ring's own cursors is written on the fast path of Publish.

// partition is one shard: its ring and its counters, each group on its own
// cache lines so producers (ring cursors, slow-path counters) and the worker
// (delivered, highWater) do not false-share.
type partition struct {
	ring *ring.MPSC[schema.Event] // set by New, read-only after
	// lanes lists the partition's rings with the producer feeding each:
	// ring alone (the default producer's, and every producer's unless
	// Config.Ordered), then in Ordered mode one per registered Producer.
	// An immutable slice, replaced under Bus.mu when a producer registers
	// (copy on write, only ever appended to); the pointer publishes it to
	// the worker, Stats and Shutdown.
	lanes atomic.Pointer[[]lane]
	_     pad.Line

	// dropped and timedOut count events refused on the slow path of Publish
	// (Drop and Block strategies). Written by producers, read by Stats; they
	// publish nothing but their own value.
	dropped  atomic.Uint64
	timedOut atomic.Uint64
	// published is the Published the last Stats reported, raised only
	// (loadMax), so that no snapshot reports less than an earlier one.
	// Written and read by Stats alone, never on the Publish path.
	published atomic.Uint64
	_         pad.Line

	// delivered counts events the worker finished with (handed to the
	// Handler and offered to every subscriber), added after their release.
	// highWater is the deepest queue seen: by the worker when it takes a
	// batch, and as the capacity by a producer that found the ring full.
	delivered atomic.Uint64
	highWater atomic.Uint64
	// late counts events the Ordered merge handed on after one with a
	// later timestamp (PartitionStats.Late). Written by the worker.
	late atomic.Uint64
	_    pad.Line
}

// storeMax raises a to v unless it already holds more.
func storeMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// Bus is a partitioned event bus: Publish shards events by entity key into
// per-partition rings; one worker per partition hands them, in order, to the
// Handler given to Run and to every Subscriber. See the package doc for the
// lifecycle. All methods are safe for concurrent use.
type Bus struct {
	cfg       Config
	shard     shard
	ordered   bool // cfg.Ordered: producers' lanes are merged (beside shard: Publish reads both)
	parts     []partition
	clock     clock.Clock
	realClock bool // cfg.Clock is clock.Real: one timer measures a timeout
	// notifiers[w] is worker w's ring.Notifier, shared by the rings of its
	// partitions, when workers serve several partitions or merge lanes
	// (Ordered); nil entries otherwise. Read-only after New.
	notifiers []*ring.Notifier
	log       *slog.Logger
	block     bool                             // cfg.Backpressure == Block
	route     func(*schema.Event) PartitionSet // cfg.Route; nil: one copy per event
	words     int                              // the words of a PartitionSet that name partitions
	// def is the default producer: Publish, PublishBatch and Claim are its
	// own. Its lanes are the partitions' rings.
	def *Producer

	// subs is the current subscriber list, an immutable slice replaced
	// under mu (copy on write); the pointer publishes the slice's contents
	// to the workers, which load it once per batch.
	subs atomic.Pointer[[]*Subscriber]

	// abort publishes that Shutdown's ctx ended: workers stop after the
	// batch they hold.
	abort atomic.Bool
	// running counts workers that have not returned; the one that brings
	// it to zero closes stopped.
	running atomic.Int64
	stopped chan struct{}
	// closing is stored under mu by Shutdown before it closes any ring, after
	// which no producer registers: a worker that loads true then loads
	// every partition's final lane list.
	closing atomic.Bool

	_ pad.Line
	// wmParked counts Ordered-mode workers parked (or about to park) with a
	// merge that may wait for a watermark. A producer raising its
	// watermark loads it after the store, and wakes the workers when it is
	// not zero; a worker raises it before its last re-check of the
	// watermarks (a Dekker handshake, as the rings' own).
	wmParked atomic.Int32
	_        pad.Line
	// needs[w] is, while worker w is parked in Ordered mode, the least
	// timestamp among the events its merges hold back: a watermark raised
	// to or below it releases nothing, so it wakes nobody. Stored by the
	// worker before it raises wmParked. Read-only slice after New.
	needs []needSlot

	mu       sync.Mutex // serialises Run, Subscribe, Subscriber.Close, Shutdown
	started  bool       // workers started (by Run, or by Shutdown to drain)
	closed   bool       // Shutdown began
	workers  []worker   // set when started
	abortErr error      // the ctx error that aborted the drain, if any
	shutDone bool       // every worker returned; shutErr is final
	shutErr  error
}

// New returns a Bus configured by cfg (see Config for the defaults), or a
// *ConfigError. No goroutine runs until Run; events published before Run
// wait in their partitions (under Block for at most BackpressureTimeout once
// a partition is full).
func New(cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	_, real := cfg.Clock.(clock.Real)
	b := &Bus{
		cfg:       cfg,
		shard:     newShard(cfg.Partitions),
		parts:     make([]partition, cfg.Partitions),
		clock:     cfg.Clock,
		realClock: real,
		log:       cfg.Logger,
		block:     cfg.Backpressure == Block,
		route:     cfg.Route,
		words:     (cfg.Partitions + 63) >> 6,
		ordered:   cfg.Ordered,
		stopped:   make(chan struct{}),
	}
	b.notifiers = make([]*ring.Notifier, cfg.Workers)
	for i := range b.parts {
		var n *ring.Notifier
		// A worker that serves several partitions, or merges the lanes of
		// several producers, waits on all its rings at once.
		if cfg.Workers < cfg.Partitions || cfg.Ordered {
			w := b.WorkerOf(i)
			if b.notifiers[w] == nil {
				b.notifiers[w] = ring.NewNotifier()
			}
			n = b.notifiers[w]
		}
		b.parts[i].ring = ring.NewMPSCNotify[schema.Event](cfg.QueueSize, cfg.Wait, n)
	}
	if cfg.Ordered {
		b.needs = make([]needSlot, cfg.Workers)
	}
	b.def = newDefaultProducer(b)
	for i := range b.parts {
		b.parts[i].lanes.Store(&[]lane{{r: b.parts[i].ring, p: b.def}})
	}
	b.subs.Store(new([]*Subscriber))
	return b, nil
}

// Config returns the configuration in effect, defaults filled in.
func (b *Bus) Config() Config {
	c := b.cfg
	c.CPUs = append([]int(nil), c.CPUs...)
	return c
}

// Partitions returns the number of partitions.
func (b *Bus) Partitions() int { return len(b.parts) }

// Workers returns the number of worker goroutines Run starts.
func (b *Bus) Workers() int { return b.cfg.Workers }

// WorkerOf returns the worker that drains partition p: p modulo Workers.
func (b *Bus) WorkerOf(p int) int { return p % b.cfg.Workers }

// PartitionOf returns the partition of entity key k: XXH3-64 of the key's 16
// big-endian bytes (schema.EntityKey.Bytes) modulo Partitions. It depends on
// nothing but k and the partition count, so it is the same in every run and
// every process.
func (b *Bus) PartitionOf(k schema.EntityKey) int { return b.shard.of(k) }

// Publish copies ev into its partition's ring and returns. The copy shares no
// field storage with ev (see schema.Event.CopyFrom), so the caller may reuse
// ev and its fields at once; Bytes and Array payloads are referenced, not
// copied, and must stay unmodified until the event is delivered.
//
// It returns nil when the event was accepted (it will be delivered, even
// across Shutdown), ErrClosed once Shutdown has begun (not counted: the
// caller knows), ErrDropped when the partition is full under Drop, and
// ErrTimeout when it stayed full for BackpressureTimeout under Block; a nil
// ev is ErrNilEvent. It allocates nothing in the steady state; a producer
// that has to wait for room yields, then parks on the ring.
//
// With Config.Route the event is also copied into each partition Route
// names (see publishRouted for how a refused copy is counted); the result
// is its entity partition's.
//
// Publish is the default producer's (see Producer): with Config.Ordered it
// raises that producer's watermark to ev.TsMono.
func (b *Bus) Publish(ev *schema.Event) error {
	if ev == nil {
		return ErrNilEvent
	}
	if b.ordered {
		return b.def.publishOrdered(ev)
	}
	pi := b.shard.of(ev.Entity)
	if b.route != nil {
		return b.publishRouting(nil, pi, ev)
	}
	return b.publishTo(&b.parts[pi], ev)
}

// PublishMove is Publish for a producer that builds each event in an Event
// of its own and gives it away: instead of copying ev's fields into the
// bus, it moves them (schema.Event.MoveTo: a spilled event's field array,
// the common case for ECS events of more than schema.InlineFields fields,
// changes hands instead of being copied into the slot's), and leaves ev
// empty, holding the slot's former field storage as spare capacity, ready
// to be filled again without allocating. It returns what Publish returns;
// on an error ev is as it was. With Config.Ordered or Config.Route it
// publishes as Publish does and then empties ev.
func (b *Bus) PublishMove(ev *schema.Event) error {
	if ev == nil || b.ordered || b.route != nil {
		err := b.Publish(ev)
		if err == nil {
			ev.Reset()
		}
		return err
	}
	p := &b.parts[b.shard.of(ev.Entity)]
	seq, got := p.ring.TryReserve(1)
	if got == 0 {
		var err error
		if seq, _, err = b.reserveSlow(p, p.ring, 1); err != nil {
			return err
		}
	}
	ev.MoveTo(p.ring.Slot(seq))
	p.ring.Commit(seq, 1)
	p.ring.Prefetch(seq + 1) // see publishTo
	return nil
}

// publishRouting publishes ev, whose entity partition is pi, with the
// copies Route asks for, through lanes as publishRouted does. It keeps the
// PartitionSet off Publish's own frame.
func (b *Bus) publishRouting(lanes []*ring.MPSC[schema.Event], pi int, ev *schema.Event) error {
	if extra, ok := b.extraOf(ev, pi); ok {
		return b.publishRouted(lanes, pi, &extra, ev)
	}
	p := &b.parts[pi]
	if lanes != nil {
		return b.publishLane(p, lanes[pi], ev)
	}
	return b.publishTo(p, ev)
}

// extraOf returns the partitions other than pi that Route sends ev to, and
// whether there are any. b.route is set.
func (b *Bus) extraOf(ev *schema.Event, pi int) (PartitionSet, bool) {
	extra := b.route(ev)
	extra.Remove(pi)
	return extra, !extra.empty(b.words)
}

// publishTo copies ev into partition p.
func (b *Bus) publishTo(p *partition, ev *schema.Event) error {
	seq, got := p.ring.TryReserve(1)
	if got == 0 {
		return b.publishSlow(p, p.ring, ev)
	}
	p.ring.Slot(seq).CopyFrom(ev)
	p.ring.Commit(seq, 1)
	// The next single publish lands in the next slot, last written a lap
	// ago: have its lines on their way while the producer is idle.
	p.ring.Prefetch(seq + 1)
	return nil
}

// publishLane is publishTo into r, one of p's lanes.
func (b *Bus) publishLane(p *partition, r *ring.MPSC[schema.Event], ev *schema.Event) error {
	seq, got := r.TryReserve(1)
	if got == 0 {
		return b.publishSlow(p, r, ev)
	}
	r.Slot(seq).CopyFrom(ev)
	r.Commit(seq, 1)
	r.Prefetch(seq + 1)
	return nil
}

// Claim reserves the next slot of entity's partition for an event built in
// place, in the style of the LMAX Disruptor: instead of filling an Event and
// having Publish copy it (a 264-byte copy on every call), fill the slot's
// event through Claim.Event and publish it with Claim.Commit.
//
// The event comes reset (its field storage kept from earlier laps) with
// Entity set; fill in the rest (ID, Type, timestamps, fields with
// schema.Event.Add) and leave Entity as it is: the partition was chosen by
// it. Every successful Claim must be committed exactly once, and promptly:
// the partition's worker delivers in order, so until the commit it waits at
// this slot, and so do the events claimed after it. Do not publish to the
// bus between Claim and Commit (a full partition could then wait for
// itself), and do not touch the event after Commit.
//
// Errors and counting are Publish's: ErrClosed, ErrDropped, ErrTimeout; on
// an error there is nothing to commit. It allocates nothing.
func (b *Bus) Claim(entity schema.EntityKey) (Claim, error) {
	if b.ordered {
		return b.def.claimOrdered(entity)
	}
	p := &b.parts[b.shard.of(entity)]
	seq, got := p.ring.TryReserve(1)
	if got == 0 {
		var err error
		if seq, _, err = b.reserveSlow(p, p.ring, 1); err != nil {
			return Claim{}, err
		}
	}
	ev := p.ring.Slot(seq)
	ev.Reset()
	ev.Entity = entity
	c := Claim{r: p.ring, seq: seq, ev: ev}
	if b.route != nil {
		c.b = b
	}
	return c, nil
}

// Claim is a reserved slot of the bus, from Bus.Claim: fill its Event, then
// Commit. The zero Claim (returned with an error) has nothing to commit.
type Claim struct {
	r   *ring.MPSC[schema.Event]
	seq uint64
	ev  *schema.Event
	b   *Bus      // set when the bus routes (Config.Route): Commit copies first
	p   *Producer // set in Ordered mode: Commit raises its watermark and copies into its lanes
}

// Event returns the claimed slot's event, to fill in place until Commit.
func (c Claim) Event() *schema.Event { return c.ev }

// Commit publishes the claimed event: from here on it belongs to the bus,
// which delivers it as it does an event from Publish. Commit must be called
// once per successful Claim; on the zero Claim it does nothing.
//
// With Config.Route, Commit first copies the event into each other
// partition Route names for it, as Publish would (a copy refused there is
// counted there), then publishes the claimed slot.
func (c Claim) Commit() {
	if c.p != nil {
		c.p.commitOrdered(c.ev)
	} else if c.b != nil {
		c.b.copyRouted(nil, c.ev)
	}
	if c.r != nil {
		c.r.Commit(c.seq, 1)
		c.r.Prefetch(c.seq + 1)
	}
}

// publishRouted copies ev into its entity partition pi, then into each
// partition of the set extra, in ascending order, through lanes (a
// producer's own rings, by partition; nil: the partitions' rings). The
// event is accepted or refused by its entity partition: when that refuses
// it, no copy is made; a copy another partition refuses is counted there
// (Dropped or TimedOut, so the loss shows in Stats) and does not make the
// event refused, since retrying it would duplicate it where it was
// accepted.
func (b *Bus) publishRouted(lanes []*ring.MPSC[schema.Event], pi int, extra *PartitionSet, ev *schema.Event) error {
	p, r := b.laneOf(lanes, pi)
	if err := b.publishLane(p, r, ev); err != nil {
		return err
	}
	b.copyTo(lanes, extra, ev)
	return nil
}

// laneOf returns partition pi and the ring a publish to it writes: the
// producer's lane in Ordered mode (lanes set), else the partition's ring.
func (b *Bus) laneOf(lanes []*ring.MPSC[schema.Event], pi int) (*partition, *ring.MPSC[schema.Event]) {
	p := &b.parts[pi]
	if lanes != nil {
		return p, lanes[pi]
	}
	return p, p.ring
}

// copyTo copies ev into each partition of extra, through lanes as
// publishRouted does, counting a refusal in its partition.
func (b *Bus) copyTo(lanes []*ring.MPSC[schema.Event], extra *PartitionSet, ev *schema.Event) {
	for wi, w := range extra[:b.words] {
		for ; w != 0; w &= w - 1 {
			pi := wi<<6 + bits.TrailingZeros64(w)
			if pi >= len(b.parts) {
				continue
			}
			p, r := b.laneOf(lanes, pi)
			_ = b.publishLane(p, r, ev) // counted in its partition
		}
	}
}

// copyRouted copies ev, built in its entity partition's claimed slot, into
// each other partition Route names (through lanes, as publishRouted),
// counting a refusal there.
func (b *Bus) copyRouted(lanes []*ring.MPSC[schema.Event], ev *schema.Event) {
	if extra, ok := b.extraOf(ev, b.shard.of(ev.Entity)); ok {
		b.copyTo(lanes, &extra, ev)
	}
}

// routeOf returns ev's entity partition, the other partitions Route sends
// it to, and whether there are any.
func (b *Bus) routeOf(ev *schema.Event) (int, PartitionSet, bool) {
	pi := b.shard.of(ev.Entity)
	if b.route == nil {
		return pi, PartitionSet{}, false
	}
	extra, ok := b.extraOf(ev, pi)
	return pi, extra, ok
}

// publishSlow handles a full (or closed) lane r of partition p.
func (b *Bus) publishSlow(p *partition, r *ring.MPSC[schema.Event], ev *schema.Event) error {
	seq, _, err := b.reserveSlow(p, r, 1)
	if err != nil {
		return err
	}
	r.Slot(seq).CopyFrom(ev)
	r.Commit(seq, 1)
	return nil
}

// reserveSlow reserves between 1 and n slots of r, a lane of partition p
// that had no room, by the backpressure strategy, counting a refusal in p.
// It returns the first sequence number and how many it got (at least 1),
// or an error.
func (b *Bus) reserveSlow(p *partition, r *ring.MPSC[schema.Event], n int) (seq uint64, got int, err error) {
	if r.Closed() {
		return 0, 0, ErrClosed
	}
	storeMax(&p.highWater, uint64(r.Cap())) // the worker sees a full ring late
	if !b.block {
		// A close racing with this is fine: the event is refused either
		// way, and counted.
		p.dropped.Add(1)
		return 0, 0, ErrDropped
	}
	// Room often appears within a batch's time: yield a few times before
	// taking a deadline and parking.
	for range 4 {
		runtime.Gosched()
		if seq, got = r.TryReserve(n); got > 0 {
			return seq, got, nil
		}
	}
	d := deadlinePool.Get().(*deadline)
	seq, got, d, err = b.reserveWait(r, n, d)
	deadlinePool.Put(d)
	if err == ErrTimeout {
		p.timedOut.Add(1)
	}
	return seq, got, err
}

// reserveWait reserves between 1 and n slots of r, which was full, by the
// Block strategy: it waits until room appears, r closes (ErrClosed), or
// BackpressureTimeout has passed on the bus's clock (ErrTimeout). It counts
// nothing. d is the caller's unarmed deadline; the one returned replaces it
// (a deadline that fired cannot be armed again).
func (b *Bus) reserveWait(r *ring.MPSC[schema.Event], n int, d *deadline) (seq uint64, got int, _ *deadline, err error) {
	timeout := uint64(b.cfg.BackpressureTimeout)
	start := b.clock.NowMono()
	for {
		now := b.clock.NowMono()
		if now < start { // the clock was set back: count from now
			start = now
		}
		if now-start >= timeout {
			return 0, 0, d, ErrTimeout
		}
		wait := time.Duration(timeout - (now - start))
		if !b.realClock {
			wait = min(wait, ClockPoll)
		}
		d.arm(wait)
		seq, got, err = r.Reserve(d, n)
		if !d.disarm() {
			d = newDeadline()
		}
		switch {
		case err == nil:
			return seq, got, d, nil
		case errors.Is(err, ring.ErrClosed) || r.Closed():
			return 0, 0, d, ErrClosed
		}
		// The real-time deadline passed: look at the clock again.
	}
}

// PublishBatch publishes evs in order, as Publish would one by one, and
// returns how many it accepted: evs[:n] were accepted; when n < len(evs),
// evs[n] was refused with err (and counted, unless err is ErrClosed) and
// evs[n+1:] were not attempted, so the caller may retry them. A run of
// consecutive events for the same partition is reserved and committed as
// one range, which makes batches of one entity's events (the common case in
// a replayed log) much cheaper than single Publishes. With Config.Route an
// event with copies is published as Publish would, alone; its copies do
// not decide n.
func (b *Bus) PublishBatch(evs []schema.Event) (n int, err error) {
	if len(evs) == 0 {
		return 0, nil
	}
	if b.ordered {
		return b.def.publishBatchOrdered(evs)
	}
	if b.route == nil {
		return b.publishRuns(nil, evs)
	}
	return b.publishBatch(nil, evs)
}

// publishBatch is PublishBatch through lanes (a producer's own rings, by
// partition; nil: the partitions' rings). evs is not empty.
func (b *Bus) publishBatch(lanes []*ring.MPSC[schema.Event], evs []schema.Event) (n int, err error) {
	if b.route == nil {
		return b.publishRuns(lanes, evs)
	}
	// The partition and extra copies of evs[n], carried from the run
	// before so each event is hashed and routed once.
	next, extra, routed := b.routeOf(&evs[0])
	for n < len(evs) {
		if routed {
			if err = b.publishRouted(lanes, next, &extra, &evs[n]); err != nil {
				return n, err
			}
			if n++; n < len(evs) {
				next, extra, routed = b.routeOf(&evs[n])
			}
			continue
		}
		pi, run := next, 1
		for n+run < len(evs) {
			if next, extra, routed = b.routeOf(&evs[n+run]); next != pi || routed {
				break // evs[n+run] opens the next run: routed once
			}
			run++
		}
		p, r := b.laneOf(lanes, pi)
		k, err := b.publishRun(p, r, evs[n:n+run])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// publishRuns is publishBatch without Route: runs of one partition, with
// no PartitionSet to build per event.
func (b *Bus) publishRuns(lanes []*ring.MPSC[schema.Event], evs []schema.Event) (n int, err error) {
	next := b.shard.of(evs[0].Entity) // evs[n]'s partition, hashed once
	for n < len(evs) {
		pi, run := next, 1
		for n+run < len(evs) {
			if next = b.shard.of(evs[n+run].Entity); next != pi {
				break
			}
			run++
		}
		p, r := b.laneOf(lanes, pi)
		k, err := b.publishRun(p, r, evs[n:n+run])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// publishRun copies evs, all for partition p with no other copies, into
// r, a lane of p, as few ranges as room allows; it returns how many it
// accepted.
func (b *Bus) publishRun(p *partition, r *ring.MPSC[schema.Event], evs []schema.Event) (n int, err error) {
	for n < len(evs) {
		run := len(evs) - n
		seq, got := r.TryReserve(run)
		if got == 0 {
			if seq, got, err = b.reserveSlow(p, r, run); err != nil {
				return n, err
			}
		}
		for i := range got {
			r.Slot(seq + uint64(i)).CopyFrom(&evs[n+i])
		}
		r.Commit(seq, got)
		n += got
	}
	return n, nil
}

// SetRoute installs route as the bus's Config.Route, for a caller that
// builds its router after the bus (a command handed a bus, then its rules).
// It must be called before the first Publish and before Run: it returns
// ErrRunning once the workers run, ErrClosed after Shutdown, and a
// *ConfigError when the bus has more than MaxRoutedPartitions partitions.
// Events published before it were not routed.
func (b *Bus) SetRoute(route func(ev *schema.Event) PartitionSet) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.started:
		return ErrRunning
	case route != nil && len(b.parts) > MaxRoutedPartitions:
		return &ConfigError{Field: "Partitions", Reason: "must be at most " + strconv.Itoa(MaxRoutedPartitions) + " with Route (a PartitionSet), got " + strconv.Itoa(len(b.parts))}
	}
	// Publish reads b.route without a lock: the caller's promise that no
	// Publish runs yet, and Run's lock, order this write before them.
	b.route = route
	b.cfg.Route = route
	return nil
}

// Handler receives the events of one partition, in publish order, one batch
// per call, from that partition's worker goroutine only (so a Handler needs
// no locking for per-partition state; calls for the partitions one worker
// serves come one after another from that worker). The pointers point into the ring: the
// events are valid only until the call returns and must not be modified or
// kept (copy what must outlive the call, e.g. with schema.Event.CopyFrom).
// The batch slice is reused by the next call. With Config.Route a partition
// also receives the copies routed to it: an event is its entity partition's
// own exactly when Bus.PartitionOf(ev.Entity) (or EntityPartition) is that
// partition. A Handler should not block for long: its partition's producers
// wait (or drop) behind it, and so do the other partitions of its worker
// (Config.Workers). It may Publish,
// but under Block a Publish into its own full partition can only time out,
// and it must not call Shutdown with a context that never ends (Shutdown
// would wait for the very Handler call that waits for it).
type Handler func(partition int, batch []*schema.Event)

// Run starts the workers, Config.Workers goroutines (one per partition by
// default; each locked to its own OS thread with Config.LockThreads, and
// bound to a CPU with Config.CPUs),
// handing every event to h and to every Subscriber. h may be nil: then the
// events go only to subscribers (and, with none, are consumed and counted
// as delivered).
//
// Run returns at once. It returns ErrRunning if the workers already run, and
// ErrClosed after Shutdown.
func (b *Bus) Run(h Handler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return ErrRunning
	}
	b.startLocked(h)
	return nil
}

func (b *Bus) startLocked(h Handler) {
	b.started = true
	b.workers = make([]worker, b.cfg.Workers)
	b.running.Store(int64(len(b.workers)))
	for i := range b.parts {
		w := &b.workers[b.WorkerOf(i)]
		w.parts = append(w.parts, i)
	}
	for i := range b.workers {
		w := &b.workers[i]
		w.bus, w.id, w.h, w.n = b, i, h, b.notifiers[i]
		w.batch = make([]*schema.Event, b.cfg.BatchSize)
		if b.route != nil {
			w.own = make([]*schema.Event, 0, b.cfg.BatchSize)
		}
		w.dl = newDeadline()
		if b.ordered {
			w.merges = make([]merge, len(w.parts))
		}
		go w.run()
	}
	b.log.Debug("engine: workers started", "partitions", len(b.parts), "workers", len(b.workers), "pinned", len(b.cfg.CPUs) > 0)
}

// Shutdown stops the bus: from its start Publish returns ErrClosed (a
// Publish blocked on a full partition too), and Subscribe and Run fail;
// every event accepted before is delivered; then every subscriber's queue
// is closed (Recv drains it, then returns ErrClosed) and every goroutine the
// bus started has returned. If Run was never called, Shutdown starts the
// workers without a Handler, so queued events still reach the subscribers.
//
// ctx bounds it. If ctx ends first, the drain is aborted: the workers stop
// after the batch they hold, subscriber queues are closed (what a worker
// then offers a subscriber is counted in its SubscriberStats.Discarded),
// and Shutdown returns a *ShutdownError, wrapping ctx.Err(), that counts
// the events left queued and the workers still inside a Handler call; it
// does not wait for those calls to return. Calling Shutdown again waits
// (bounded by its own ctx) for such workers and reports again; once every
// worker has returned, every call returns the same result.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.shutDone {
		err := b.shutErr
		b.mu.Unlock()
		return err
	}
	if !b.closed {
		b.closed = true
		b.closing.Store(true) // before the closes: see closing
		for i := range b.parts {
			for _, l := range *b.parts[i].lanes.Load() {
				l.r.Close()
			}
		}
		if !b.started {
			b.startLocked(nil)
		}
		b.log.Debug("engine: shutting down")
	}
	b.mu.Unlock()

	select {
	case <-b.stopped:
	case <-ctx.Done():
		select {
		case <-b.stopped: // finished as ctx ended: not an abort
		default:
			b.abortDrain(ctx)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shutDone {
		return b.shutErr
	}
	var queued uint64
	for i := range b.parts {
		queued += b.parts[i].depth()
	}
	running := int(b.running.Load())
	var err error
	if b.abortErr != nil {
		err = &ShutdownError{Queued: queued, Running: running, Err: b.abortErr}
	}
	if running == 0 {
		b.closeSubscribers()
		b.shutDone, b.shutErr = true, err
		b.log.Debug("engine: shut down", "err", err)
	}
	return err
}

// abortDrain stops the drain that ctx no longer allows: workers stop after
// the batch they hold, subscriber queues close (waking a worker waiting for
// room in one), and it waits until no worker is busy outside a Handler.
func (b *Bus) abortDrain(ctx context.Context) {
	b.mu.Lock()
	if b.abortErr == nil {
		b.abortErr = ctx.Err()
	}
	b.mu.Unlock()
	b.abort.Store(true)
	b.closeSubscribers()
	b.waitOutsideHandlers()
}

// closeSubscribers closes every subscriber's queue: workers can offer no
// more, and Recv drains what is there, then returns ErrClosed.
func (b *Bus) closeSubscribers() {
	for _, s := range *b.subs.Load() {
		s.ring.Close()
	}
}

// waitOutsideHandlers waits, after abort, until every worker has returned
// or is inside a Handler call: the others are about to return (their rings
// and subscriber queues are closed), so the counts Shutdown then reads are
// final but for the Handler calls in progress.
func (b *Bus) waitOutsideHandlers() {
	for i := 0; ; i++ {
		busy := false
		for w := range b.workers {
			if b.workers[w].state.Load() == workerBusy {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		if i < 64 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
}
