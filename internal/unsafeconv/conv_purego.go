//go:build purego

package unsafeconv

// String returns a copy of b as a string.
func String(b []byte) string { return string(b) }

// Bytes returns a copy of s as a byte slice.
func Bytes(s string) []byte { return []byte(s) }

// Copies reports whether String and Bytes copy (the purego build): tests
// that count allocations skip then.
const Copies = true
