package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// tsEvent makes ev the event id of entity key at time ts.
func tsEvent(t testing.TB, ev *schema.Event, id, ts uint64, key schema.EntityKey) {
	t.Helper()
	if err := schema.NewBuilder(nil).Type(1).ID(id).Entity(key).Mono(schema.TimestampMono(ts)).
		Field(fName, value.StringValue("x")).BuildInto(ev); err != nil {
		t.Fatal(err)
	}
}

// orderLog records, per partition, the (ts, id) of every event handed on.
type orderLog struct {
	mu  sync.Mutex
	got [][][2]uint64
}

func newOrderLog(parts int) *orderLog { return &orderLog{got: make([][][2]uint64, parts)} }

func (o *orderLog) handle(p int, batch []*schema.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ev := range batch {
		o.got[p] = append(o.got[p], [2]uint64{uint64(ev.TsMono), ev.ID})
	}
}

func (o *orderLog) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, g := range o.got {
		n += len(g)
	}
	return n
}

// sorted fails unless every partition's events came in (ts, id) order.
func (o *orderLog) sorted(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, g := range o.got {
		if !slices.IsSortedFunc(g, func(a, b [2]uint64) int {
			if a[0] != b[0] {
				return int(int64(a[0] - b[0]))
			}
			return int(int64(a[1] - b[1]))
		}) {
			t.Errorf("partition %d: events out of (ts, id) order: %v", p, g)
		}
	}
}

// TestOrderedFreeRunning: producers that each publish their own share of
// one timestamp-sorted log (round-robin, with equal timestamps across
// producers), free-running, one by one, in batches and by Claim, through
// Route copies and multiplexed workers: every partition hands its events
// on in (ts, id) order, every event once per copy, none late.
func TestOrderedFreeRunning(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		parts, workers, producers int
		route                     bool
	}{
		{"one-producer", 3, 0, 1, false},
		{"three-producers", 4, 0, 3, false},
		{"multiplexed", 5, 2, 3, false},
		{"routed", 4, 2, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 3000
			cfg := Config{Partitions: tc.parts, Workers: tc.workers, QueueSize: 16, Ordered: true, BackpressureTimeout: time.Minute}
			if tc.route {
				cfg.Route = everyThird
			}
			b := newBus(t, cfg)
			o := newOrderLog(tc.parts)
			if err := b.Run(o.handle); err != nil {
				t.Fatal(err)
			}
			evs := make([]schema.Event, n)
			for i := range evs {
				tsEvent(t, &evs[i], uint64(i+1), uint64(i/4), schema.EntityKeyFrom64(uint64(i%7))) // 4 per timestamp
			}
			prods := make([]*Producer, tc.producers)
			for i := range prods {
				var err error
				if prods[i], err = b.Producer(); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for k, p := range prods {
				wg.Go(func() {
					defer p.Close()
					var mine []schema.Event
					for i := k; i < n; i += len(prods) {
						mine = append(mine, evs[i])
					}
					for i := 0; i < len(mine); {
						switch i % 3 {
						case 0:
							if err := p.Publish(&mine[i]); err != nil {
								t.Error(err)
							}
							i++
						case 1:
							end := min(i+5, len(mine))
							if got, err := p.PublishBatch(mine[i:end]); err != nil || got != end-i {
								t.Errorf("PublishBatch: %d, %v", got, err)
							}
							i = end
						default:
							c, err := p.Claim(mine[i].Entity)
							if err != nil {
								t.Error(err)
								return
							}
							c.Event().CopyFrom(&mine[i])
							c.Commit()
							i++
						}
					}
				})
			}
			wg.Wait()
			shutdown(t, b)
			o.sorted(t)
			want := n
			if tc.route {
				for i := range evs {
					pi := b.PartitionOf(evs[i].Entity)
					set := everyThird(&evs[i])
					set.Remove(pi)
					want += set.Len()
				}
			}
			if got := o.count(); got != want {
				t.Fatalf("%d events handed on, want %d", got, want)
			}
			st := b.Stats()
			checkInvariant(t, st)
			if tot := st.Total(); tot.Late != 0 || tot.Delivered != uint64(want) {
				t.Fatalf("stats %+v, want %d delivered and none late", tot, want)
			}
		})
	}
}

