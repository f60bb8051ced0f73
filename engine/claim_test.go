package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// fillClaim fills a claimed event as fill does a built one.
func fillClaim(t testing.TB, ev *schema.Event, id, seq uint64, spill bool) {
	t.Helper()
	ev.ID, ev.Type, ev.TsMono = id, 1, schema.TimestampMono(id)
	if err := ev.Add(fSeq, value.U64Value(seq)); err != nil {
		t.Fatal(err)
	}
	if err := ev.Add(fName, value.StringValue("/bin/ls")); err != nil {
		t.Fatal(err)
	}
	if spill {
		for i := range schema.InlineFields + 2 {
			if err := ev.Add(fExtra+schema.FieldID(i), value.I64Value(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Claimed events and published ones interleave in one partition's order,
// each delivered as filled: a claimed slot's previous lap leaves nothing
// behind, spilled or not.
func TestClaimDeliversInOrder(t *testing.T) {
	b := newBus(t, Config{Partitions: 3, QueueSize: 8})
	sub, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(nil); err != nil {
		t.Fatal(err)
	}
	const n = 500
	key := schema.EntityKeyFrom64(7)
	var got []schema.Event
	done := make(chan struct{})
	go func() { got = recvAll(t, sub); close(done) }()
	for i := range uint64(n) {
		spill := i%3 == 0
		if i%2 == 0 {
			c, err := b.Claim(key)
			if err != nil {
				t.Fatal(err)
			}
			if c.Event().Entity != key || c.Event().NumFields() != 0 || c.Event().ID != 0 {
				t.Fatalf("claimed slot not reset: %+v", c.Event())
			}
			fillClaim(t, c.Event(), i, i, spill)
			c.Commit()
		} else {
			var ev schema.Event
			fill(t, &ev, i, key, i, spill)
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	shutdown(t, b)
	<-done
	if len(got) != n {
		t.Fatalf("received %d events, want %d", len(got), n)
	}
	for i := range got {
		ev := &got[i]
		want := 2
		if i%3 == 0 {
			want += schema.InlineFields + 2
		}
		if ev.ID != uint64(i) || seqOf(t, ev) != uint64(i) || ev.NumFields() != want || ev.Entity != key {
			t.Fatalf("event %d: id %d, %d fields (want %d), entity %v", i, ev.ID, ev.NumFields(), want, ev.Entity)
		}
	}
	checkInvariant(t, b.Stats())
	if tot := b.Stats().Total(); tot.Published != n || tot.Delivered != n {
		t.Errorf("stats %+v", tot)
	}
}

// Claim refuses and counts as Publish does: ErrDropped on a full partition
// under Drop, ErrClosed after Shutdown; the zero Claim commits nothing.
func TestClaimErrors(t *testing.T) {
	b := newBus(t, Config{Partitions: 1, QueueSize: 2, Backpressure: Drop})
	key := schema.EntityKeyFrom64(1)
	for range 2 {
		c, err := b.Claim(key)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit()
	}
	c, err := b.Claim(key)
	if !errors.Is(err, ErrDropped) || c.Event() != nil {
		t.Fatalf("full partition: %v, %v", c, err)
	}
	c.Commit() // the zero Claim: nothing happens
	if st := b.Stats().Total(); st.Dropped != 1 || st.Published != 3 {
		t.Errorf("stats after a drop: %+v", st)
	}
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	shutdown(t, b)
	if _, err := b.Claim(key); !errors.Is(err, ErrClosed) {
		t.Errorf("after Shutdown: %v", err)
	}
	checkInvariant(t, b.Stats())
}

// Under Block a Claim waits for room like Publish, and times out.
func TestClaimBlocks(t *testing.T) {
	b := newBus(t, Config{Partitions: 1, QueueSize: 2, BackpressureTimeout: 20 * time.Millisecond})
	key := schema.EntityKeyFrom64(1)
	for range 2 {
		c, err := b.Claim(key)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit()
	}
	if _, err := b.Claim(key); !errors.Is(err, ErrTimeout) {
		t.Fatalf("full partition under Block: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := b.Claim(key) // waits for the worker to make room
		if err != nil {
			t.Error(err)
			return
		}
		c.Commit()
	})
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	shutdown(t, b)
	if st := b.Stats().Total(); st.TimedOut != 1 || st.Delivered != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestClaimAllocs proves Claim, filling with Add and Commit allocate
// nothing in the steady state.
func TestClaimAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := newBus(t, Config{Partitions: 2, QueueSize: 64, BackpressureTimeout: time.Minute})
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	for _, spill := range []bool{false, true} {
		claim := func() {
			c, err := b.Claim(schema.EntityKeyFrom64(3))
			if err != nil {
				t.Fatal(err)
			}
			fillClaim(t, c.Event(), 1, 1, spill)
			c.Commit()
		}
		for range 4 * 64 { // every slot gets its spill capacity once
			claim()
		}
		if n := testing.AllocsPerRun(1000, claim); n != 0 {
			t.Errorf("Claim (spill %v) allocates %v times per call", spill, n)
		}
	}
}

// BenchmarkClaim fills the typical six-field event in place, against
// building it and publishing it (the copy Claim saves).
func BenchmarkClaim(b *testing.B) {
	for _, mode := range []string{"claim", "publish"} {
		b.Run(fmt.Sprintf("mode=%s", mode), func(b *testing.B) {
			b.ReportAllocs()
			tr := newBusTransport(b, 1, false, lastSeq)
			key := schema.EntityKeyFrom64(9)
			var ev schema.Event
			b.ResetTimer()
			for i := range b.N {
				var dst *schema.Event
				var c Claim
				if mode == "claim" {
					var err error
					if c, err = tr.bus.Claim(key); err != nil {
						b.Fatal(err)
					}
					dst = c.Event()
				} else {
					ev.Reset()
					ev.Entity = key
					dst = &ev
				}
				dst.ID, dst.Type, dst.TsMono, dst.TsWall = uint64(i), 1, 1000, 2000
				dst.Add(1, value.StringValue("/usr/bin/curl"))
				dst.Add(2, value.U64Value(4242))
				dst.Add(3, value.U64Value(1))
				dst.Add(4, value.StringValue("https://example.com/"))
				dst.Add(5, value.I64Value(-1))
				dst.Add(6, value.BoolValue(true))
				if mode == "claim" {
					c.Commit()
				} else if err := tr.bus.Publish(&ev); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRate(b)
			tr.stop()
		})
	}
}

// With Config.Route a committed claim is copied, before its slot is
// published, to every partition Route names, as Publish copies: each
// partition's Handler sees it once, a subscriber once.
func TestClaimRouted(t *testing.T) {
	const partitions = 3
	b := newBus(t, Config{Partitions: partitions, Route: func(*schema.Event) PartitionSet {
		var s PartitionSet
		for p := range partitions {
			s.Add(p)
		}
		return s
	}})
	sub, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	var seen [partitions]atomic.Int64
	if err := b.Run(func(p int, batch []*schema.Event) { seen[p].Add(int64(len(batch))) }); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var got []schema.Event
	done := make(chan struct{})
	go func() { got = recvAll(t, sub); close(done) }()
	for i := range uint64(n) {
		c, err := b.Claim(schema.EntityKeyFrom64(i))
		if err != nil {
			t.Fatal(err)
		}
		fillClaim(t, c.Event(), i, i, i%2 == 0)
		c.Commit()
	}
	shutdown(t, b)
	<-done
	for p := range seen {
		if seen[p].Load() != n {
			t.Errorf("partition %d handled %d events, want %d", p, seen[p].Load(), n)
		}
	}
	if len(got) != n {
		t.Errorf("subscriber got %d events, want %d", len(got), n)
	}
	checkInvariant(t, b.Stats())
}
