package ring

import "unsafe"

// pageBytes is the smallest page size of the platforms Kestrel runs on;
// where pages are larger, prefault writes more often than it must.
const pageBytes = 4096

// prefault writes a zero value into s at least once a page, so that the OS
// maps its pages while the ring is built rather than on the first write to
// each of them. A large allocation often comes straight from the OS,
// unmapped, and a page fault costs 10-15 µs on a virtual machine: a new
// bus's rings would pay one every 15 slots of 272 bytes through their
// first lap, inside the latency an embedder measures.
func prefault[T any](s []T) {
	if len(s) == 0 {
		return
	}
	var zero T
	// step values span at most one page, so every page holds the start of
	// one written value or lies under one (a value larger than a page).
	step := max(1, pageBytes/int(unsafe.Sizeof(zero)))
	for i := 0; i < len(s); i += step {
		s[i] = zero
	}
	s[len(s)-1] = zero
}
