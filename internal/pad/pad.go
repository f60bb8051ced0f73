// Package pad sizes the padding that keeps hot fields on cache lines of
// their own, for every package of the module but ring (which imports
// nothing of ours and keeps its own, with its own layout test).
package pad

// CacheLine is the padding unit: 64-byte lines, doubled because amd64's
// adjacent-line prefetcher fetches lines in 128-byte pairs, so two atomics
// 64 bytes apart still contend.
const CacheLine = 128

// Line is one CacheLine of padding: put one between fields that different
// goroutines write, and around a struct that sits in a slice.
type Line [CacheLine]byte
