package bench

import (
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

// cpuMeter measures the CPU time, the wall time and the page faults of a
// stretch of work.
type cpuMeter struct {
	cpu0    time.Duration
	faults0 int64
	wall0   time.Time
}

func startCPU() cpuMeter {
	cpu, faults := usage()
	return cpuMeter{cpu0: cpu, faults0: faults, wall0: time.Now()}
}

// stop returns the CPU time, the minor page faults and the wall time since
// start.
func (m cpuMeter) stop() (cpu time.Duration, faults int64, wall time.Duration) {
	c, f := usage()
	return c - m.cpu0, f - m.faults0, time.Since(m.wall0)
}

// perMillion converts CPU time over n events into seconds per million.
func perMillion(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cpu.Seconds() * 1e6 / float64(n)
}
