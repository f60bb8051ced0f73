// This file holds the package's only use of unsafe: viewing a decoder's input
// line as a string without copying it. It relies on the decoder never
// keeping that string (or any substring of it) past the call: every string
// that ends up in an Event is copied into the decoder's value.Arena first.

package schema

import "unsafe"

func bytesToString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// stringToBytes views s as bytes without copying; the bytes must never be
// written.
func stringToBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
