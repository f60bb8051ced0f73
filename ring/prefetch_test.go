package ring

import (
	"sync"
	"testing"
)

// TestPrefetch checks that Prefetch changes nothing a ring holds, on any
// slot (free, committed and unread, and one a concurrent producer is
// filling: it reads no slot, so the race detector has nothing to see), and
// allocates nothing.
func TestPrefetch(t *testing.T) {
	type big struct{ a [33]uint64 }
	r := NewMPSC[big](8, Wait{})
	for seq := uint64(0); seq < 64; seq++ {
		r.Prefetch(seq) // free slots, every lap
	}
	for i := range 5 {
		if !r.TryPush(big{a: [33]uint64{0: uint64(i), 32: uint64(i)}}) {
			t.Fatalf("push %d refused", i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a second producer fills the slots the loop below hints
		defer wg.Done()
		for i := 5; i < 8; i++ {
			r.TryPush(big{a: [33]uint64{0: uint64(i), 32: uint64(i)}})
		}
	}()
	for range 1000 {
		for seq := uint64(0); seq < 16; seq++ {
			r.Prefetch(seq)
		}
	}
	wg.Wait()
	for i := range 8 {
		v, ok := r.TryPop()
		if !ok || v.a[0] != uint64(i) || v.a[32] != uint64(i) {
			t.Fatalf("pop %d: got %v %v, want %d at both ends", i, ok, v.a, i)
		}
	}
	ints := NewMPSC[int](4, Wait{})
	if n := testing.AllocsPerRun(100, func() { ints.Prefetch(3); r.Prefetch(5) }); n != 0 {
		t.Errorf("Prefetch allocates %v times", n)
	}
}
