package detect

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// automaton is an Aho-Corasick automaton over bytes, compiled to a DFA
// whose alphabet is byte classes (each byte some pattern uses is a class
// of its own, every other byte class 0), so a step is one table load and
// a scan allocates nothing. The same table serves anchored walks (prefix
// and reversed-suffix tries): a transition stays on the trie exactly when
// it goes one level deeper.
//
// It is written here rather than imported: the Go libraries at hand
// (github.com/cloudflare/ahocorasick, github.com/anknown/ahocorasick)
// return their matches in slices allocated per call and take []byte or
// []rune; detection needs a scan over a string, case folding fed in rune
// by rune, and hits marked into a caller's scratch, allocating nothing.
type automaton struct {
	class  [256]uint8
	nclass int
	next   []int32 // next[s*nclass+class]: the DFA's transitions as row offsets t*nclass, complemented when t has outputs
	depth  []int32 // length of the trie string of each state
	outOff []int32 // slots of state s: outs[outOff[s]:outOff[s+1]]
	outs   []int32
	// runes maps, for a folded substring automaton, every non-ASCII rune
	// whose folded image is a rune of some pattern to that image, sorted
	// by rune. Any other non-ASCII rune is in no match: a scan goes back
	// to the root on it without folding it (see run).
	runes []foldPair
	// starts has bit b0<<8|b1 set when some pattern of a substring
	// automaton starts with bytes b0 b1 (b1 any byte for a one-byte
	// pattern, 0 standing for the end of the input): the prefilter of
	// scans (see run).
	starts *pairSet
	// firsts: the bytes patterns start with (every ASCII case of them when
	// folded), when there are at most two: a scan then jumps from one to
	// the next with strings.IndexByte.
	firsts []byte
}

// pairSet is a set of byte pairs, one bit each.
type pairSet [1 << 16 / 64]uint64

func (ps *pairSet) set(b0, b1 byte) {
	k := uint(b0)<<8 | uint(b1)
	ps[k/64] |= 1 << (k % 64)
}

// foldPair is a non-ASCII rune and the folded image of its case orbit
// (foldRune), encoded.
type foldPair struct {
	r   rune
	n   uint8
	img [utf8.UTFMax]byte
}

// pairMinCells is the transition table size (cells of 4 bytes) from which
// a scan of patterns with many first bytes tests byte pairs (search)
// rather than stepping the DFA: about the size of an L1 data cache.
var pairMinCells = 8 << 10 // a variable for the tests

// maxAutomatonCells bounds an automaton's transition table (4 bytes a
// cell): past it the index gives up on the field and its rules are run
// for every event of the type instead.
var maxAutomatonCells = 1 << 24 // a variable for the tests

