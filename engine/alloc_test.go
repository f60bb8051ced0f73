package engine

import (
	"context"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// TestPublishAllocs proves that Publish and PublishBatch allocate nothing,
// with inline and with spilled fields, while a worker drains.
func TestPublishAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := newBus(t, Config{Partitions: 2, QueueSize: 64, BackpressureTimeout: time.Minute})
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	for _, spill := range []bool{false, true} {
		var ev schema.Event
		fill(t, &ev, 1, schema.EntityKeyFrom64(3), 0, spill)
		evs := make([]schema.Event, 8)
		for i := range evs {
			fill(t, &evs[i], uint64(i), schema.EntityKeyFrom64(uint64(i%2)), uint64(i), spill)
		}
		// Warm up: every slot gets its spill capacity once.
		for range 4 * 64 {
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
			if _, err := b.PublishBatch(evs); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(1000, func() {
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Publish (spill %v) allocates %v times per call", spill, n)
		}
		if n := testing.AllocsPerRun(200, func() {
			if _, err := b.PublishBatch(evs); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("PublishBatch (spill %v) allocates %v times per call", spill, n)
		}
		// PublishMove: built in the producer's own Event each time (the
		// fields copied in, as a producer sets them), then moved.
		var mine schema.Event
		if n := testing.AllocsPerRun(1000, func() {
			mine.CopyFrom(&ev)
			if err := b.PublishMove(&mine); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("PublishMove (spill %v) allocates %v times per call", spill, n)
		}
	}
}

// TestWorkerPathAllocs proves that the whole path allocates nothing: Publish,
// the worker's batch to the Handler and its copy to a subscriber, and Recv.
func TestWorkerPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := newBus(t, Config{Partitions: 2, QueueSize: 64, BackpressureTimeout: time.Minute})
	s, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	var handled int
	if err := b.Run(func(_ int, batch []*schema.Event) { handled += len(batch) }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var in, out schema.Event
	fill(t, &in, 1, schema.EntityKeyFrom64(3), 0, true)
	roundTrip := func() {
		if err := b.Publish(&in); err != nil {
			t.Fatal(err)
		}
		if err := s.Recv(ctx, &out); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 * 64 {
		roundTrip()
	}
	if n := testing.AllocsPerRun(1000, roundTrip); n != 0 {
		t.Errorf("Publish, Handler, Recv allocate %v times per event", n)
	}
	batch := make([]schema.Event, 4)
	if n := testing.AllocsPerRun(200, func() {
		for range 4 {
			if err := b.Publish(&in); err != nil {
				t.Fatal(err)
			}
		}
		for got := 0; got < 4; {
			k, err := s.RecvBatch(ctx, batch[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += k
		}
	}); n != 0 {
		t.Errorf("Publish and RecvBatch allocate %v times per 4 events", n)
	}
	shutdown(t, b)
	if handled == 0 {
		t.Error("the Handler saw nothing")
	}
}
