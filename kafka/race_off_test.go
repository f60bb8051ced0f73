//go:build !race

package kafka

// raceEnabled is true under -race, which allocates on its own and slows
// everything several times: allocation tests skip and stress tests shrink.
const raceEnabled = false
