//go:build !purego

// This file holds the automaton's use of unsafe: a transition table load
// without a bounds check, in the loops that step the DFA over a value.
// It relies on buildAutomaton's invariant: every entry of an automaton's
// next, complemented back when negative, is a row offset (a state times
// nclass) and every class is below nclass, so a row offset plus a class
// is always an index inside next. And a store of a rune's image, four
// bytes at a time, without a bounds check: image keeps four bytes of room
// past where it writes. automaton_purego.go is its safe twin.

package detect

import "unsafe"

// cell returns next[i], for i a row offset plus a class.
func cell(next []int32, i int32) int32 {
	return *(*int32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(next)), uintptr(uint32(i))*4))
}

// put4 writes v's four bytes, lowest first, at b[i:i+4], which must be
// inside b.
func put4(b []byte, i int, v uint32) {
	*(*[4]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i)) = [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}
