//go:build !purego && (amd64 || arm64)

package prefetch

// Lines prefetches, for writing, every cache line of [addr, addr+n). addr
// is an address as an integer: Lines never dereferences it in Go, and the
// memory need not stay alive.
//
//go:noescape
func Lines(addr, n uintptr)
