//go:build purego || !(amd64 || arm64)

package ring

import "unsafe"

// prefetch is a no-op where there is no prefetch instruction wired in (or
// with the purego tag).
func prefetch(unsafe.Pointer, uintptr) {}
