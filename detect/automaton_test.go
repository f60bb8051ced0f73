package detect

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
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

// checkSearch fails when the search of patterns (separated by |) in s,
// or the DFA's run, differs from a reference (the patterns in s's folded
// image): in the slots reported, in finding one at all, and for a single
// pattern in where its leftmost occurrence ends.
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
	img := imageOf(s, fold)
	var want []int32 // the reference: the patterns in s's image
	for i, p := range pats {
		if strings.Contains(img, p) {
			want = append(want, int32(i))
		}
	}
	if len(want) == 0 {
		want = nil
	}
	defer func(l, m, m2 int) { imageLimit, laneMin, laneMin2 = l, m, m2 }(imageLimit, laneMin, laneMin2)
	// As configured; with image blocks of a few bytes; with four lanes
	// from 64 bytes; with two lanes from 4.
	for _, c := range [][3]int{{imageLimit, laneMin, laneMin2}, {7, laneMin, laneMin2}, {imageLimit, 64, laneMin2}, {imageLimit, 1 << 30, 4}} {
		imageLimit, laneMin, laneMin2 = c[0], c[1], c[2]
		if got := marks(a, s, fold, false, len(pats)); !slices.Equal(got, want) {
			t.Fatalf("%q in %q (fold %v, %v): the DFA reports %v, want %v", pats, s, fold, c, got, want)
		}
		if got := marks(a, s, fold, true, len(pats)); !slices.Equal(got, want) {
			t.Fatalf("%q in %q (fold %v, %v): search reports %v, want %v", pats, s, fold, c, got, want)
		}
		f, r := a.search(s, fold, nil), a.run(s, fold, nil)
		if (f < 0) != (want == nil) || (r < 0) != (want == nil) {
			t.Fatalf("%q in %q (fold %v, %v): search finds at %d, the DFA at %d, want %v", pats, s, fold, c, f, r, want)
		}
		if len(pats) == 1 && want != nil {
			// The leftmost end: the shortest prefix of s whose image
			// holds the pattern.
			end := 0
			for !strings.Contains(imageOf(s[:end], fold), pats[0]) {
				_, w := utf8.DecodeRuneInString(s[end:])
				if !fold {
					w = 1
				}
				end += w
			}
			if f != end || r != end {
				t.Fatalf("%q in %q (fold %v, %v): search ends at %d, the DFA at %d, want %d", pats, s, fold, c, f, r, end)
			}
		}
	}
}

// imageOf returns s, or its folded image when fold.
func imageOf(s string, fold bool) string {
	if fold {
		return string(appendFold(nil, s))
	}
	return s
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
		{"aab|ab|kb", strings.Repeat("a", 3000) + "b"},
		{"kkkb|ákb", strings.Repeat("\u212a", 2000) + "b" + strings.Repeat("á\u212a", 1000) + "B"},
		{"ééb|x", strings.Repeat("éÉ", 3000) + "éÉb"},
		{"sb", strings.Repeat("a\u017fá", 1000) + "\u017fb"},
		{"á", strings.Repeat("á", 9)},                        // the end of the first, inside a row of two-byte runes
		{"\U0001F600b|\U00010400", "x\U0001F600B\U00010428"}, // four-byte images, a Deseret case pair
		{"ab|bc", strings.Repeat("x", 1500) + "ab" + strings.Repeat("y", 3000)},
		{"ab|bc", strings.Repeat("x", 3500) + "bc" + strings.Repeat("y", 3000)},
		// The Shift-Or filter (more than two first bytes, none shorter
		// than three): walks that read too much, a value not ASCII, hits
		// across its blocks of eight.
		{long + "b|bcd|cde", strings.Repeat("a", 5000) + "b"},
		{"kelvin|sss|abc", "x \u212aELVIN" + strings.Repeat("y", 20)},
		{"kelvin|sss|abc", strings.Repeat("y", 20) + "KELVIN \u212a"},
		{"abcdefgh|xyz|qrs", "0123456abcdefgh0xyz012345678qrs"},
		{"abcd|bcd|cde|\x7fab", "xxxxxxxab\x7fabcdex"},
		{"iex|-enc12|bypass45", "xxBYPASS45 -Enc1 ie iex"}, // a short pattern at the end
		{"iex|-enc12|bypass45", "IEx"},
		{"iex|-enc12|bypass45", "0123456789ab-enc12"},
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
	f.Add("bypass45|-enc12|authorized_keys9|iex", "/usr/bin/curl -ENC12 /var/log/auth.log BYPASS4 IEx", true)
	f.Add("kelvin|ssh-keygen|abc", "x \u212aELVIN ssh-keyge", true)
	f.Add("abcd|bcde|cdef", "xxabcDE\xff\xfe\xfdcdef", false)
	f.Add("bypass|keygen|upload", "ssh -o BYPASS keygen --upload-file x", true) // five lanes: hit4 at its widest
	f.Fuzz(func(t *testing.T, patterns, s string, fold bool) {
		checkSearch(t, patterns, s, fold)
		if s != "" && len(s) < 64 { // long enough for lanes
			checkSearch(t, patterns, strings.Repeat(s, 2048/len(s)), fold)
		}
	})
}

// TestScanNoAllocs proves the scans allocate nothing on any of their
// paths: IndexByte jumps, one lane, two and four lanes, image blocks of
// the small and the large buffer, the reverse walk of a suffix automaton,
// with and without a scratch to mark.
func TestScanNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	pats := []string{"ab", "\u212aá", "kkkkb", "x"}
	for i, p := range pats {
		pats[i] = string(appendFold(nil, p))
	}
	slots := []int32{0, 1, 2, 3}
	auts := []*automaton{
		buildAutomaton(pats, slots, true, true),
		buildAutomaton(pats[:1], slots[:1], true, false),
		buildAutomaton(pats, slots, false, true),
		buildAutomaton([]string{"abc", "bcd", "cde", "kkk"}, slots, true, true), // Shift-Or
	}
	sc := &evalScratch{slotMark: make([]uint32, 4), ruleMark: make([]uint32, 4), slotRule: slots}
	for _, s := range []string{"a", strings.Repeat("a", 100), strings.Repeat("a", 5000), strings.Repeat("á\u212a", 100), strings.Repeat("á\u212aa", 2000)} {
		for _, a := range auts {
			if n := testing.AllocsPerRun(100, func() {
				sc.epoch++
				sc.cands = sc.cands[:0]
				a.scan(s, true, sc)
				a.find(s, true)
				a.prefixes(s, true, sc)
				a.suffixes(s, true, sc)
			}); n != 0 {
				t.Fatalf("%d bytes: %v allocs", len(s), n)
			}
		}
	}
}

// TestShiftOrBuilt: the Shift-Or filter is built for patterns of ASCII
// with more than two first bytes, none shorter than three, and only
// for them.
func TestShiftOrBuilt(t *testing.T) {
	f := func(pats []string, want bool) {
		t.Helper()
		a := buildAutomaton(pats, make([]int32, len(pats)), true, true)
		if got := a.sor != nil; got != want {
			t.Fatalf("%q: filter %v, want %v", pats, got, want)
		}
	}
	f([]string{"abc", "bcd", "cde"}, true)
	f([]string{"abc", "bcd", "cdefghijkl"}, true)
	f([]string{"abc", "bcd", "cd"}, false)  // one too short
	f([]string{"abc", "bcd", "cdé"}, false) // not ASCII
	f([]string{"abc", "abd", "abe"}, false) // two first bytes (a, A): IndexByte's
}
