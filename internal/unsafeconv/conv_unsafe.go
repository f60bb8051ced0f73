//go:build !purego

package unsafeconv

import "unsafe"

// String returns b as a string sharing b's memory.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Bytes returns s as a byte slice sharing s's memory; it must not be written.
func Bytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Copies reports whether String and Bytes copy (the purego build): tests
// that count allocations skip then.
const Copies = false
