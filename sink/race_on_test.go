//go:build race

package sink

// raceEnabled: the race detector allocates and slows everything down, so
// allocation tests skip and stress tests shrink.
const raceEnabled = true
