package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// everyThird routes every third event (by id) to partitions 0 and 2 as
// well as its entity partition.
func everyThird(ev *schema.Event) PartitionSet {
	var s PartitionSet
	if ev.ID%3 == 0 {
		s.Add(0)
		s.Add(2)
	}
	return s
}

// TestRouteCopies checks, under concurrent producers (run it with -race),
// that a routed event reaches its entity partition and each routed
// partition exactly once, that each producer's order holds per partition,
// and that subscribers still see every event once.
func TestRouteCopies(t *testing.T) {
	const parts, producers, perProducer = 4, 3, 600
	b := newBus(t, Config{Partitions: parts, QueueSize: 64, BackpressureTimeout: time.Minute, Route: everyThird})
	sub, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := make([]map[uint64]int, parts) // partition -> id -> copies
	last := make([][producers]uint64, parts)
	for i := range got {
		got[i] = map[uint64]int{}
	}
	if err := b.Run(func(p int, batch []*schema.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range batch {
			got[p][ev.ID]++
			pr := ev.ID % producers
			if ev.ID < last[p][pr] {
				t.Errorf("partition %d: producer %d's event %d after %d", p, pr, ev.ID, last[p][pr])
			}
			last[p][pr] = ev.ID
		}
	}); err != nil {
		t.Fatal(err)
	}
	var subGot []schema.Event
	subDone := make(chan struct{})
	go func() { defer close(subDone); subGot = recvAll(t, sub) }()
	var wg sync.WaitGroup
	for pr := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []schema.Event
			for i := range perProducer {
				id := uint64(i*producers + pr + producers) // ids of producer pr are pr mod producers, rising
				var ev schema.Event
				fill(t, &ev, id, schema.EntityKeyFrom64(id%7), uint64(i), i%5 == 0)
				if i%3 == 0 { // flush first: the producer's order is id order
					if n, err := b.PublishBatch(batch); err != nil || n != len(batch) {
						t.Errorf("PublishBatch: %d, %v", n, err)
						return
					}
					batch = batch[:0]
					if err := b.Publish(&ev); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				batch = append(batch, ev)
				if len(batch) == 8 {
					if n, err := b.PublishBatch(batch); err != nil || n != len(batch) {
						t.Errorf("PublishBatch: %d, %v", n, err)
						return
					}
					batch = batch[:0]
				}
			}
			if n, err := b.PublishBatch(batch); err != nil || n != len(batch) {
				t.Errorf("PublishBatch: %d, %v", n, err)
			}
		}()
	}
	wg.Wait()
	shutdown(t, b)
	<-subDone
	total := producers * perProducer
	if len(subGot) != total {
		t.Errorf("subscriber got %d events, want %d", len(subGot), total)
	}
	for pr := range producers {
		for i := range perProducer {
			id := uint64(i*producers + pr + producers)
			home := b.PartitionOf(schema.EntityKeyFrom64(id % 7))
			if home != EntityPartition(schema.EntityKeyFrom64(id%7), parts) {
				t.Fatalf("EntityPartition disagrees with PartitionOf for %d", id)
			}
			for p := range parts {
				want := 0
				if p == home || id%3 == 0 && (p == 0 || p == 2) {
					want = 1
				}
				if got[p][id] != want {
					t.Errorf("event %d reached partition %d %d times, want %d", id, p, got[p][id], want)
				}
			}
		}
	}
	checkInvariant(t, b.Stats())
}

func TestRouteConfig(t *testing.T) {
	_, err := New(Config{Partitions: MaxRoutedPartitions + 1, QueueSize: 2, Route: everyThird})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "Partitions" {
		t.Fatalf("Route with %d partitions: %v", MaxRoutedPartitions+1, err)
	}
	if _, err := New(Config{Partitions: MaxRoutedPartitions, QueueSize: 2, Route: everyThird}); err != nil {
		t.Fatal(err)
	}
}

// TestRoutedPublishAllocs proves the routed path (an event copied into
// several partitions, one by one and in batches, and the worker sorting
// out its subscribers' share) allocates nothing.
func TestRoutedPublishAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := newBus(t, Config{Partitions: 4, QueueSize: 64, BackpressureTimeout: time.Minute, Route: everyThird})
	s, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var in, out schema.Event
	fill(t, &in, 3, schema.EntityKeyFrom64(5), 0, true) // id 3: copied to 0 and 2
	evs := make([]schema.Event, 6)
	for i := range evs {
		fill(t, &evs[i], uint64(i), schema.EntityKeyFrom64(uint64(i%2)), uint64(i), i%2 == 0)
	}
	roundTrip := func() {
		if err := b.Publish(&in); err != nil {
			t.Fatal(err)
		}
		if _, err := b.PublishBatch(evs); err != nil {
			t.Fatal(err)
		}
		for range 1 + len(evs) {
			if err := s.Recv(ctx, &out); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 4 * 64 {
		roundTrip()
	}
	if n := testing.AllocsPerRun(300, roundTrip); n != 0 {
		t.Errorf("routed Publish, PublishBatch, Recv allocate %v times per round", n)
	}
}

func TestSetRoute(t *testing.T) {
	b := newBus(t, Config{Partitions: 2, QueueSize: 64})
	if err := b.SetRoute(everyThird); err != nil {
		t.Fatal(err)
	}
	if b.Config().Route == nil {
		t.Fatal("Config does not show the route")
	}
	if err := b.Run(nil); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRoute(nil); !errors.Is(err, ErrRunning) {
		t.Fatalf("SetRoute after Run: %v", err)
	}
	shutdown(t, b)
	if err := b.SetRoute(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetRoute after Shutdown: %v", err)
	}
	wide := newBus(t, Config{Partitions: MaxRoutedPartitions + 1, QueueSize: 2, Workers: 1})
	var ce *ConfigError
	if err := wide.SetRoute(everyThird); !errors.As(err, &ce) {
		t.Fatalf("SetRoute on %d partitions: %v", MaxRoutedPartitions+1, err)
	}
}
