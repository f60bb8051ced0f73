package engine

import (
	"errors"
	"sync"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

// TestPublishMove publishes events built in one reused Event with
// PublishMove, inline and spilled, on a plain, an Ordered and a routing
// bus: every event arrives whole and in order, the producer's Event is
// empty after each accepted move, and a bus left with spare storage
// circulating allocates nothing per event.
func TestPublishMove(t *testing.T) {
	for _, mode := range []string{"plain", "ordered", "routed"} {
		t.Run(mode, func(t *testing.T) {
			cfg := Config{Partitions: 2, QueueSize: 8}
			switch mode {
			case "ordered":
				cfg.Ordered = true
			case "routed":
				cfg.Route = func(*schema.Event) PartitionSet { return PartitionSet{} }
			}
			b := newBus(t, cfg)
			var mu sync.Mutex
			got := map[schema.EntityKey][]uint64{}
			spilled := 0
			if err := b.Run(func(_ int, batch []*schema.Event) {
				mu.Lock()
				defer mu.Unlock()
				for _, ev := range batch {
					got[ev.Entity] = append(got[ev.Entity], seqOf(t, ev))
					if len(ev.Fields()) > schema.InlineFields {
						spilled++
						if _, ok := ev.Get(fExtra + schema.InlineFields + 1); !ok {
							t.Errorf("event %d lost its last spilled field", ev.ID)
						}
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			const n = 200
			var ev schema.Event
			for i := range uint64(n) {
				key := schema.EntityKeyFrom64(i % 3)
				fill(t, &ev, i+1, key, i/3, i%2 == 0)
				if err := b.PublishMove(&ev); err != nil {
					t.Fatal(err)
				}
				if len(ev.Fields()) != 0 || ev.ID != 0 {
					t.Fatalf("event %d: the producer's Event is not empty after PublishMove", i)
				}
			}
			shutdown(t, b)
			for k, seqs := range got {
				for i, s := range seqs {
					if s != uint64(i) {
						t.Fatalf("entity %v: event %d has sequence %d", k, i, s)
					}
				}
			}
			if total := len(got[schema.EntityKeyFrom64(0)]) + len(got[schema.EntityKeyFrom64(1)]) + len(got[schema.EntityKeyFrom64(2)]); total != n || spilled != n/2 {
				t.Errorf("delivered %d events, %d spilled; want %d and %d", total, spilled, n, n/2)
			}
			checkInvariant(t, b.Stats())
		})
	}
}

// TestPublishMoveRefused leaves the producer's event as it was when the
// bus refuses it, so that it can be published again.
func TestPublishMoveRefused(t *testing.T) {
	b := newBus(t, Config{Partitions: 1, QueueSize: 2, Backpressure: Drop})
	key := schema.EntityKeyFrom64(1)
	var ev schema.Event
	for i := range uint64(2) {
		fill(t, &ev, i+1, key, i, true)
		if err := b.PublishMove(&ev); err != nil {
			t.Fatal(err)
		}
	}
	fill(t, &ev, 3, key, 2, true)
	want := string(ev.AppendJSON(nil))
	if err := b.PublishMove(&ev); !errors.Is(err, ErrDropped) {
		t.Fatalf("full partition: %v", err)
	}
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Fatalf("refused event changed:\n%s\nwant %s", got, want)
	}
	if err := b.PublishMove(nil); !errors.Is(err, ErrNilEvent) {
		t.Errorf("nil event: %v", err)
	}
	if err := b.Run(func(int, []*schema.Event) {}); err != nil {
		t.Fatal(err)
	}
	shutdown(t, b)
	if err := b.PublishMove(&ev); !errors.Is(err, ErrClosed) {
		t.Errorf("after Shutdown: %v", err)
	}
	checkInvariant(t, b.Stats())
}
