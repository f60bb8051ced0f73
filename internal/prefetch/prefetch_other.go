//go:build purego || !(amd64 || arm64)

package prefetch

// Lines does nothing here: no prefetch instruction is wired in for this
// architecture (or the purego tag is set).
func Lines(addr, n uintptr) {}
