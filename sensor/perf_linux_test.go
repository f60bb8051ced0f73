//go:build linux

package sensor_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/sensor"
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
