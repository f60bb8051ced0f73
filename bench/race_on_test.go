//go:build race

package bench_test

// raceEnabled: the race detector allocates, so allocation tests skip.
const raceEnabled = true
