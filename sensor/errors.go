package sensor

import "errors"

var (
	// ErrUnsupported: the sensor runs only on Linux.
	ErrUnsupported = errors.New("sensor: live sensor needs Linux with eBPF")
	// ErrPermission: loading or attaching eBPF programs was refused; run as
	// root, or with CAP_BPF and CAP_PERFMON (and CAP_SYS_ADMIN to mount
	// tracefs).
	ErrPermission = errors.New("sensor: permission denied: needs root or CAP_BPF+CAP_PERFMON")
	// ErrNoBTF: the kernel has no BTF (/sys/kernel/btf/vmlinux), which the
	// CO-RE programs need.
	ErrNoBTF = errors.New("sensor: kernel BTF missing (/sys/kernel/btf/vmlinux)")
	// ErrConfig: the Config is invalid.
	ErrConfig = errors.New("sensor: invalid config")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("sensor: Run called more than once")
)

// Error is a failure to set up the sensor: Op says which step, Err matches
// one of the sentinels above or wraps the system's error.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "sensor: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
