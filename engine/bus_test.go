package engine

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// TestEventBusPublishSubscribe publishes from one reused Event and checks
// that the Handler and two subscribers each get every event exactly once,
// intact, in per-entity order.
func TestEventBusPublishSubscribe(t *testing.T) {
	const n, entities = 2000, 10
	b := newBus(t, Config{Partitions: 4, QueueSize: 64, BackpressureTimeout: time.Minute})
	subs := make([]*Subscriber, 2)
	got := make([][]schema.Event, len(subs))
	var wg sync.WaitGroup
	for i := range subs {
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
		wg.Go(func() { got[i] = recvAll(t, s) })
	}
	// Per-partition state needs no lock: each partition has one worker.
	handled := make([][]uint64, b.Partitions())
	if err := b.Run(func(part int, batch []*schema.Event) {
		for _, ev := range batch {
			if p := b.PartitionOf(ev.Entity); p != part {
				t.Errorf("event %d of partition %d handed to partition %d", ev.ID, p, part)
			}
			handled[part] = append(handled[part], ev.ID)
		}
	}); err != nil {
		t.Fatal(err)
	}

	var ev schema.Event // reused: Publish copies
	for i := range uint64(n) {
		key := schema.EntityKeyFrom64(i % entities)
		fill(t, &ev, i, key, i/entities, i%3 == 0)
		if err := b.Publish(&ev); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	shutdown(t, b)
	wg.Wait()

	var total int
	for _, h := range handled {
		total += len(h)
	}
	if total != n {
		t.Errorf("handler got %d events, want %d", total, n)
	}
	for si, evs := range got {
		if len(evs) != n {
			t.Errorf("subscriber %d got %d events, want %d", si, len(evs), n)
		}
		seen := make([]bool, n)
		next := make([]uint64, entities)
		for _, e := range evs {
			if e.ID >= n || seen[e.ID] {
				t.Fatalf("subscriber %d: event %d unknown or received twice", si, e.ID)
			}
			seen[e.ID] = true
			ent := e.Entity.Lo
			if s := seqOf(t, &e); s != next[ent] {
				t.Fatalf("subscriber %d: entity %d: got sequence %d, want %d", si, ent, s, next[ent])
			}
			next[ent]++
			if name, _ := e.Get(fName); !name.Equal(value.StringValue("/bin/ls")) {
				t.Fatalf("event %d: name field %v", e.ID, name)
			}
			wantFields := 2
			if e.ID%3 == 0 {
				wantFields += schema.InlineFields + 2
			}
			if e.NumFields() != wantFields {
				t.Fatalf("event %d has %d fields, want %d", e.ID, e.NumFields(), wantFields)
			}
		}
	}
	st := b.Stats()
	checkInvariant(t, st)
	if tot := st.Total(); tot.Published != n || tot.Delivered != n || tot.Queued != 0 {
		t.Errorf("stats total %+v, want %d published and delivered", tot, n)
	}
}

// TestEventBusPartitionSharding pins the sharding function to fixed values
// (so a change that would move entities between partitions across versions
// fails here), checks that one entity's events keep their order on their
// partition, and that random keys spread evenly.
func TestEventBusPartitionSharding(t *testing.T) {
	t.Run("golden", func(t *testing.T) {
		// XXH3-64 of EntityKey.Bytes() and the partitions for 4, 7 and 16.
		golden := []struct {
			key         schema.EntityKey
			hash        uint64
			p4, p7, p16 int
		}{
			{schema.EntityKey{Hi: 0x0, Lo: 0x0}, 0xd0a66a65c7528968, 0, 4, 8},
			{schema.EntityKey{Hi: 0x0, Lo: 0x1}, 0x4152418f75dd93bb, 3, 5, 11},
			{schema.EntityKey{Hi: 0x0, Lo: 0x2}, 0xc02d28dc181629f, 3, 6, 15},
			{schema.EntityKey{Hi: 0x0, Lo: 0x3}, 0x8723846a41771bc3, 3, 0, 3},
			{schema.EntityKey{Hi: 0x0, Lo: 0x2a}, 0x1a3a77f472545239, 1, 6, 9},
			{schema.EntityKey{Hi: 0x0, Lo: 0x3e8}, 0xe26f6bbd25a74395, 1, 1, 5},
			{schema.EntityKey{Hi: 0x1, Lo: 0x0}, 0x2fdb403fc99f10cb, 3, 5, 11},
			{schema.EntityKey{Hi: 0x1, Lo: 0x2}, 0xc4846c74c4b320ad, 1, 1, 13},
			{schema.EntityKey{Hi: 0xffffffffffffffff, Lo: 0xffffffffffffffff}, 0x722a202f07a4b313, 3, 0, 3},
			{schema.EntityKey{Hi: 0x123456789abcdef, Lo: 0xfedcba9876543210}, 0xfd7caabc2c178028, 0, 0, 8},
		}
		buses := map[int]*Bus{}
		for _, n := range []int{1, 4, 7, 16} {
			buses[n] = newBus(t, Config{Partitions: n, QueueSize: 2})
		}
		for _, g := range golden {
			if h := hash16(g.key); h != g.hash {
				t.Errorf("hash16(%v) = %#x, want %#x", g.key, h, g.hash)
			}
			for n, want := range map[int]int{1: 0, 4: g.p4, 7: g.p7, 16: g.p16} {
				if p := buses[n].PartitionOf(g.key); p != want {
					t.Errorf("PartitionOf(%v) with %d partitions = %d, want %d", g.key, n, p, want)
				}
			}
		}
	})

	t.Run("order", func(t *testing.T) {
		const producers, entitiesPer, perEntity = 3, 8, 200
		b := newBus(t, Config{Partitions: 4, QueueSize: 32, BatchSize: 7, BackpressureTimeout: time.Minute})
		next := make([]map[schema.EntityKey]uint64, b.Partitions())
		for i := range next {
			next[i] = map[schema.EntityKey]uint64{}
		}
		if err := b.Run(func(part int, batch []*schema.Event) {
			if len(batch) == 0 || len(batch) > 7 {
				t.Errorf("batch of %d events, want 1 to 7", len(batch))
			}
			for _, ev := range batch {
				if p := b.PartitionOf(ev.Entity); p != part {
					t.Errorf("entity %v on partition %d, want %d", ev.Entity, part, p)
				}
				if s := seqOf(t, ev); s != next[part][ev.Entity] {
					t.Errorf("entity %v: sequence %d, want %d", ev.Entity, s, next[part][ev.Entity])
				}
				next[part][ev.Entity]++
			}
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				var ev schema.Event
				for i := range uint64(entitiesPer * perEntity) {
					key := schema.EntityKey{Hi: uint64(p), Lo: i % entitiesPer}
					fill(t, &ev, i, key, i/entitiesPer, false)
					if err := b.Publish(&ev); err != nil {
						t.Errorf("Publish: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		shutdown(t, b)
		var entities int
		for _, m := range next {
			for k, n := range m {
				entities++
				if n != perEntity {
					t.Errorf("entity %v: %d events, want %d", k, n, perEntity)
				}
			}
		}
		if entities != producers*entitiesPer {
			t.Errorf("%d entities seen, want %d", entities, producers*entitiesPer)
		}
	})

	t.Run("distribution", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		const keys = 70000
		for _, n := range []int{2, 4, 7, 16} {
			b := newBus(t, Config{Partitions: n, QueueSize: 2})
			count := make([]int, n)
			for range keys {
				count[b.PartitionOf(schema.EntityKey{Hi: rng.Uint64(), Lo: rng.Uint64()})]++
			}
			// Sequential keys, as a sensor's counters produce, spread too.
			seqCount := make([]int, n)
			for i := range uint64(keys) {
				seqCount[b.PartitionOf(schema.EntityKeyFrom64(i))]++
			}
			mean := keys / n
			for p := range n {
				for _, c := range []int{count[p], seqCount[p]} {
					if c < mean*9/10 || c > mean*11/10 {
						t.Errorf("%d partitions: partition %d got %d keys, want %d ± 10%%", n, p, c, mean)
					}
				}
			}
		}
	})
}

// TestHash16MatchesXXH3 checks the specialised hash against the library.
func TestHash16MatchesXXH3(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		k := schema.EntityKey{Hi: rng.Uint64(), Lo: rng.Uint64()}
		if rng.IntN(4) == 0 {
			k.Hi = 0
		}
		bs := k.Bytes()
		if got, want := hash16(k), xxh3.Hash(bs[:]); got != want {
			t.Fatalf("hash16(%v) = %#x, xxh3 says %#x", k, got, want)
		}
	}
}

// FuzzHash16 compares the specialised hash with the library on any key.
func FuzzHash16(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(0), uint64(1))
	f.Add(^uint64(0), ^uint64(0))
	f.Add(uint64(0x0123456789abcdef), uint64(0xfedcba9876543210))
	f.Fuzz(func(t *testing.T, hi, lo uint64) {
		k := schema.EntityKey{Hi: hi, Lo: lo}
		bs := k.Bytes()
		if got, want := hash16(k), xxh3.Hash(bs[:]); got != want {
			t.Fatalf("hash16(%v) = %#x, xxh3 says %#x", k, got, want)
		}
		for _, n := range []int{1, 3, 4, 7, 64} {
			if p, want := newShard(n).of(k), int(xxh3.Hash(bs[:])%uint64(n)); p != want {
				t.Fatalf("shard of %v among %d = %d, want %d", k, n, p, want)
			}
		}
	})
}

// TestEventBusBackpressure covers both strategies on a full partition and on
// a slow subscriber: the timeout is honoured on the configured (mock)
// clock, and every refusal is returned to the caller and counted exactly.
func TestEventBusBackpressure(t *testing.T) {
	key := schema.EntityKeyFrom64(7)

	t.Run("drop", func(t *testing.T) {
		b := newBus(t, Config{Partitions: 1, QueueSize: 4, Backpressure: Drop})
		var ev schema.Event
		for i := range uint64(10) {
			fill(t, &ev, i, key, i, false)
			err := b.Publish(&ev)
			if want := error(nil); i >= 4 {
				want = ErrDropped
				if err != want {
					t.Fatalf("Publish %d on a full partition: %v, want %v", i, err, want)
				}
			} else if err != nil {
				t.Fatalf("Publish %d: %v", i, err)
			}
		}
		st := b.Stats().Partitions[0]
		if want := (PartitionStats{Published: 10, Dropped: 6, Queued: 4, HighWater: 4}); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
		var ids []uint64
		if err := b.Run(func(_ int, batch []*schema.Event) {
			for _, e := range batch {
				ids = append(ids, e.ID)
			}
		}); err != nil {
			t.Fatal(err)
		}
		shutdown(t, b)
		if len(ids) != 4 || ids[0] != 0 || ids[3] != 3 {
			t.Errorf("handler got %v, want [0 1 2 3]", ids)
		}
		st = b.Stats().Partitions[0]
		if want := (PartitionStats{Published: 10, Delivered: 4, Dropped: 6, HighWater: 4}); st != want {
			t.Errorf("stats after shutdown %+v, want %+v", st, want)
		}
	})

	t.Run("block timeout on mock clock", func(t *testing.T) {
		mock := clock.New()
		mock.SetMock(1_000_000)
		// Counting the reads tells when the blocked publisher has looked at
		// the time: nothing else reads this clock until Stats below.
		var reads atomic.Int64
		clk := clock.Func(func() uint64 { reads.Add(1); return mock.NowMono() })
		const timeout = 50 * time.Millisecond
		b := newBus(t, Config{Partitions: 1, QueueSize: 2, BackpressureTimeout: timeout, Clock: clk})
		var ev schema.Event
		for i := range uint64(2) {
			fill(t, &ev, i, key, i, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			var ev schema.Event
			fill(t, &ev, 2, key, 2, false)
			done <- b.Publish(&ev)
		}()
		// notYet waits until the publisher has read the (frozen) time twice
		// more, so it has seen the latest Advance, and checks that it is
		// still waiting.
		notYet := func(when string) {
			t.Helper()
			r := reads.Load()
			waitFor(t, "the publisher to read the clock", func() bool { return reads.Load() >= r+2 })
			select {
			case err := <-done:
				t.Fatalf("Publish returned %v %s", err, when)
			default:
			}
		}
		notYet("while mock time was frozen")
		if err := mock.Advance(timeout - 1); err != nil {
			t.Fatal(err)
		}
		notYet("1ns before its timeout")
		if err := mock.Advance(1); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != ErrTimeout {
				t.Fatalf("Publish: %v, want ErrTimeout", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Publish did not time out after mock time passed its timeout")
		}
		st := b.Stats().Partitions[0]
		if want := (PartitionStats{Published: 3, TimedOut: 1, Queued: 2, HighWater: 2}); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	})

	t.Run("block waits for room", func(t *testing.T) {
		clk := clock.New()
		clk.SetMock(0) // frozen: only room can end the wait
		b := newBus(t, Config{Partitions: 1, QueueSize: 2, Clock: clk})
		var ev schema.Event
		for i := range uint64(2) {
			fill(t, &ev, i, key, i, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			var ev schema.Event
			fill(t, &ev, 2, key, 2, false)
			done <- b.Publish(&ev)
		}()
		waitFor(t, "the publisher to find the partition full", func() bool { return b.Stats().Partitions[0].HighWater == 2 })
		var seqs []uint64
		if err := b.Run(func(_ int, batch []*schema.Event) {
			for _, e := range batch {
				seqs = append(seqs, seqOf(t, e))
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("blocked Publish: %v", err)
		}
		shutdown(t, b)
		if len(seqs) != 3 || seqs[0] != 0 || seqs[1] != 1 || seqs[2] != 2 {
			t.Errorf("handler got sequences %v, want [0 1 2]", seqs)
		}
		if st, want := b.Stats().Partitions[0], (PartitionStats{Published: 3, Delivered: 3, HighWater: 2}); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	})

	t.Run("block timeout on real clock", func(t *testing.T) {
		const timeout = 2 * time.Millisecond
		b := newBus(t, Config{Partitions: 1, QueueSize: 2, BackpressureTimeout: timeout})
		var ev schema.Event
		fill(t, &ev, 0, key, 0, false)
		for range 2 {
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		err := b.Publish(&ev)
		// A lower bound only: never an upper bound on a busy machine.
		if elapsed := time.Since(start); elapsed < timeout {
			t.Errorf("Publish gave up after %v, before its timeout %v", elapsed, timeout)
		}
		if err != ErrTimeout {
			t.Fatalf("Publish: %v, want ErrTimeout", err)
		}
		if st := b.Stats().Partitions[0]; st.TimedOut != 1 || st.Published != 3 {
			t.Errorf("stats %+v, want 1 timed out of 3 published", st)
		}
	})

	t.Run("batch", func(t *testing.T) {
		b := newBus(t, Config{Partitions: 1, QueueSize: 4, Backpressure: Drop})
		evs := make([]schema.Event, 6)
		for i := range evs {
			fill(t, &evs[i], uint64(i), key, uint64(i), i == 1)
		}
		n, err := b.PublishBatch(evs)
		if n != 4 || err != ErrDropped {
			t.Fatalf("PublishBatch = %d, %v; want 4, ErrDropped", n, err)
		}
		// evs[4] was refused and counted; evs[5] was not attempted.
		if st, want := b.Stats().Partitions[0], (PartitionStats{Published: 5, Dropped: 1, Queued: 4, HighWater: 4}); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	})

	t.Run("slow subscriber drop", func(t *testing.T) {
		b := newBus(t, Config{Partitions: 1, QueueSize: 64, SubscriberQueueSize: 4, Backpressure: Drop})
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Run(nil); err != nil {
			t.Fatal(err)
		}
		var ev schema.Event
		for i := range uint64(20) {
			fill(t, &ev, i, key, i, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "delivery", func() bool { return b.Stats().Partitions[0].Delivered == 20 })
		ss := s.Stats()
		if want := (SubscriberStats{Offered: 20, Dropped: 16, Queued: 4}); ss != want {
			t.Errorf("subscriber stats %+v, want %+v", ss, want)
		}
		// The first four are kept, in order.
		for i := range uint64(4) {
			if err := s.Recv(context.Background(), &ev); err != nil || ev.ID != i {
				t.Fatalf("Recv = event %d, %v; want event %d", ev.ID, err, i)
			}
		}
	})

	t.Run("slow subscriber block", func(t *testing.T) {
		clk := clock.New()
		clk.SetMock(0)
		const timeout = time.Second
		b := newBus(t, Config{Partitions: 1, QueueSize: 2, SubscriberQueueSize: 2,
			BackpressureTimeout: timeout, Clock: clk})
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Run(nil); err != nil {
			t.Fatal(err)
		}
		// The subscriber never reads: its queue fills, the worker waits on
		// it, the partition fills, and publishers wait on the worker. Mock
		// time is frozen until both queues are full, then flows a thousand
		// times faster than real time so every wait ends.
		results := make(chan error, 8)
		var wg sync.WaitGroup
		for i := range uint64(8) {
			wg.Go(func() {
				var ev schema.Event
				fill(t, &ev, i, key, i, false)
				results <- b.Publish(&ev)
			})
		}
		waitFor(t, "both queues to fill", func() bool {
			st := b.Stats()
			return st.Partitions[0].Queued == 2 && st.Subscribers[0].Queued == 2
		})
		if err := clk.SetSpeed(1000); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(results)
		var accepted, timedOut uint64
		for err := range results {
			switch err {
			case nil:
				accepted++
			case ErrTimeout:
				timedOut++
			default:
				t.Errorf("Publish: %v", err)
			}
		}
		shutdown(t, b)
		got := recvAll(t, s)
		st := b.Stats()
		checkInvariant(t, st)
		p, ss := st.Partitions[0], s.Stats()
		if p.Published != 8 || p.TimedOut != timedOut || p.Delivered != accepted || p.Queued != 0 {
			t.Errorf("partition stats %+v; want 8 published, %d timed out, %d delivered", p, timedOut, accepted)
		}
		if len(got) != 2 || ss.Offered != p.Delivered || ss.Received != 2 || ss.Received+ss.TimedOut != ss.Offered {
			t.Errorf("subscriber stats %+v with %d delivered, %d received", ss, p.Delivered, len(got))
		}
		if timedOut+ss.TimedOut != 6 {
			t.Errorf("%d publishers and %d subscriber offers timed out, want 6 in all", timedOut, ss.TimedOut)
		}
	})
}

// TestEventBusShutdown covers the drain, what fails afterwards, a publisher
// blocked at the time, and a context that ends first.
func TestEventBusShutdown(t *testing.T) {
	key := schema.EntityKeyFrom64(1)

	t.Run("drain", func(t *testing.T) {
		const n = 1000
		b := newBus(t, Config{Partitions: 2, QueueSize: 1024})
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		var ev schema.Event
		for i := range uint64(n) {
			fill(t, &ev, i, schema.EntityKeyFrom64(i%5), i, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		var handled atomic.Uint64
		if err := b.Run(func(_ int, batch []*schema.Event) { handled.Add(uint64(len(batch))) }); err != nil {
			t.Fatal(err)
		}
		shutdown(t, b)
		if handled.Load() != n {
			t.Errorf("handler got %d events, want %d", handled.Load(), n)
		}
		if got := recvAll(t, s); len(got) != n {
			t.Errorf("subscriber drained %d events after Shutdown, want %d", len(got), n)
		}
		st := b.Stats()
		checkInvariant(t, st)
		if tot := st.Total(); tot.Delivered != n || tot.Queued != 0 {
			t.Errorf("stats %+v, want all %d delivered", tot, n)
		}

		if err := b.Publish(&ev); err != ErrClosed {
			t.Errorf("Publish after Shutdown: %v, want ErrClosed", err)
		}
		if n, err := b.PublishBatch([]schema.Event{ev}); n != 0 || err != ErrClosed {
			t.Errorf("PublishBatch after Shutdown: %d, %v; want 0, ErrClosed", n, err)
		}
		if err := b.Run(nil); err != ErrClosed {
			t.Errorf("Run after Shutdown: %v, want ErrClosed", err)
		}
		if _, err := b.Subscribe(); err != ErrClosed {
			t.Errorf("Subscribe after Shutdown: %v, want ErrClosed", err)
		}
		if err := s.Recv(context.Background(), &ev); err != ErrClosed {
			t.Errorf("Recv after drain: %v, want ErrClosed", err)
		}
		if err := b.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		if tot := b.Stats().Total(); tot.Published != n {
			t.Errorf("refused-as-closed events were counted: %+v", tot)
		}
	})

	t.Run("without run", func(t *testing.T) {
		b := newBus(t, Config{Partitions: 3})
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		var ev schema.Event
		for i := range uint64(10) {
			fill(t, &ev, i, schema.EntityKeyFrom64(i), 0, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		shutdown(t, b)
		if got := recvAll(t, s); len(got) != 10 {
			t.Errorf("subscriber got %d events, want 10", len(got))
		}
	})

	t.Run("releases blocked publisher", func(t *testing.T) {
		clk := clock.New()
		clk.SetMock(0) // frozen: the publisher would wait forever
		b := newBus(t, Config{Partitions: 1, QueueSize: 2, Clock: clk})
		var ev schema.Event
		fill(t, &ev, 0, key, 0, false)
		for range 2 {
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			var ev schema.Event
			fill(t, &ev, 1, key, 1, false)
			done <- b.Publish(&ev)
		}()
		waitFor(t, "the publisher to find the partition full", func() bool { return b.Stats().Partitions[0].HighWater == 2 })
		shutdown(t, b)
		if err := <-done; err != ErrClosed {
			t.Errorf("blocked Publish across Shutdown: %v, want ErrClosed", err)
		}
		if st, want := b.Stats().Partitions[0], (PartitionStats{Published: 2, Delivered: 2, HighWater: 2}); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	})

	t.Run("context ends in handler", func(t *testing.T) {
		b := newBus(t, Config{Partitions: 1, QueueSize: 64, BatchSize: 4})
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		var ev schema.Event
		for i := range uint64(10) {
			fill(t, &ev, i, key, i, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		entered, release := make(chan struct{}), make(chan struct{})
		var calls atomic.Int32
		if err := b.Run(func(_ int, batch []*schema.Event) {
			if calls.Add(1) == 1 {
				close(entered)
				<-release
			}
		}); err != nil {
			t.Fatal(err)
		}
		<-entered
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = b.Shutdown(ctx)
		var se *ShutdownError
		if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown with an ended context: %v, want a *ShutdownError wrapping context.Canceled", err)
		}
		if se.Queued != 10 || se.Running != 1 {
			t.Errorf("ShutdownError %+v, want 10 queued and 1 worker running", se)
		}
		close(release)
		err = b.Shutdown(context.Background())
		if !errors.As(err, &se) || se.Queued != 6 || se.Running != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("second Shutdown: %v, want 6 queued, none running", err)
		}
		if again := b.Shutdown(context.Background()); again != err {
			t.Errorf("third Shutdown: %v, want the same error as the second", again)
		}
		if calls.Load() != 1 {
			t.Errorf("handler called %d times after the abort, want 1", calls.Load())
		}
		st := b.Stats()
		checkInvariant(t, st)
		if p := st.Partitions[0]; p.Delivered != 4 || p.Queued != 6 {
			t.Errorf("stats %+v, want 4 delivered and 6 queued", p)
		}
		// The batch in progress was offered after the subscriber's queue
		// closed: discarded, and counted.
		if ss := s.Stats(); ss.Discarded != 4 || ss.Offered != 4 {
			t.Errorf("subscriber stats %+v, want 4 offered and discarded", ss)
		}
	})

	t.Run("context ends on stalled subscriber", func(t *testing.T) {
		clk := clock.New()
		clk.SetMock(0)
		b := newBus(t, Config{Partitions: 2, QueueSize: 8, SubscriberQueueSize: 2, Clock: clk})
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Run(nil); err != nil {
			t.Fatal(err)
		}
		var ev schema.Event
		for i := range uint64(8) {
			fill(t, &ev, i, key, i, false)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the subscriber queue to fill", func() bool { return s.Stats().Queued == 2 })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		err = b.Shutdown(ctx)
		var se *ShutdownError
		if !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) || se.Running != 0 {
			t.Fatalf("Shutdown: %v, want a *ShutdownError with no worker left running", err)
		}
		st := b.Stats()
		checkInvariant(t, st)
		ss := s.Stats()
		if ss.Offered != st.Total().Delivered || ss.Discarded == 0 {
			t.Errorf("subscriber stats %+v with %d delivered", ss, st.Total().Delivered)
		}
		if tot := st.Total(); tot.Queued != se.Queued || tot.Published != 8 {
			t.Errorf("stats %+v, ShutdownError %+v", tot, se)
		}
		// What reached the subscriber's queue before the abort is still
		// there to read.
		if got := recvAll(t, s); len(got) != 2 {
			t.Errorf("subscriber drained %d events, want 2", len(got))
		}
	})

	t.Run("concurrent publishers", func(t *testing.T) {
		b := newBus(t, Config{Partitions: 2, QueueSize: 16, BackpressureTimeout: time.Minute})
		var handled atomic.Uint64
		if err := b.Run(func(_ int, batch []*schema.Event) { handled.Add(uint64(len(batch))) }); err != nil {
			t.Fatal(err)
		}
		var accepted atomic.Uint64
		var wg sync.WaitGroup
		for p := range 3 {
			wg.Go(func() {
				var ev schema.Event
				for i := uint64(0); ; i++ {
					fill(t, &ev, i, schema.EntityKey{Hi: uint64(p), Lo: i % 4}, i, false)
					switch err := b.Publish(&ev); err {
					case nil:
						accepted.Add(1)
					case ErrClosed:
						return
					default:
						t.Errorf("Publish: %v", err)
						return
					}
				}
			})
		}
		waitFor(t, "some traffic", func() bool { return handled.Load() > 1000 })
		shutdown(t, b)
		wg.Wait()
		st := b.Stats()
		checkInvariant(t, st)
		if tot := st.Total(); tot.Published != accepted.Load() || tot.Delivered != accepted.Load() || handled.Load() != accepted.Load() {
			t.Errorf("accepted %d, handled %d, stats %+v", accepted.Load(), handled.Load(), tot)
		}
	})
}

// stressEvents overrides TestEventBusStress's size, for example to run the
// full million under -race: go test -race -run Stress -stress 1000000.
var stressEvents = flag.Int("stress", 0, "events TestEventBusStress publishes under Block (0: by mode)")

// TestEventBusStress runs 4 producers into 4 partitions (1M events; fewer
// under -short or -race, to keep the package's run short) with a Handler and a subscriber that both check
// exactly-once delivery and per-entity order, under both strategies, then
// checks the loss invariant against the producers' own counts.
func TestEventBusStress(t *testing.T) {
	const producers, entitiesPer = 4, 16
	total := 1_000_000
	switch {
	case *stressEvents > 0:
		total = *stressEvents
	case raceEnabled && testing.Short():
		total = 20_000
	case raceEnabled:
		total = 300_000
	case testing.Short():
		total = 200_000
	}
	perProducer := total / producers

	for _, bp := range []Backpressure{Block, Drop} {
		t.Run(bp.String(), func(t *testing.T) {
			n := perProducer
			if bp == Drop {
				n /= 4
			}
			cfg := Config{Partitions: 4, QueueSize: 256, SubscriberQueueSize: 512, Backpressure: bp,
				BackpressureTimeout: time.Minute}
			b := newBus(t, cfg)
			s, err := b.Subscribe()
			if err != nil {
				t.Fatal(err)
			}
			// Order and exactly-once are checked on sequence numbers: an
			// entity's sequence grows by one per attempt, so under Drop
			// gaps are allowed but never a step back or a repeat.
			type entity struct{ producer, idx uint64 }
			lastH := make([]map[entity]int64, b.Partitions())
			for i := range lastH {
				lastH[i] = map[entity]int64{}
			}
			var handled atomic.Uint64
			if err := b.Run(func(part int, batch []*schema.Event) {
				for _, ev := range batch {
					e := entity{ev.Entity.Hi, ev.Entity.Lo}
					seq := int64(seqOf(t, ev))
					if last, ok := lastH[part][e]; ok && seq <= last {
						t.Errorf("handler: entity %v: sequence %d after %d", e, seq, last)
					}
					lastH[part][e] = seq
				}
				handled.Add(uint64(len(batch)))
			}); err != nil {
				t.Fatal(err)
			}
			var received uint64
			recvDone := make(chan struct{})
			go func() {
				defer close(recvDone)
				last := map[entity]int64{}
				buf := make([]schema.Event, 64)
				for {
					k, err := s.RecvBatch(context.Background(), buf)
					if err != nil {
						if err != ErrClosed {
							t.Errorf("RecvBatch: %v", err)
						}
						return
					}
					for i := range buf[:k] {
						ev := &buf[i]
						e := entity{ev.Entity.Hi, ev.Entity.Lo}
						seq := int64(seqOf(t, ev))
						if l, ok := last[e]; ok && seq <= l {
							t.Errorf("subscriber: entity %v: sequence %d after %d", e, seq, l)
						}
						last[e] = seq
					}
					received += uint64(k)
				}
			}()

			var accepted, dropped atomic.Uint64
			var wg sync.WaitGroup
			for p := range uint64(producers) {
				wg.Go(func() {
					var ev schema.Event
					batch := make([]schema.Event, 8)
					for i := 0; i < n; {
						if i%64 == 0 && i+len(batch) <= n {
							// A batch of one entity's next events.
							for j := range batch {
								k := uint64(i + j)
								fill(t, &batch[j], p<<40|k, schema.EntityKey{Hi: p, Lo: 0}, k, false)
							}
							got, err := b.PublishBatch(batch)
							accepted.Add(uint64(got))
							if err == ErrDropped {
								dropped.Add(1)
								got++
							} else if err != nil {
								t.Errorf("PublishBatch: %v", err)
								return
							}
							i += got
							continue
						}
						k := uint64(i)
						fill(t, &ev, p<<40|k, schema.EntityKey{Hi: p, Lo: k % entitiesPer}, k, i%5 == 0)
						switch err := b.Publish(&ev); err {
						case nil:
							accepted.Add(1)
						case ErrDropped:
							dropped.Add(1)
						default:
							t.Errorf("Publish: %v", err)
							return
						}
						i++
					}
				})
			}
			// Stats is read concurrently with everything else: lock-free
			// reads that the race detector watches.
			stop := make(chan struct{})
			statsDone := make(chan struct{})
			go func() {
				defer close(statsDone)
				for {
					select {
					case <-stop:
						return
					default:
					}
					st := b.Stats()
					for _, p := range st.Partitions {
						if p.HighWater > uint64(cfg.QueueSize) {
							t.Errorf("high water %d above capacity", p.HighWater)
						}
					}
					time.Sleep(time.Millisecond)
				}
			}()
			wg.Wait()
			close(stop)
			<-statsDone

			// Quiescence: no Publish in progress. Wait for the workers to
			// drain, then the invariant holds exactly before Shutdown too.
			waitFor(t, "the partitions to drain", func() bool { return b.Stats().Total().Queued == 0 })
			st := b.Stats()
			checkInvariant(t, st)
			tot := st.Total()
			attempted := accepted.Load() + dropped.Load()
			if tot.Published != attempted || tot.Delivered != accepted.Load() || tot.Dropped != dropped.Load() || tot.TimedOut != 0 {
				t.Errorf("stats %+v; producers saw %d accepted, %d dropped", tot, accepted.Load(), dropped.Load())
			}
			if bp == Block && accepted.Load() != uint64(n*producers) {
				t.Errorf("Block accepted %d of %d", accepted.Load(), n*producers)
			}
			shutdown(t, b)
			<-recvDone
			if handled.Load() != accepted.Load() {
				t.Errorf("handler got %d events, %d accepted", handled.Load(), accepted.Load())
			}
			ss := s.Stats()
			if ss.Offered != accepted.Load() || ss.Received != received || ss.Received+ss.Dropped != ss.Offered {
				t.Errorf("subscriber stats %+v; received %d of %d accepted", ss, received, accepted.Load())
			}
			t.Logf("%s: %d attempted, %d accepted, %d dropped by the bus, %d dropped for the subscriber, high water %d",
				bp, attempted, accepted.Load(), dropped.Load(), ss.Dropped, tot.HighWater)
		})
	}
}

// TestConfig checks validation (every invalid field named) and defaults.
func TestConfig(t *testing.T) {
	bad := func(cfg Config, field string) {
		t.Helper()
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("Validate(%+v) = %v, want a *ConfigError naming %s", cfg, err, field)
		}
		if b, err := New(cfg); b != nil || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, %v; want an error", cfg, b, err)
		}
	}
	bad(Config{Partitions: -1}, "Partitions")
	bad(Config{Partitions: MaxPartitions + 1}, "Partitions")
	bad(Config{QueueSize: -1}, "QueueSize")
	bad(Config{QueueSize: MaxQueueSize + 1}, "QueueSize")
	bad(Config{SubscriberQueueSize: -5}, "SubscriberQueueSize")
	bad(Config{Backpressure: 7}, "Backpressure")
	bad(Config{BackpressureTimeout: -time.Second}, "BackpressureTimeout")
	bad(Config{BatchSize: -1}, "BatchSize")
	bad(Config{CPUs: []int{0, -1}}, "CPUs")
	bad(Config{Wait: ring.Wait{Spin: ring.MaxSpin + 1}}, "Wait")
	if err := (Config{Wait: ring.Wait{Yield: ring.MaxYield + 1}}).Validate(); !errors.Is(err, ring.ErrBadWait) || !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("a bad Wait: %v, want both ring.ErrBadWait and ErrInvalidConfig", err)
	}

	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	b := newBus(t, Config{})
	c := b.Config()
	if c.Partitions != runtime.GOMAXPROCS(0) || b.Partitions() != c.Partitions {
		t.Errorf("default partitions %d, want GOMAXPROCS %d", c.Partitions, runtime.GOMAXPROCS(0))
	}
	if c.QueueSize != DefaultQueueSize || c.SubscriberQueueSize != DefaultQueueSize ||
		c.BackpressureTimeout != DefaultBackpressureTimeout || c.BatchSize != DefaultBatchSize ||
		c.Backpressure != Block || c.Clock == nil || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
	c = newBus(t, Config{QueueSize: 100, BatchSize: 1000}).Config()
	if c.QueueSize != 128 || c.BatchSize != 128 || c.SubscriberQueueSize != 128 {
		t.Errorf("QueueSize 100, BatchSize 1000 became %d, %d, %d; want 128 each", c.QueueSize, c.BatchSize, c.SubscriberQueueSize)
	}
	if got := newBus(t, Config{QueueSize: 1}).Config().QueueSize; got != 2 {
		t.Errorf("QueueSize 1 became %d, want 2", got)
	}
	if Block.String() != "block" || Drop.String() != "drop" || Backpressure(9).String() != "Backpressure(9)" {
		t.Errorf("Backpressure strings: %v %v %v", Block, Drop, Backpressure(9))
	}
}

// TestLockedWorkers runs workers locked to their threads through a
// publish, a subscriber and a shutdown.
func TestLockedWorkers(t *testing.T) {
	b := newBus(t, Config{Partitions: 3, QueueSize: 16, LockThreads: true, BackpressureTimeout: time.Minute})
	s, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Uint64
	if err := b.Run(func(_ int, batch []*schema.Event) { handled.Add(uint64(len(batch))) }); err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() { done <- len(recvAll(t, s)) }()
	var ev schema.Event
	for i := range uint64(500) {
		fill(t, &ev, i, schema.EntityKeyFrom64(i%7), i/7, false)
		if err := b.Publish(&ev); err != nil {
			t.Fatal(err)
		}
	}
	shutdown(t, b)
	if got := <-done; got != 500 || handled.Load() != 500 {
		t.Errorf("subscriber got %d, handler %d; want 500 each", got, handled.Load())
	}
}

// TestRun checks Run's errors and a nil Handler.
func TestRun(t *testing.T) {
	b := newBus(t, Config{Partitions: 2})
	if err := b.Run(nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(nil); err != ErrRunning {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	if err := b.Publish(nil); err != ErrNilEvent {
		t.Errorf("Publish(nil): %v, want ErrNilEvent", err)
	}
	var ev schema.Event
	fill(t, &ev, 1, schema.EntityKeyFrom64(1), 0, false)
	if err := b.Publish(&ev); err != nil {
		t.Fatal(err)
	}
	shutdown(t, b)
	if tot := b.Stats().Total(); tot.Delivered != 1 {
		t.Errorf("with no Handler and no subscriber: %+v, want the event consumed and counted", tot)
	}
}

// TestSubscriberClose checks that a closed subscriber stops receiving, its
// leftovers are counted, and the others carry on.
func TestSubscriberClose(t *testing.T) {
	b := newBus(t, Config{Partitions: 1, QueueSize: 16})
	s1, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(nil); err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	for i := range uint64(3) {
		fill(t, &ev, i, schema.EntityKeyFrom64(1), i, false)
		if err := b.Publish(&ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "delivery", func() bool { return s1.Stats().Queued == 3 })
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s1.Recv(context.Background(), &ev); err != ErrClosed {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
	if n, err := s1.RecvBatch(context.Background(), make([]schema.Event, 2)); n != 0 || err != ErrClosed {
		t.Errorf("RecvBatch after Close: %d, %v", n, err)
	}
	if ss := s1.Stats(); ss != (SubscriberStats{Offered: 3, Discarded: 3}) {
		t.Errorf("closed subscriber stats %+v, want 3 offered and discarded", ss)
	}
	fill(t, &ev, 3, schema.EntityKeyFrom64(1), 3, false)
	if err := b.Publish(&ev); err != nil {
		t.Fatal(err)
	}
	shutdown(t, b)
	if got := recvAll(t, s2); len(got) != 4 {
		t.Errorf("open subscriber got %d events, want 4", len(got))
	}
	if st := b.Stats(); len(st.Subscribers) != 1 || st.Subscribers[0].Received != 4 {
		t.Errorf("bus stats subscribers %+v, want the open one with 4 received", st.Subscribers)
	}
	// A context that ends stops Recv without closing anything.
	b2 := newBus(t, Config{Partitions: 1})
	s3, err := b2.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s3.Recv(ctx, &ev); !errors.Is(err, context.Canceled) {
		t.Errorf("Recv with an ended context: %v", err)
	}
	if n, err := s3.RecvBatch(ctx, make([]schema.Event, 1)); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("RecvBatch with an ended context: %d, %v", n, err)
	}
	if n, err := s3.RecvBatch(ctx, nil); n != 0 || err != nil {
		t.Errorf("RecvBatch into nothing: %d, %v", n, err)
	}
}

// TestShutdownErrorMessage checks the error's text and matching.
func TestShutdownErrorMessage(t *testing.T) {
	err := error(&ShutdownError{Queued: 12, Running: 1, Err: context.DeadlineExceeded})
	const want = "engine: shutdown: context deadline exceeded with 12 events still queued and 1 workers still in their handler"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("ShutdownError does not match its context error")
	}
	ce := error(&ConfigError{Field: "QueueSize", Reason: "too big"})
	if ce.Error() != "engine: invalid config: QueueSize: too big" || !errors.Is(ce, ErrInvalidConfig) {
		t.Errorf("ConfigError: %v", ce)
	}
}
