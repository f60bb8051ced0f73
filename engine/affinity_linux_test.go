//go:build linux

package engine

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kestrel-sec/kestrel/schema"
)

// TestPinnedWorkers checks that with Config.CPUs each worker's thread is
// bound to its CPU while it runs the Handler.
func TestPinnedWorkers(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Skipf("sched_getaffinity: %v", err)
	}
	var cpus []int
	for c := 0; c < 1024 && len(cpus) < 2; c++ {
		if allowed.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		// With one CPU allowed an unpinned thread shows the same set:
		// nothing would tell pinning from no pinning.
		t.Skip("fewer than 2 CPUs allowed")
	}
	b := newBus(t, Config{Partitions: 4, CPUs: cpus})
	seen := make([][]int, b.Partitions()) // per partition: no lock
	if err := b.Run(func(part int, _ []*schema.Event) {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			t.Errorf("partition %d: sched_getaffinity: %v", part, err)
			return
		}
		var on []int
		for c := range 1024 {
			if set.IsSet(c) {
				on = append(on, c)
			}
		}
		seen[part] = on
	}); err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	for i := range uint64(64) {
		fill(t, &ev, i, schema.EntityKeyFrom64(i), 0, false)
		if err := b.Publish(&ev); err != nil {
			t.Fatal(err)
		}
	}
	shutdown(t, b)
	checked := 0
	for part, on := range seen {
		if on == nil {
			continue // no event for this partition
		}
		checked++
		if want := cpus[part%len(cpus)]; len(on) != 1 || on[0] != want {
			t.Errorf("partition %d ran on CPUs %v, want only %d", part, on, want)
		}
	}
	if checked == 0 {
		t.Error("no partition handled an event: nothing was checked")
	}
}
