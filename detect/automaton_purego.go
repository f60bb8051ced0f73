//go:build purego

package detect

import "encoding/binary"

// cell returns next[i], for i a row offset plus a class (the safe twin of
// automaton_unsafe.go's).
func cell(next []int32, i int32) int32 { return next[i] }

// put4 writes v's four bytes, lowest first, at b[i:i+4].
func put4(b []byte, i int, v uint32) { binary.LittleEndian.PutUint32(b[i:i+4], v) }
