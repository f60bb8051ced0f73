// This file holds the package's only use of unsafe: viewing bytes of a
// decompressed binary block (or of an arena) as a string without copying.
// It relies on those bytes never being written again once a value
// references them: the binary reader decompresses every block into a fresh
// buffer that it never reuses when values reference it (see
// ReaderOptions.CopyStrings), and value.Arena never rewrites what it handed
// out. The garbage collector keeps the buffer alive through the pointer.

package replay

import "unsafe"

// bytesView returns b as a string sharing b's memory.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// stringBytes returns s as a byte slice sharing s's memory; callers must not
// modify it.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
