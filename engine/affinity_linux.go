//go:build linux

package engine

import "golang.org/x/sys/unix"

// canPin says that pinThread works here.
const canPin = true

// pinThread binds the calling OS thread to cpu. The caller has locked its
// goroutine to the thread (runtime.LockOSThread); pid 0 names the calling
// thread for sched_setaffinity.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}
