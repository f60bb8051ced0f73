//go:build linux

package sensor

import "github.com/cilium/ebpf"

// KernelStats exposes kernelStats to the overhead test.
func KernelStats(s *Sensor) map[string]ebpf.ProgramStats { return s.kernelStats() }