// buildAutomaton compiles patterns; pattern i reports slots[i]. merge
// makes a state report the slots of the patterns that end there as a
// suffix too (a substring scan); without it a state reports only the
// patterns equal to its trie string (an anchored walk). It returns nil
// when the table would pass maxAutomatonCells.
func buildAutomaton(patterns []string, slots []int32, merge, fold bool) *automaton {
	a := &automaton{nclass: 1}
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	for b, u := range used {
		if u && a.nclass < 256 {
			a.class[b] = uint8(a.nclass)
			a.nclass++
		}
	}
	if a.nclass == 256 { // every byte but at most one used: no class to spare for "unused"
		for b := range a.class {
			a.class[b] = uint8(b)
		}
	}
	// The patterns of a folded automaton are folded images (no upper-case
	// ASCII): an upper-case input byte steps as its lower case, so
	// scanning needs no lowering.
	foldClasses := func() {
		if fold {
			for c := 'A'; c <= 'Z'; c++ {
				a.class[c] = a.class[c+'a'-'A']
			}
		}
	}
	total := 1
	for _, p := range patterns {
		total += len(p)
	}
	if total*a.nclass > maxAutomatonCells {
		return nil
	}
	nc := a.nclass
	// The trie, with -1 for missing edges.
	goTo := make([]int32, nc, total*nc)
	for i := range goTo {
		goTo[i] = -1
	}
	a.depth = []int32{0}
	own := [][]int32{nil}
	for i, p := range patterns {
		s := int32(0)
		for j := 0; j < len(p); j++ {
			c := int(a.class[p[j]])
			t := goTo[int(s)*nc+c]
			if t < 0 {
				t = int32(len(a.depth))
				goTo[int(s)*nc+c] = t
				for range nc {
					goTo = append(goTo, -1)
				}
				a.depth = append(a.depth, a.depth[s]+1)
				own = append(own, nil)
			}
			s = t
		}
		own[s] = append(own[s], slots[i])
	}
	n := len(a.depth)
	// Breadth-first: failure links, missing transitions filled from the
	// failure state's, outputs merged along failure links.
	fail := make([]int32, n)
	out := make([][]int32, n)
	a.next = goTo
	queue := make([]int32, 0, n)
	for c := range nc {
		if t := a.next[c]; t < 0 {
			a.next[c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	out[0] = own[0]
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		out[s] = own[s]
		if merge {
			out[s] = mergeSlots(own[s], out[fail[s]])
		}
		for c := range nc {
			t := a.next[int(s)*nc+c]
			if t < 0 || a.depth[t] != a.depth[s]+1 {
				a.next[int(s)*nc+c] = a.next[int(fail[s])*nc+c]
				continue
			}
			fail[t] = a.next[int(fail[s])*nc+c]
			queue = append(queue, t)
		}
	}
	// Renumber breadth first, so the shallow states a scan mostly visits
	// share cache lines; store row offsets, complemented (negative) for
	// states with outputs: a step is then one add and one load.
	order := append([]int32{0}, queue[:0:0]...)
	for i := 0; i < len(order); i++ {
		s := order[i]
		for c := range nc {
			if t := goTrie(a, s, c); t > 0 {
				order = append(order, t)
			}
		}
	}
	perm := make([]int32, n)
	for i, s := range order {
		perm[s] = int32(i)
	}
	next := make([]int32, n*nc)
	depth := make([]int32, n)
	a.outOff = make([]int32, n+1)
	for i, s := range order {
		depth[i] = a.depth[s]
		for c := range nc {
			t := a.next[int(s)*nc+c]
			x := perm[t] * int32(nc) // a row offset: no multiply while scanning
			if len(out[t]) > 0 {
				x = ^x
			}
			next[i*nc+c] = x
		}
		a.outOff[i+1] = a.outOff[i] + int32(len(out[s]))
		a.outs = append(a.outs, out[s]...)
	}
	a.next, a.depth = next, depth
	foldClasses()
	if fold && merge {
		a.runes = foldRunes(patterns)
	}
	if merge {
		// Folded, a pair is set in every ASCII case, so scans test the
		// input's bytes as they are.
		cases := func(b byte) []byte {
			if fold && 'a' <= b && b <= 'z' {
				return []byte{b, b - 'a' + 'A'}
			}
			return []byte{b}
		}
		a.starts = new(pairSet)
		for _, p := range patterns {
			for _, b0 := range cases(p[0]) {
				if !slices.Contains(a.firsts, b0) {
					a.firsts = append(a.firsts, b0)
				}
				if len(p) == 1 {
					for b1 := range 256 {
						a.starts.set(b0, byte(b1))
					}
					continue
				}
				for _, b1 := range cases(p[1]) {
					a.starts.set(b0, b1)
				}
			}
		}
		if len(a.firsts) > 2 {
			a.firsts = nil
		}
	}
	return a
}

// foldRunes returns the foldPairs of the runes that fold to a rune of the
// folded images patterns: the non-ASCII members of each such rune's case
// orbit (the Kelvin sign for k, the long s for s, every case of é for
// é, and utf8.RuneError, which an invalid byte decodes to, for itself).
func foldRunes(patterns []string) []foldPair {
	var out []foldPair
	for _, p := range patterns {
		for _, r := range p { // p is a folded image: valid UTF-8
			f := r
			for {
				if f >= utf8.RuneSelf && !slices.ContainsFunc(out, func(x foldPair) bool { return x.r == f }) {
					x := foldPair{r: f}
					x.n = uint8(utf8.EncodeRune(x.img[:], r))
					out = append(out, x)
				}
				if f = unicode.SimpleFold(f); f == r {
					break
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y foldPair) int { return int(x.r - y.r) })
	return out
}

// foldOf returns the foldPair of r, or nil when r folds to no pattern's
// rune.
func (a *automaton) foldOf(r rune) *foldPair {
	lo, hi := 0, len(a.runes)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.runes[m].r < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(a.runes) && a.runes[lo].r == r {
		return &a.runes[lo]
	}
	return nil
}

// goTrie returns the trie child of s by class c during the build (a
// transition one level deeper), or 0.
func goTrie(a *automaton, s int32, c int) int32 {
	t := a.next[int(s)*a.nclass+c]
	if t > 0 && a.depth[t] == a.depth[s]+1 {
		return t
	}
	return 0
}

// mergeSlots returns a ∪ b without duplicates, a new slice.
func mergeSlots(a, b []int32) []int32 {
	out := append([]int32(nil), a...)
	for _, x := range b {
		dup := false
		for _, y := range a {
			dup = dup || x == y
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// hits returns the slots reported by the state whose row starts at off.
func (a *automaton) hits(off int32) []int32 {
	s := off / int32(a.nclass)
	return a.outs[a.outOff[s]:a.outOff[s+1]]
}

// scan reports every pattern occurring in s (in its folded image when
// fold) to sc.
func (a *automaton) scan(s string, fold bool, sc *evalScratch) { a.search(s, fold, sc) }

// find returns the end, in s, of the first occurrence of a pattern in s
// (in its folded image when fold), or -1. (With several patterns, the
// first found; with one, the leftmost.)
func (a *automaton) find(s string, fold bool) int { return a.search(s, fold, nil) }

// search is run with a prefilter: most bytes of a command line start no
// pattern, and a table step per byte is a chain of dependent loads (about
// 2 ns a byte on the machines measured), while testing the pair of bytes
// at each position against starts is independent from one position to
// the next. At each position whose pair starts a pattern it walks the
// trie anchored there, which reports exactly the patterns occurring at
// that position (and, through the merged outputs, ones inside them).
// Where the patterns start with one or two bytes (a single literal,
// folded or not) it jumps between them with strings.IndexByte, until they
// prove dense.
// The walks' steps are bounded by the bytes passed plus 64: past that
// (input crafted so that most positions start a partial match),
// and at the first non-ASCII byte of a folded scan whose patterns a
// non-ASCII rune can match, it runs the DFA from there on, which finds
// every occurrence starting there or later: so the cost stays linear.
func (a *automaton) search(s string, fold bool, sc *evalScratch) int {
	starts := a.starts
	runes := fold && a.runes != nil
	skip := len(a.firsts) > 0 && !runes
	if starts == nil || !skip && len(a.next) < pairMinCells {
		return a.run(s, fold, sc) // a table this small steps from L1: faster than the pair test
	}
	work := 0              // bytes the walks read
	next := [2]int{-1, -1} // where firsts[j] is next found, at or after i; len(s): nowhere
	dense := 0             // positions where the jump went nowhere
	for i := 0; i < len(s); i++ {
		if skip {
			j := len(s)
			for f, b := range a.firsts {
				if next[f] < i {
					if n := strings.IndexByte(s[i:], b); n < 0 {
						next[f] = len(s)
					} else {
						next[f] = i + n
					}
				}
				j = min(j, next[f])
			}
			if j == len(s) {
				return -1
			}
			if j == i {
				// The first bytes are everywhere: IndexByte costs more
				// than it saves; every position before i was tried.
				if dense++; dense > 16 && 4*dense > i {
					return a.runFrom(s, i, fold, sc)
				}
			}
			i = j
		}
		k := uint(s[i]) << 8
		if i+1 < len(s) {
			k |= uint(s[i+1])
		}
		if runes && k&0x8080 != 0 {
			if k&0x8000 != 0 { // a rune boundary: every position before it was tried
				return a.runFrom(s, i, fold, sc)
			}
			// The next rune may fold into a pattern's second: walk.
		} else if starts[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		end, n := a.walk(s[i:], fold, sc)
		if end >= 0 {
			return i + end
		}
		if work += n; work > i+64 {
			return a.runFrom(s, i+1, fold, sc)
		}
	}
	return -1
}

// runFrom is run over s[i:], its end offset in s.
func (a *automaton) runFrom(s string, i int, fold bool, sc *evalScratch) int {
	if end := a.run(s[i:], fold, sc); end >= 0 {
		return i + end
	}
	return -1
}

// walk follows the trie from the root along s (its folded image when
// fold), reporting the outputs of each state it reaches after a whole
// rune; it stops where s leaves the trie. Without sc it returns the end
// of the first pattern reached, else -1; steps is the bytes it read.
func (a *automaton) walk(s string, fold bool, sc *evalScratch) (end, steps int) {
	st := int32(0)
	ok := true
	for i := 0; i < len(s); {
		c := s[i]
		if !fold || c < utf8.RuneSelf {
			if fold {
				c = lowerASCII(c)
			}
			st, ok = a.step(st, c)
			i++
		} else {
			r, w := utf8.DecodeRuneInString(s[i:])
			p := a.foldOf(r)
			if p == nil {
				return -1, i + 1
			}
			for j := 0; j < int(p.n) && ok; j++ {
				st, ok = a.step(st, p.img[j])
			}
			i += w
		}
		if !ok {
			return -1, i
		}
		if a.outOff[st] != a.outOff[st+1] {
			if sc == nil {
				return i, i
			}
			sc.markAll(a.outs[a.outOff[st]:a.outOff[st+1]])
		}
	}
	return -1, len(s)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// run feeds s through the automaton once, from the root: one table step
// per byte, so its cost is linear in len(s) whatever the patterns. With sc
// it reports every hit and returns -1; without, it returns at the first.
//
// Folded, an ASCII byte steps as its lower case (the classes fold it); a
// non-ASCII rune steps as its folded image when that image is a rune of
// some pattern (a.runes), and otherwise sends the walk back to the root:
// such a rune is in no occurrence, and no pattern's prefix can end inside
// or after it (an image starts a rune, and distinct runes' encodings are
// not prefixes of each other). Occurrences in a folded image start and end
// at rune boundaries, so they are exactly the rune-aligned case-folded
// matches that strings.EqualFold would find.
func (a *automaton) run(s string, fold bool, sc *evalScratch) int {
	off := int32(0)
	next, class := a.next, &a.class
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf || !fold {
			i++
			if off = next[off+int32(class[c])]; off < 0 {
				off = ^off
				if sc == nil {
					return i
				}
				sc.markAll(a.hits(off))
			}
			continue
		}
		if a.runes == nil { // no non-ASCII rune folds into a pattern
			off = 0
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		p := a.foldOf(r)
		if p == nil {
			off = 0
			continue
		}
		for _, b := range p.img[:p.n] {
			if off = next[off+int32(class[b])]; off < 0 {
				off = ^off
				if sc == nil {
					return i
				}
				sc.markAll(a.hits(off))
			}
		}
	}
	return -1
}

// step advances an anchored walk from st by c; ok is false when c leaves
// the trie.
func (a *automaton) step(st int32, c byte) (int32, bool) {
	t := a.next[int(st)*a.nclass+int(a.class[c])]
	if t < 0 {
		t = ^t
	}
	t /= int32(a.nclass)
	return t, a.depth[t] == a.depth[st]+1
}

// prefixes reports the patterns that are prefixes of s (of its folded
// image when fold).
func (a *automaton) prefixes(s string, fold bool, sc *evalScratch) {
	st := int32(0)
	ok := true
	for i := 0; i < len(s); {
		c := s[i]
		if !fold {
			st, ok = a.step(st, c)
			i++
		} else if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			st, ok = a.step(st, c)
			i++
		} else {
			r, w := utf8.DecodeRuneInString(s[i:])
			var b [utf8.UTFMax]byte
			n := utf8.EncodeRune(b[:], foldRune(r))
			for j := 0; j < n && ok; j++ {
				st, ok = a.step(st, b[j])
			}
			i += w
		}
		if !ok {
			return
		}
		if a.outOff[st] != a.outOff[st+1] {
			sc.markAll(a.outs[a.outOff[st]:a.outOff[st+1]])
		}
	}
}

// suffixes reports the patterns whose reversal is a suffix of s (of its
// folded image when fold): the automaton holds reversed suffixes and the
// walk reads s backwards.
func (a *automaton) suffixes(s string, fold bool, sc *evalScratch) {
	st := int32(0)
	ok := true
	for i := len(s); i > 0; {
		c := s[i-1]
		if !fold {
			st, ok = a.step(st, c)
			i--
		} else if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			st, ok = a.step(st, c)
			i--
		} else {
			r, w := utf8.DecodeLastRuneInString(s[:i])
			var b [utf8.UTFMax]byte
			n := utf8.EncodeRune(b[:], foldRune(r))
			for j := n - 1; j >= 0 && ok; j-- {
				st, ok = a.step(st, b[j])
			}
			i -= w
		}
		if !ok {
			return
		}
		if a.outOff[st] != a.outOff[st+1] {
			sc.markAll(a.outs[a.outOff[st]:a.outOff[st+1]])
		}
	}
}
