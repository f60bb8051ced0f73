//go:build !linux

package engine

// canPin is false off Linux: Config.CPUs is ignored there.
const canPin = false

func pinThread(int) error { return nil }
