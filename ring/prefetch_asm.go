//go:build !purego && (amd64 || arm64)

package ring

import "unsafe"

// prefetch asks the CPU to bring the cache lines of [addr, addr+n) into its
// nearest cache for writing. It reads and writes no Go-visible memory.
//
//go:noescape
func prefetch(addr unsafe.Pointer, n uintptr)