// orderedBus returns a running one-partition Ordered bus with two
// producers, a and b, and its log.
func orderedBus(t *testing.T, cfg Config) (*Bus, *Producer, *Producer, *orderLog) {
	t.Helper()
	cfg.Partitions, cfg.Ordered = 1, true
	bus := newBus(t, cfg)
	o := newOrderLog(1)
	if err := bus.Run(o.handle); err != nil {
		t.Fatal(err)
	}
	a, err := bus.Producer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.Producer()
	if err != nil {
		t.Fatal(err)
	}
	return bus, a, b, o
}

func publishAt(t *testing.T, p *Producer, id, ts uint64) error {
	t.Helper()
	var ev schema.Event
	tsEvent(t, &ev, id, ts, schema.EntityKeyFrom64(id))
	return p.Publish(&ev)
}

// TestOrderedTies: equal timestamps from two producers go by event id; an
// event at the watermark of a producer with nothing queued waits, since
// that producer may still publish at the same time.
func TestOrderedTies(t *testing.T) {
	bus, a, b, o := orderedBus(t, Config{})
	for _, e := range []struct {
		p      *Producer
		id, ts uint64
	}{{a, 2, 10}, {b, 1, 10}, {a, 4, 10}, {b, 3, 10}, {a, 5, 11}} {
		if err := publishAt(t, e.p, e.id, e.ts); err != nil {
			t.Fatal(err)
		}
	}
	// b's lane empties after 3, and its watermark is 10: b may still
	// publish at 10, so a's 4 at 10 waits with 5 at 11.
	deadline := time.Now().Add(5 * time.Second)
	for o.count() != 3 {
		if time.Now().After(deadline) {
			w := &bus.workers[0]
			m := &w.merges[0]
			for i, l := range m.lanes {
				t.Logf("lane %d: seq %d n %d taken %d wm %d len %d", i, l.seq, l.n, l.taken, l.p.wm.Load(), l.r.Len())
			}
			t.Logf("count %d %v state %d wmParked %d", o.count(), o.got, w.state.Load(), bus.wmParked.Load())
			t.Fatal("stuck")
		}
		time.Sleep(time.Millisecond)
	}
	if st := bus.Stats().Partitions[0]; st.Queued != 2 {
		t.Fatalf("stats %+v: want 4 and 5 held", st)
	}
	b.Close()
	waitFor(t, "the event at 11", func() bool { return o.count() == 5 })
	a.Close()
	shutdown(t, bus)
	if want := [][2]uint64{{10, 1}, {10, 2}, {10, 3}, {10, 4}, {11, 5}}; !slices.Equal(o.got[0], want) {
		t.Fatalf("handed on %v, want %v", o.got[0], want)
	}
}

