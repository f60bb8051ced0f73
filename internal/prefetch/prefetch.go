// Package prefetch asks the CPU to bring memory into its cache ahead of use:
// a hint that reads and writes nothing Go can see, so it is safe on memory
// another goroutine is writing, and on an address that is stale or unmapped
// (a prefetch never faults). It is PREFETCHW on amd64 and PRFM PSTL1KEEP on
// arm64 (both: for a coming write); a no-op elsewhere and with the purego
// build tag.
package prefetch

// LineSize is the cache-line size Lines steps by.
const LineSize = 64
