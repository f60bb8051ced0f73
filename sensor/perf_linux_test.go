//go:build linux

package sensor_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sensor"
	"github.com/kestrel-sec/kestrel/sink"
)

// TestOverhead measures the sensor under an exec loop: set
// KESTREL_SENSOR_PERF to the number of /bin/true runs (PERF.md, "The live
// sensor"). It reports events per second, this process's CPU time per
// million events (sensor and bus; the workload runs in a child), drops,
// and the kernel programs' own time per run (charged to the processes they
// run in, the workload's, so not in this process's CPU time), from the
// kernel's BPF statistics, enabled for the test.
func TestOverhead(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("KESTREL_SENSOR_PERF"))
	if n <= 0 {
		t.Skip("set KESTREL_SENSOR_PERF=2000 to measure the sensor's overhead")
	}
	needRoot(t)
	bpfStats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		t.Fatalf("enable BPF statistics: %v", err)
	}
	defer bpfStats.Close()
	for _, noFiles := range []bool{false, true} {
		// A small queue, so that the run reaches the steady state in which
		// every slot's spilled-field storage has been grown once already.
		bus, err := engine.New(engine.Config{Partitions: 2, QueueSize: 1024})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.Run(nil); err != nil {
			t.Fatal(err)
		}
		s, err := sensor.New(sensor.Config{Bus: bus, Registry: rule.DefaultRegistry(), NoFiles: noFiles})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-s.Ready()
		var ru0, ru1 unix.Rusage
		// Idle: the host's own events only, for a second.
		idle0 := s.Stats()
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		time.Sleep(time.Second)
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		t.Logf("files=%v: idle second: %d events, CPU %v", !noFiles, s.Stats().Published-idle0.Published, cpuTime(ru0, ru1).Round(time.Microsecond))

		before := s.Stats()
		k0 := sensor.KernelStats(s)
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		start := time.Now()
		loop := "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do /bin/true; i=$((i+1)); done"
		if err := exec.Command("/bin/sh", "-c", loop).Run(); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(start)
		// Let the reader catch up with what the loop left in the ring.
		for prev := uint64(0); ; time.Sleep(50 * time.Millisecond) {
			if r := s.Stats().Read; r == prev {
				break
			} else {
				prev = r
			}
		}
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		after := s.Stats()
		k1 := sensor.KernelStats(s)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := bus.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		cpu := cpuTime(ru0, ru1)
		evs := after.Published - before.Published
		t.Logf("files=%v: %d execs in %v: %d events (%.0f events/s, %.1f per exec), CPU %v = %.2f s per million events; kernel drops %d, bus drops %d",
			!noFiles, n, wall.Round(time.Millisecond), evs, float64(evs)/wall.Seconds(), float64(evs)/float64(n),
			cpu.Round(time.Millisecond), cpu.Seconds()/float64(evs)*1e6,
			after.KernelDrops-before.KernelDrops, after.BusDropped-before.BusDropped)
		for _, name := range []string{"exec", "fork", "exit", "openat", "sock_state", "accept4"} {
			n := k1[name].RunCount - k0[name].RunCount
			if n == 0 {
				continue
			}
			d := k1[name].Runtime - k0[name].Runtime
			t.Logf("files=%v: kernel program %s: %d runs, %v per run", !noFiles, name, n, (d / time.Duration(n)).Round(10*time.Nanosecond))
		}
	}
}

// cpuTime returns the user and system time spent between two readings.
func cpuTime(a, b unix.Rusage) time.Duration {
	return time.Duration(b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano())
}

// alertTimes is a detect.Emitter that keeps, for each alert, the time from
// its event's kernel timestamp to the alert's emission.
type alertTimes struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (a *alertTimes) Emit(al *sink.Alert) error {
	now := time.Now().UnixNano()
	a.mu.Lock()
	a.lat = append(a.lat, time.Duration(now-int64(al.TsWall)))
	a.mu.Unlock()
	return nil
}

func (a *alertTimes) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.lat)
}

// TestExecToAlert measures, with KESTREL_SENSOR_PERF set, the latency from
// an exec in the kernel (the event's timestamp, taken by the eBPF program)
// to the alert of a one-step rule on it (the detector's emission): the
// ring buffer, the reader's batching (Config.MaxDelay), the bus and
// detection. It runs 200 marked execs, one every 5 ms, with the default
// MaxDelay and with a wakeup per record, and reports P50, P99 and the
// maximum of each.
func TestExecToAlert(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("KESTREL_SENSOR_PERF"))
	if n <= 0 {
		t.Skip("set KESTREL_SENSOR_PERF=2000 to measure exec-to-alert latency")
	}
	needRoot(t)
	reg := rule.DefaultRegistry()
	q, err := rule.Compile("marked.eql", `process where event.action == "exec" and process.command_line : "*kestrel-latency-marker*"`, reg)
	if err != nil {
		t.Fatal(err)
	}
	rules := []*rule.Package{{Manifest: &rule.Manifest{RuleID: "marked", RuleName: "marked exec", Severity: schema.SeverityLow}, Query: q}}
	const execs = 200
	for _, maxDelay := range []time.Duration{0, -1} {
		out := &alertTimes{}
		det, err := detect.New(detect.Config{Partitions: 2, Output: out, Rules: rules,
			EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, 2) }})
		if err != nil {
			t.Fatal(err)
		}
		bus, err := engine.New(engine.Config{Partitions: 2, QueueSize: 1024, Route: det.Route})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.Run(det.Handle); err != nil {
			t.Fatal(err)
		}
		s, err := sensor.New(sensor.Config{Bus: bus, Registry: reg, NoFiles: true, MaxDelay: maxDelay})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-s.Ready()
		for range execs {
			if err := exec.Command("/bin/true", "kestrel-latency-marker").Run(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := 0; out.count() < execs && i < 100; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := bus.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		lat := slices.Clone(out.lat)
		if len(lat) != execs {
			t.Fatalf("MaxDelay %v: %d alerts for %d marked execs", maxDelay, len(lat), execs)
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration {
			return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Microsecond)
		}
		t.Logf("MaxDelay %v (0: default %v, negative: a wakeup per record): exec-to-alert P50 %v, P99 %v, max %v over %d execs",
			maxDelay, sensor.DefaultMaxDelay, q(0.50), q(0.99), lat[len(lat)-1].Round(time.Microsecond), execs)
	}
}
