package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// TestStatsMonotonic takes snapshots while producers publish batches and
// workers deliver them: no counter of a later snapshot may be below the
// earlier one's (a rate computed from two snapshots never goes negative),
// and every snapshot keeps published = delivered + dropped + timed out +
// queued. Small queues under Drop make refusals and full rings common.
func TestStatsMonotonic(t *testing.T) {
	b := newBus(t, Config{Partitions: 2, QueueSize: 256, SubscriberQueueSize: 256, Backpressure: Drop})
	sub, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg, recv sync.WaitGroup
	recv.Add(1)
	go func() { // receives until the subscriber is closed
		defer recv.Done()
		dst := make([]schema.Event, 32)
		for {
			if _, err := sub.RecvBatch(context.Background(), dst); err != nil {
				return
			}
		}
	}()
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]schema.Event, 64)
			for i := range batch {
				// Runs of one entity, so a batch reserves ranges.
				fill(t, &batch[i], uint64(i), schema.EntityKeyFrom64(uint64(p*100+i/16)), uint64(i), false)
			}
			for !stop.Load() {
				for n := 0; n < len(batch); {
					k, err := b.PublishBatch(batch[n:])
					n += k + 1 // skip a refused event
					if err != nil && err != ErrDropped {
						t.Errorf("PublishBatch: %v", err)
						return
					}
				}
			}
		}()
	}

	var prev Stats
	snaps, backwards := 0, 0
	// Long enough for many snapshots to meet batches in flight; the test
	// asserts nothing about time.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end) || snaps < 100; snaps++ {
		st := b.Stats()
		checkInvariant(t, st)
		if prev.Partitions != nil {
			for i, p := range st.Partitions {
				q := prev.Partitions[i]
				if p.Published < q.Published || p.Delivered < q.Delivered || p.Dropped < q.Dropped ||
					p.TimedOut < q.TimedOut || p.HighWater < q.HighWater {
					if backwards++; backwards <= 5 {
						t.Errorf("snapshot %d, partition %d went backwards:\n was %+v\n now %+v", snaps, i, q, p)
					}
				}
			}
			p, q := st.Subscribers[0], prev.Subscribers[0]
			if p.Offered < q.Offered || p.Received < q.Received || p.Dropped < q.Dropped ||
				p.TimedOut < q.TimedOut || p.Discarded < q.Discarded {
				if backwards++; backwards <= 5 {
					t.Errorf("snapshot %d, the subscriber went backwards:\n was %+v\n now %+v", snaps, q, p)
				}
			}
		}
		if s := st.Subscribers[0]; s.Offered != s.Received+s.Dropped+s.TimedOut+s.Discarded+s.Queued {
			t.Errorf("snapshot %d: subscriber %+v breaks offered = received + dropped + timed out + discarded + queued", snaps, s)
		}
		prev = st
	}
	stop.Store(true)
	wg.Wait()
	shutdown(t, b) // closes the subscriber's queue once it is drained
	recv.Wait()
	if backwards > 0 {
		t.Errorf("%d of %d snapshots had a counter go backwards", backwards, snaps)
	}
	st := b.Stats()
	checkInvariant(t, st)
	if tot := st.Total(); tot.Queued != 0 || tot.Published != tot.Delivered+tot.Dropped {
		t.Errorf("after Shutdown: %+v", tot)
	}
}
