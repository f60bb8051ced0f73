//go:build unix

package ring

import (
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
)

func minorFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skipf("getrusage: %v", err)
	}
	return int64(ru.Minflt)
}

// TestFirstLapNoPageFaults: a new ring's first lap through its slots maps
// no page (prefault did it in the constructor). Without prefault a 4 MiB
// ring fresh from the OS faults about a thousand times here.
func TestFirstLapNoPageFaults(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector maps its shadow memory on first touch")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	type slot [256]byte
	for _, c := range []struct {
		name string
		lap  func() (write func(i int), n int)
	}{
		{"mpsc", func() (func(int), int) {
			r := NewMPSC[slot](1<<14, Wait{})
			return func(int) {
				seq, _ := r.TryReserve(1)
				r.Slot(seq)[0] = 1
				r.Commit(seq, 1)
				_, n := r.Peek()
				r.Release(n)
			}, r.Cap()
		}},
		{"spsc", func() (func(int), int) {
			r := NewSPSC[slot](1<<14, Wait{})
			return func(int) {
				seq, _ := r.TryReserve(1)
				r.Slot(seq)[0] = 1
				r.Commit(seq, 1)
				_, n := r.Peek()
				r.Release(n)
			}, r.Cap()
		}},
	} {
		write, n := c.lap()
		before := minorFaults(t)
		for i := range n {
			write(i)
		}
		// 4 MiB is 1024 pages; a few faults may be the runtime's own.
		if got := minorFaults(t) - before; got > 64 {
			t.Errorf("%s: %d page faults in the first lap of %d slots", c.name, got, n)
		}
	}
}
