//go:build purego

package detect

// cell returns next[i], for i a row offset plus a class (the safe twin of
// automaton_unsafe.go's).
func cell(next []int32, i int32) int32 { return next[i] }
