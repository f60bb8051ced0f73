package detect

import (
	"slices"
	"strings"
	"testing"
)

// marks scans s with a (through search when prefilter, else the plain
// DFA) and returns the slots it reported.
func marks(a *automaton, s string, fold, prefilter bool, n int) []int32 {
	sc := &evalScratch{epoch: 1, slotMark: make([]uint32, n), ruleMark: make([]uint32, n), slotRule: make([]int32, n)}
	if prefilter {
		a.search(s, fold, sc)
	} else {
		a.run(s, fold, sc)
	}
	var out []int32
	for i, m := range sc.slotMark {
		if m == 1 {
			out = append(out, int32(i))
		}
	}
	return out
}

// checkSearch fails when the prefiltered search of patterns (separated by
// |) in s differs from the DFA's: in the slots reported, and in finding
// one at all.
func checkSearch(t *testing.T, patterns, s string, fold bool) {
	t.Helper()
	var pats []string
	for _, p := range strings.Split(patterns, "|") {
		if p != "" {
			if fold {
				p = string(appendFold(nil, p))
			}
			pats = append(pats, p)
		}
	}
	if len(pats) == 0 || len(pats) > 16 {
		return
	}
	slots := make([]int32, len(pats))
	for i := range slots {
		slots[i] = int32(i)
	}
	a := buildAutomaton(pats, slots, true, fold)
	if a == nil {
		return
	}
	want := marks(a, s, fold, false, len(pats))
	defer func(n int) { pairMinCells = n }(pairMinCells)
	for _, cells := range []int{pairMinCells, 0} { // as configured, then the pair test forced
		pairMinCells = cells
		if got := marks(a, s, fold, true, len(pats)); !slices.Equal(got, want) {
			t.Fatalf("%q in %q (fold %v, pairs from %d cells): search reports %v, the DFA %v", pats, s, fold, cells, got, want)
		}
	}
	if f, r := a.search(s, fold, nil), a.run(s, fold, nil); (f < 0) != (r < 0) {
		t.Fatalf("%q in %q (fold %v): search finds at %d, the DFA at %d", pats, s, fold, f, r)
	}
	if len(pats) == 1 {
		if f, r := a.search(s, fold, nil), a.run(s, fold, nil); f != r {
			t.Fatalf("%q in %q (fold %v): search ends at %d, the DFA at %d", pats, s, fold, f, r)
		}
	}
}

// TestSearchCutover: input that makes every position start a long
// partial match sends the search to the DFA, with the same answers.
func TestSearchCutover(t *testing.T) {
	long := strings.Repeat("a", 40)
	for _, c := range [][2]string{
		{long + "b|aab", strings.Repeat("a", 5000) + "b"},
		{long + "b|zz", strings.Repeat("a", 5000)},
		{long + "b", strings.Repeat("a", 300) + "A" + long + "B"},
		{"kx|ab", strings.Repeat("ab", 100) + "\u212aX"},
		{"éb|x", strings.Repeat("a", 100) + "ÉB"},
		{"a|b", ""},
		{"ab", "a"},
	} {
		checkSearch(t, c[0], c[1], true)
		checkSearch(t, c[0], c[1], false)
	}
}

// FuzzAutomatonSearch: the prefiltered search reports exactly what the
// DFA does, folded or not, on any input.
func FuzzAutomatonSearch(f *testing.F) {
	f.Add("-enc|iex|/dev/tcp/", "powershell -ENC aGk= | IEX", true)
	f.Add("k|ſs", "\u212a\u017fS", true)
	f.Add("aab|aaaaaaaab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false)
	f.Add("é|\ufffd", "x\xffÉ", true)
	f.Fuzz(func(t *testing.T, patterns, s string, fold bool) {
		checkSearch(t, patterns, s, fold)
	})
}
