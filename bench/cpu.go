package bench

import (
	"runtime"
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	cpu, _ := usage()
	return cpu
}

// usage returns the process's user+system CPU time and its minor page
// faults (pages mapped on first touch) so far.
func usage() (cpu time.Duration, faults int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
}

// cpuMeter measures the CPU time, the wall time, the page faults and the
// heap allocations of a stretch of work.
type cpuMeter struct {
	cpu0    time.Duration
	faults0 int64
	allocs0 uint64
	wall0   time.Time
}

// meterReading is what a cpuMeter saw between its start and stop.
type meterReading struct {
	cpu    time.Duration // user + system, all threads
	faults int64         // minor page faults: memory touched for the first time
	allocs uint64        // heap allocations (objects, tiny ones included)
	wall   time.Duration
}

func startCPU() cpuMeter {
	cpu, faults := usage()
	return cpuMeter{cpu0: cpu, faults0: faults, allocs0: heapAllocs(), wall0: time.Now()}
}

// stop returns what the process did since start.
func (m cpuMeter) stop() meterReading {
	c, f := usage()
	return meterReading{cpu: c - m.cpu0, faults: f - m.faults0, allocs: heapAllocs() - m.allocs0, wall: time.Since(m.wall0)}
}

// heapAllocs returns the heap allocations the process has made so far.
// runtime.ReadMemStats stops the world for some microseconds, but it is
// exact: runtime/metrics counts a small allocation only once its span
// leaves the allocating P's cache, so it can miss a window's allocations
// or charge it with earlier ones.
func heapAllocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// perMillion converts CPU time over n events into seconds per million.
func perMillion(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cpu.Seconds() * 1e6 / float64(n)
}
