//go:build linux && amd64

package sensor_test

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// creat makes the creat system call (unix.Creat is an open): ok is false
// where the architecture has none.
func creat(path string, mode uint32) (ok bool, err error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return true, err
	}
	fd, _, errno := unix.Syscall(unix.SYS_CREAT, uintptr(unsafe.Pointer(p)), uintptr(mode), 0)
	if errno != 0 {
		return true, errno
	}
	return true, unix.Close(int(fd))
}
