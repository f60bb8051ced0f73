//go:build !linux

package engine

// pinThread does nothing off Linux: Config.CPUs is ignored there.
func pinThread(int) error { return nil }
