package bench

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/kestrel-sec/kestrel/ring"
)

// Config sets what a run measures and for how long. The zero Config is the
// default run (under a minute on two cores); Quick shortens every scenario
// for CI (under 20 s).
type Config struct {
	// Quick runs every scenario briefly.
	Quick bool `json:"quick"`
	// Measure is how long each latency or throughput measurement runs,
	// after Warmup. 0 means 1 s (Quick: 250 ms).
	Measure time.Duration `json:"measure_ns"`
	// Warmup runs before each measurement and is not recorded. 0 means
	// 200 ms (Quick: 50 ms).
	Warmup time.Duration `json:"warmup_ns"`
	// SteadyRate is the publish rate, per producer, of the steady
	// scenarios, in events per second. 0 means 100,000.
	SteadyRate int `json:"steady_rate"`
	// Partitions and Producers are the throughput grid. Empty means
	// partitions {1, 2, 4, 8, 16} and producers {1, 2, 4} (Quick:
	// partitions {1, 2, 4}, producers {1, 2}).
	Partitions []int `json:"partitions"`
	Producers  []int `json:"producers"`
	// ReplayEvents is the size of the generated log. 0 means 200,000
	// (Quick: 50,000).
	ReplayEvents int `json:"replay_events"`
	// Seed seeds the event generator, so runs are comparable.
	Seed int64 `json:"seed"`
	// DefaultWait runs the latency and idle scenarios with the ring's
	// default wait strategy (park after a few microseconds idle) instead of
	// ring.LowLatency (spin about 50 µs before parking), to show what the
	// latency profile buys. Throughput and replay always run with the
	// default: a consumer spinning on the producer's cursor steals the
	// cache line the producer writes, and spinners outnumber two cores.
	DefaultWait bool `json:"default_wait"`
	// LatencyProcs is the GOMAXPROCS of the latency scenarios. 0 means one
	// less than the machine's CPUs (at least 1, at most the current
	// GOMAXPROCS): a paced producer and a waiting worker each keep a CPU
	// busy, and on a 2-vCPU machine two of them leave none for the kernel's
	// own threads, which then preempt the measured worker for up to
	// milliseconds (PERF.md, "what limits each figure"). The 1-producer
	// steady scenario is also measured at the full GOMAXPROCS, reported
	// beside it and not gated.
	LatencyProcs int `json:"latency_procs,omitempty"`
	// HandlerDelay, for testing the gate, makes Kestrel's handler in the
	// latency scenarios busy-wait this long per event: a real regression
	// that the gate must fail on, disturbed machine or not.
	HandlerDelay time.Duration `json:"handler_delay_ns,omitempty"`
	// Only, when set, runs only the scenarios whose names have this prefix.
	Only string `json:"only,omitempty"`
	// Progress, when set, is told the name of each measurement as it starts.
	Progress func(step string) `json:"-"`
}

// ErrInvalidConfig is matched by every Config.Validate error.
var ErrInvalidConfig = errors.New("bench: invalid config")

// Validate reports a config that cannot run.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Measure < 0 || c.Warmup < 0 {
		return bad("negative duration")
	}
	if c.LatencyProcs < 0 || c.HandlerDelay < 0 {
		return bad("negative LatencyProcs or HandlerDelay")
	}
	if c.SteadyRate < 0 || c.ReplayEvents < 0 {
		return bad("negative rate or event count")
	}
	for _, n := range append(append([]int(nil), c.Partitions...), c.Producers...) {
		if n < 1 || n > 256 {
			return bad("partitions and producers must be 1..256, got %d", n)
		}
	}
	return nil
}

// wait returns the bus's wait strategy for this run.
func (c *Config) wait() ring.Wait {
	if c.DefaultWait {
		return ring.Wait{}
	}
	return ring.LowLatency()
}

// latencyProcs returns the GOMAXPROCS of the latency scenarios.
func (c *Config) latencyProcs() int {
	if c.LatencyProcs > 0 {
		return c.LatencyProcs
	}
	return max(1, min(runtime.GOMAXPROCS(0), runtime.NumCPU()-1))
}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	if c.Measure == 0 {
		c.Measure = time.Second
		if c.Quick {
			c.Measure = 250 * time.Millisecond
		}
	}
	if c.Warmup == 0 {
		c.Warmup = 200 * time.Millisecond
		if c.Quick {
			c.Warmup = 50 * time.Millisecond
		}
	}
	if c.SteadyRate == 0 {
		c.SteadyRate = 100_000
	}
	if len(c.Partitions) == 0 {
		c.Partitions = []int{1, 2, 4, 8, 16}
		if c.Quick {
			c.Partitions = []int{1, 2, 4}
		}
	}
	if len(c.Producers) == 0 {
		c.Producers = []int{1, 2, 4}
		if c.Quick {
			c.Producers = []int{1, 2}
		}
	}
	if c.ReplayEvents == 0 {
		c.ReplayEvents = 200_000
		if c.Quick {
			c.ReplayEvents = 50_000
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}
