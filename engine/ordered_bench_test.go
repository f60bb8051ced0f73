package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// BenchmarkOrdered measures what Config.Ordered costs per event: 1 and 3
// producers (each publishing its own events in timestamp order, the
// producers' timestamps interleaved), one by one, into 2 partitions, with
// and without the merge. ns/op is per event, end to end (the bus is drained
// inside the timed region).
func BenchmarkOrdered(b *testing.B) {
	for _, ordered := range []bool{false, true} {
		for _, producers := range []int{1, 3} {
			b.Run(fmt.Sprintf("ordered=%v/producers=%d/partitions=2", ordered, producers), func(b *testing.B) {
				b.ReportAllocs()
				bus, err := New(Config{Partitions: 2, QueueSize: benchQueue, BackpressureTimeout: time.Minute, Ordered: ordered})
				if err != nil {
					b.Fatal(err)
				}
				if err := bus.Run(lastSeq); err != nil {
					b.Fatal(err)
				}
				prods := make([]*Producer, producers)
				evs := make([][]schema.Event, producers)
				for p := range prods {
					if prods[p], err = bus.Producer(); err != nil {
						b.Fatal(err)
					}
					evs[p] = make([]schema.Event, benchKeys)
					for k := range evs[p] {
						evs[p][k] = benchEvent(b, uint64(k), schema.EntityKey{Hi: uint64(p), Lo: uint64(k)})
					}
				}
				var wg sync.WaitGroup
				b.ResetTimer()
				for p, pr := range prods {
					n := b.N / producers
					if p == 0 {
						n += b.N % producers
					}
					wg.Go(func() {
						defer pr.Close()
						mine := evs[p]
						for i := range n {
							ev := &mine[i%benchKeys]
							ev.TsMono = schema.TimestampMono(uint64(i*producers + p))
							if err := pr.Publish(ev); err != nil {
								b.Error(err)
							}
						}
					})
				}
				wg.Wait()
				if err := bus.Shutdown(b.Context()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				reportRate(b)
			})
		}
	}
}
