package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Disturbance is what the rest of the machine did while a figure was
// measured, read from Linux's /proc (zero and Known false elsewhere). On a
// machine of two vCPUs a measurement's tail is set by whoever else wants a
// CPU: a kernel thread that runs for a millisecond, a neighbour's build,
// the hypervisor's other guests (steal). A figure taken while any of that
// was large says so, and the gate does not fail on it alone (see Verdict).
type Disturbance struct {
	// Known reports whether the counters could be read.
	Known bool `json:"known"`
	// Steal is the share of the machine's CPU time that the hypervisor
	// gave to other guests (/proc/stat, 10 ms ticks), 0..1.
	Steal float64 `json:"steal"`
	// OtherCores is the CPU that everything but this process used (other
	// processes and the kernel: busy time in /proc/stat less this
	// process's own CPU time), in cores. Ticks are 10 ms, so over a short
	// window it is exact to about 0.01 s / window.
	OtherCores float64 `json:"other_cores"`
	// RunDelay is the time this process's threads spent runnable but
	// waiting for a CPU (the second field of /proc/self/task/*/schedstat),
	// summed over threads, as a share of the window: the preemptions the
	// measured goroutines suffered, whoever caused them.
	RunDelay float64 `json:"run_delay"`
	// Load1 is the one-minute load average at the end of the window.
	Load1 float64 `json:"load1"`
	// LateStart is how far into the window the meters started, as a share
	// of it: 0 when a producer read them before the window opened, as it
	// does unless it got no CPU then. Above 0 the harness's own reading ran
	// inside the window (at GOMAXPROCS 1, in the way of every event), and
	// the counters above do not cover the window's start. It is measured
	// on every platform.
	LateStart float64 `json:"late_start,omitempty"`
}

// Thresholds above which a window counts as disturbed. A quiet 2-vCPU
// machine of the project's kind measures steal 0, other work about 0.02
// cores (kernel threads such as kdamond and rcu, the container's agent)
// and a run delay under 0.5% of the window at the latency scenarios'
// GOMAXPROCS; a neighbour's build or test run is tenths of a core and
// percents of delay.
const (
	disturbedSteal      = 0.05
	disturbedOtherCores = 0.25
	disturbedRunDelay   = 0.02
	disturbedLateStart  = 0.01
)

// Disturbed reports whether the window was disturbed enough that its tail
// says more about the machine than about the code.
func (d Disturbance) Disturbed() bool {
	return d.LateStart > disturbedLateStart ||
		d.Known && (d.Steal > disturbedSteal || d.OtherCores > disturbedOtherCores || d.RunDelay > disturbedRunDelay)
}

// String describes d in a few words, for the report.
func (d Disturbance) String() string {
	s := "machine load unknown"
	if d.Known {
		s = fmt.Sprintf("steal %.1f%%, other load %.2f cores, run delay %.2f%%, load1 %.2f",
			100*d.Steal, d.OtherCores, 100*d.RunDelay, d.Load1)
	}
	if d.LateStart > 0 {
		s += fmt.Sprintf(", meters started %.1f%% into the window", 100*d.LateStart)
	}
	if d.Disturbed() {
		s += " (disturbed)"
	}
	return s
}

// machineSample is one reading of the counters Disturbance is made from.
type machineSample struct {
	ok          bool
	wall        time.Time
	busy, steal int64 // /proc/stat ticks over all CPUs
	total       int64
	self        time.Duration // this process's CPU time
	runDelay    int64         // ns, summed over this process's threads
}

// clockTick is the unit of /proc/stat (USER_HZ, 100 on every Linux
// architecture Go supports).
const clockTick = 10 * time.Millisecond

func sampleMachine() machineSample {
	s := machineSample{wall: time.Now(), self: cpuTime()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return s
		}
		s.total += v[i]
	}
	s.busy = v[0] + v[1] + v[2] + v[5] + v[6]
	s.steal = v[7]
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				s.runDelay += n
			}
		}
	}
	s.ok = len(tasks) > 0
	return s
}

// disturbanceBetween returns the disturbance of the window between a and b.
func disturbanceBetween(a, b machineSample) Disturbance {
	wall := b.wall.Sub(a.wall)
	if !a.ok || !b.ok || wall <= 0 {
		return Disturbance{}
	}
	d := Disturbance{Known: true}
	if total := b.total - a.total; total > 0 {
		d.Steal = float64(b.steal-a.steal) / float64(total)
	}
	busy := time.Duration(b.busy-a.busy) * clockTick
	if other := busy - (b.self - a.self); other > 0 {
		d.OtherCores = other.Seconds() / wall.Seconds()
	}
	if rd := b.runDelay - a.runDelay; rd > 0 {
		d.RunDelay = float64(rd) / float64(wall.Nanoseconds())
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			d.Load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return d
}