// TestOrderedIdleProducer: an idle producer holds the merge at its
// watermark until it advances (a heartbeat) or closes.
func TestOrderedIdleProducer(t *testing.T) {
	bus, a, b, o := orderedBus(t, Config{})
	for i, ts := range []uint64{10, 20, 30} {
		if err := publishAt(t, a, uint64(i+1), ts); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing can go while b sits at 0: the merge is waiting, not slow.
	waitFor(t, "three events queued", func() bool { return bus.Stats().Partitions[0].Queued == 3 })
	if o.count() != 0 {
		t.Fatal("events handed on past an idle producer's watermark")
	}
	b.Advance(15)
	waitFor(t, "the event at 10", func() bool { return o.count() == 1 })
	b.Advance(5) // going back does nothing
	if w := b.Watermark(); w != 15 {
		t.Fatalf("watermark %d after Advance(15), Advance(5)", w)
	}
	b.Advance(30) // 30 itself may still come from b
	waitFor(t, "the event at 20", func() bool { return o.count() == 2 })
	if st := bus.Stats().Partitions[0]; st.Queued != 1 || st.Delivered != 2 {
		t.Fatalf("stats %+v: want the event at 30 held", st)
	}
	b.Close()
	waitFor(t, "the event at 30", func() bool { return o.count() == 3 })
	if err := b.Publish(&schema.Event{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	shutdown(t, bus)
	o.sorted(t)
}

// TestOrderedCloseMidStream: a producer that closes while the other still
// publishes stops holding it back, and what it published is delivered.
func TestOrderedCloseMidStream(t *testing.T) {
	bus, a, b, o := orderedBus(t, Config{QueueSize: 8, BackpressureTimeout: time.Minute})
	for i := range uint64(5) {
		if err := publishAt(t, b, 100+i, 2*i); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	for i := range uint64(100) { // more than a lane holds: the merge must move
		if err := publishAt(t, a, i, i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a's events but its last", func() bool { return o.count() >= 104 })
	a.Close()
	shutdown(t, bus)
	if o.count() != 105 {
		t.Fatalf("%d events, want 105", o.count())
	}
	o.sorted(t)
	checkInvariant(t, bus.Stats())
}

// TestOrderedDrop: under Drop, a lane held back by an idle producer fills
// and refuses, counted; the other producer's lane is not blocked by it, and
// Shutdown hands on what was held.
func TestOrderedDrop(t *testing.T) {
	bus, a, b, o := orderedBus(t, Config{QueueSize: 4, Backpressure: Drop})
	var dropped int
	for i := range uint64(10) {
		switch err := publishAt(t, a, i+1, 10+i); {
		case errors.Is(err, ErrDropped):
			dropped++
		case err != nil:
			t.Fatal(err)
		}
	}
	if dropped != 6 {
		t.Fatalf("%d dropped, want 6 (a lane of 4 held back by b)", dropped)
	}
	if err := publishAt(t, b, 100, 1); err != nil { // b's own lane has room
		t.Fatal(err)
	}
	waitFor(t, "b's event", func() bool { return o.count() == 1 })
	shutdown(t, bus)
	if o.count() != 5 {
		t.Fatalf("%d events handed on, want 5", o.count())
	}
	o.sorted(t)
	st := bus.Stats().Partitions[0]
	checkInvariant(t, bus.Stats())
	if st.Published != 11 || st.Delivered != 5 || st.Dropped != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOrderedBlockedLane: under Block, a producer waiting for room in a
// lane held back by another producer's watermark is not a deadlock: the
// other's publishing elsewhere (here an Advance) lets the merge go on.
func TestOrderedBlockedLane(t *testing.T) {
	bus, a, b, o := orderedBus(t, Config{QueueSize: 4, BackpressureTimeout: time.Hour})
	done := make(chan error, 1)
	go func() {
		for i := range uint64(20) {
			if err := publishAt(t, a, i+1, 10+i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	waitFor(t, "a's lane full", func() bool { return bus.Stats().Partitions[0].Queued == 4 })
	b.Advance(1000)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	shutdown(t, bus)
	if o.count() != 20 {
		t.Fatalf("%d events, want 20", o.count())
	}
	o.sorted(t)
}

// TestOrderedShutdownReleases: Shutdown hands on events an open, idle
// producer was holding back, in order.
func TestOrderedShutdownReleases(t *testing.T) {
	bus, a, _, o := orderedBus(t, Config{})
	for i := range uint64(6) {
		if err := publishAt(t, a, i+1, 100-i/2*10); err != nil { // out of order: late at the end
			t.Fatal(err)
		}
	}
	shutdown(t, bus)
	if o.count() != 6 {
		t.Fatalf("%d events, want 6", o.count())
	}
	// a broke its promise: its events go in its order, counted late.
	if st := bus.Stats().Partitions[0]; st.Late != 4 {
		t.Fatalf("stats %+v: want 4 late", st)
	}
	if _, err := bus.Producer(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Producer after Shutdown: %v", err)
	}
}

// TestOrderedDefaultProducer: the bus's own Publish is a producer that
// holds nothing back until first used, then counts as any other.
func TestOrderedDefaultProducer(t *testing.T) {
	bus, a, b, o := orderedBus(t, Config{})
	b.Close()
	if err := publishAt(t, a, 1, 10); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's event", func() bool { return o.count() == 1 }) // the default producer is idle
	var ev schema.Event
	tsEvent(t, &ev, 2, 20, schema.EntityKeyFrom64(2))
	if err := bus.Publish(&ev); err != nil {
		t.Fatal(err)
	}
	if err := publishAt(t, a, 3, 30); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the default producer's event", func() bool { return o.count() == 2 })
	if st := bus.Stats().Partitions[0]; st.Queued != 1 {
		t.Fatalf("stats %+v: want the event at 30 held by the default producer", st)
	}
	bus.Advance(31)
	waitFor(t, "a's event at 30", func() bool { return o.count() == 3 })
	shutdown(t, bus)
	o.sorted(t)
}

// TestUnorderedProducer: without Ordered a Producer is a handle on the
// shared rings; Close refuses further events.
func TestUnorderedProducer(t *testing.T) {
	b := newBus(t, Config{Partitions: 2})
	p, err := b.Producer()
	if err != nil {
		t.Fatal(err)
	}
	o := newOrderLog(2)
	if err := b.Run(o.handle); err != nil {
		t.Fatal(err)
	}
	p.Advance(5) // nothing to hold back
	if err := publishAt(t, p, 1, 1); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := publishAt(t, p, 2, 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if _, err := p.Claim(schema.EntityKeyFrom64(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Claim after Close: %v", err)
	}
	shutdown(t, b)
	if o.count() != 1 {
		t.Fatalf("%d events, want 1", o.count())
	}
}

// TestOrderedAllocs proves Ordered mode's publish paths and the merge
// allocate nothing in the steady state.
func TestOrderedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	bus := newBus(t, Config{Partitions: 2, QueueSize: 64, Ordered: true, Route: everyThird, BackpressureTimeout: time.Minute})
	s, err := bus.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	a, _ := bus.Producer()
	b, _ := bus.Producer()
	ctx := context.Background()
	evs := make([]schema.Event, 6)
	var out schema.Event
	ts := uint64(0)
	round := func() {
		for i := range evs {
			ts++
			tsEvent(t, &evs[i], ts, ts, schema.EntityKeyFrom64(ts%3))
		}
		if err := a.Publish(&evs[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := b.PublishBatch(evs[1:4]); err != nil {
			t.Fatal(err)
		}
		c, err := a.Claim(evs[4].Entity)
		if err != nil {
			t.Fatal(err)
		}
		c.Event().CopyFrom(&evs[4])
		c.Commit()
		b.Advance(schema.TimestampMono(ts))
		if err := a.Publish(&evs[5]); err != nil {
			t.Fatal(err)
		}
		b.Advance(schema.TimestampMono(ts + 1))
		for range len(evs) {
			if err := s.Recv(ctx, &out); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 64 {
		round()
	}
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Errorf("Ordered publish and merge allocate %v times per round", n)
	}
}

// TestOrderedShutdownWithoutRun: Shutdown before Run still drains an
// Ordered bus, merged, to a subscriber.
func TestOrderedShutdownWithoutRun(t *testing.T) {
	bus := newBus(t, Config{Partitions: 1, Ordered: true})
	sub, err := bus.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := bus.Producer()
	b, _ := bus.Producer()
	for i := range uint64(4) {
		p := a
		if i%2 == 1 {
			p = b
		}
		if err := publishAt(t, p, 10-i, 10-i/2*3); err != nil { // a: 10@10, 8@7; b: 9@10, 7@7
			t.Fatal(err)
		}
	}
	var got []schema.Event
	done := make(chan struct{})
	go func() { defer close(done); got = recvAll(t, sub) }()
	shutdown(t, bus)
	<-done
	var ids []uint64
	for _, ev := range got {
		ids = append(ids, ev.ID)
	}
	// Each producer broke its promise (10 then 7): merged by heads, late counted.
	if want := []uint64{9, 7, 10, 8}; !slices.Equal(ids, want) {
		t.Fatalf("subscriber got %v, want %v", ids, want)
	}
	if st := bus.Stats().Partitions[0]; st.Late != 2 || st.Delivered != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOrderedRoutedDrop: a routed copy refused by a full lane is counted in
// its partition, and the event still counts as accepted in its own.
func TestOrderedRoutedDrop(t *testing.T) {
	bus := newBus(t, Config{Partitions: 3, QueueSize: 2, Backpressure: Drop, Ordered: true, Route: everyThird})
	a, _ := bus.Producer()
	idle, _ := bus.Producer() // holds everything back: nothing drains before Shutdown
	o := newOrderLog(3)
	if err := bus.Run(o.handle); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := range uint64(12) {
		var ev schema.Event
		tsEvent(t, &ev, 3*(i+1), i, schema.EntityKeyFrom64(1)) // ids divisible by 3: copies to 0 and 2
		switch err := a.Publish(&ev); {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrDropped):
			t.Fatal(err)
		}
	}
	idle.Close()
	a.Close()
	shutdown(t, bus)
	st := bus.Stats()
	checkInvariant(t, st)
	tot := st.Total()
	if tot.Published != 12*3-uint64(12-accepted)*2 || tot.Delivered+tot.Dropped != tot.Published || tot.Dropped == 0 {
		t.Fatalf("accepted %d, stats %+v", accepted, tot)
	}
	if uint64(o.count()) != tot.Delivered {
		t.Fatalf("handed on %d, delivered %d", o.count(), tot.Delivered)
	}
	o.sorted(t)
}
