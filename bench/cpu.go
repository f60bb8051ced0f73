package bench

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU time and wall time of a stretch of work.
type cpuMeter struct {
	cpu0  time.Duration
	wall0 time.Time
}

func startCPU() cpuMeter { return cpuMeter{cpu0: cpuTime(), wall0: time.Now()} }

// stop returns the CPU time and wall time since start.
func (m cpuMeter) stop() (cpu, wall time.Duration) {
	return cpuTime() - m.cpu0, time.Since(m.wall0)
}

// perMillion converts CPU time over n events into seconds per million.
func perMillion(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cpu.Seconds() * 1e6 / float64(n)
}
