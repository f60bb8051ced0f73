package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

func TestWorkersDefault(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, tc := range []struct{ partitions, workers, want int }{
		{1, 0, 1},
		{procs, 0, procs},
		{procs + 3, 0, procs},
		{8, 3, 3},
		{2, 5, 2}, // clamped to the partitions
	} {
		b, err := New(Config{Partitions: tc.partitions, Workers: tc.workers})
		if err != nil {
			t.Fatal(err)
		}
		if b.Workers() != tc.want {
			t.Errorf("Partitions %d, Workers %d: %d workers, want %d", tc.partitions, tc.workers, b.Workers(), tc.want)
		}
		for p := range tc.partitions {
			if w := b.WorkerOf(p); w != p%tc.want {
				t.Errorf("WorkerOf(%d) = %d", p, w)
			}
		}
		shutdown(t, b)
	}
	if _, err := New(Config{Workers: -1}); err == nil {
		t.Error("negative Workers accepted")
	}
}

// Eight partitions on three workers: every event is delivered once, in
// publish order per partition, from three producers; a worker never runs
// two Handler calls at once; and every partition's calls come from the
// worker that owns it.
func TestWorkersMultiplexed(t *testing.T) {
	const partitions, workers, producers, per = 8, 3, 3, 20_000
	b := newBus(t, Config{Partitions: partitions, Workers: workers, QueueSize: 64, BatchSize: 16, BackpressureTimeout: time.Minute})
	sub, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	var inCall [workers]atomic.Int32
	last := make([][producers]uint64, partitions) // by partition, producer: last seq + 1
	var bad atomic.Int64
	err = b.Run(func(p int, batch []*schema.Event) {
		w := b.WorkerOf(p)
		if inCall[w].Add(1) != 1 {
			bad.Add(1) // two calls of one worker at once
		}
		for _, ev := range batch {
			if b.PartitionOf(ev.Entity) != p {
				bad.Add(1)
			}
			prod, seq := ev.ID/per, seqOf(t, ev)
			if seq+1 <= last[p][prod] {
				bad.Add(1) // out of order
			}
			last[p][prod] = seq + 1
		}
		inCall[w].Add(-1)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []schema.Event
	done := make(chan struct{})
	go func() { got = recvAll(t, sub); close(done) }()
	var wg sync.WaitGroup
	for prod := range producers {
		wg.Go(func() {
			var ev schema.Event
			for i := range per {
				id := uint64(prod*per + i)
				fill(t, &ev, id, schema.EntityKeyFrom64(uint64(i%50)), uint64(i), false)
				if err := b.Publish(&ev); err != nil {
					t.Error(err)
					return
				}
				if i%1000 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	shutdown(t, b)
	<-done
	if bad.Load() != 0 {
		t.Fatalf("%d order, partition or concurrency violations", bad.Load())
	}
	if len(got) != producers*per {
		t.Fatalf("subscriber got %d events, want %d", len(got), producers*per)
	}
	st := b.Stats()
	checkInvariant(t, st)
	if tot := st.Total(); tot.Delivered != producers*per {
		t.Errorf("delivered %d", tot.Delivered)
	}
}
