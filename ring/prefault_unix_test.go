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
	for _, c := range []struct {
		name string
		lap  func() (write func(), n int)
	}{
		{"mpsc", func() (func(), int) { return lapOf[*MPSC[faultSlot]](NewMPSC[faultSlot](1<<14, Wait{})) }},
		{"spsc", func() (func(), int) { return lapOf[*SPSC[faultSlot]](NewSPSC[faultSlot](1<<14, Wait{})) }},
	} {
		write, n := c.lap()
		before := minorFaults(t)
		for range n {
			write()
		}
		// 4 MiB is 1024 pages; a few faults may be the runtime's own.
		if got := minorFaults(t) - before; got > 64 {
			t.Errorf("%s: %d page faults in the first lap of %d slots", c.name, got, n)
		}
	}
}

type faultSlot [256]byte

// lapOf returns a step of r's first lap (reserve, write, commit, read,
// release one slot) and the lap's length.
func lapOf[R interface {
	TryReserve(n int) (uint64, int)
	Slot(seq uint64) *faultSlot
	Commit(seq uint64, n int)
	Peek() (uint64, int)
	Release(n int)
	Cap() int
}](r R) (func(), int) {
	return func() {
		seq, _ := r.TryReserve(1)
		r.Slot(seq)[0] = 1
		r.Commit(seq, 1)
		_, n := r.Peek()
		r.Release(n)
	}, r.Cap()
}
