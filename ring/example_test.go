package ring_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/kestrel-sec/kestrel/ring"
)

// Values one at a time: Push blocks while the ring is full, Pop while it is
// empty, and after Close the consumer drains what was pushed, then gets
// ErrClosed.
func ExampleNewSPSC() {
	r := ring.NewSPSC[string](4, ring.Wait{})
	ctx := context.Background()
	go func() {
		for _, s := range []string{"exec", "open", "connect"} {
			if err := r.Push(ctx, s); err != nil {
				return
			}
		}
		r.Close()
	}()
	for {
		s, err := r.Pop(ctx)
		if err == ring.ErrClosed {
			break
		}
		fmt.Println(s)
	}
	// Output:
	// exec
	// open
	// connect
}

type event struct {
	producer, n int
}

// Batches in place: producers reserve a run of slots, fill them through
// Slot and publish them with one Commit; the consumer reads each committed
// run through Slot and frees it with one Release.
func ExampleNewMPSC() {
	r := ring.NewMPSC[event](64, ring.Wait{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; {
				seq, got, err := r.Reserve(ctx, min(10, 100-i))
				if err != nil {
					return
				}
				for j := range got {
					*r.Slot(seq + uint64(j)) = event{producer: p, n: i + j}
				}
				r.Commit(seq, got)
				i += got
			}
		}()
	}
	go func() { wg.Wait(); r.Close() }()

	var counts [3]int
	for {
		seq, n, err := r.WaitRead(ctx)
		if err != nil { // ErrClosed: closed and drained
			break
		}
		for j := range n {
			e := r.Slot(seq + uint64(j))
			if e.n != counts[e.producer] {
				fmt.Println("out of order")
			}
			counts[e.producer]++
		}
		r.Release(n)
	}
	fmt.Println(counts)
	// Output:
	// [100 100 100]
}

// A Wait with negative fields parks at once, the cheapest choice in CPU
// for a consumer that is idle most of the time; the zero Wait spins and
// yields a little first.
func ExampleWait() {
	w := ring.Wait{Spin: -1, Yield: 8}
	fmt.Println(w.Validate())
	fmt.Println(ring.Wait{Spin: ring.MaxSpin + 1}.Validate())
	// Output:
	// <nil>
	// ring: invalid wait strategy: Spin 65537 above maximum 65536
}
