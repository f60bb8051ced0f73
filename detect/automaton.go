package detect

import "unicode/utf8"

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
}

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
	return a
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
func (a *automaton) scan(s string, fold bool, sc *evalScratch) {
	off := int32(0)
	next, class := a.next, &a.class
	if !fold {
		for i := 0; i < len(s); i++ {
			if off = next[off+int32(class[s[i]])]; off < 0 {
				off = ^off
				sc.markAll(a.hits(off))
			}
		}
		return
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf { // classes fold ASCII case
			if off = next[off+int32(class[c])]; off < 0 {
				off = ^off
				sc.markAll(a.hits(off))
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		var b [utf8.UTFMax]byte
		n := utf8.EncodeRune(b[:], foldRune(r))
		for _, c := range b[:n] {
			if off = next[off+int32(class[c])]; off < 0 {
				off = ^off
				sc.markAll(a.hits(off))
			}
		}
		i += w
	}
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
