package bench

import (
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's monotonic clock in nanoseconds: the clock
// time.Now reads, without building a time.Time (about half the cost here,
// which matters when every event is stamped twice). runtime.nanotime is
// one of the runtime symbols the Go team keeps available to linkname
// because widely used modules rely on it.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
