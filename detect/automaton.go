package detect

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
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
	// level[d] is the row offset of the first state of depth d (the
	// length of its trie string): states are numbered breadth first, so a
	// transition taken at depth d-1 stays on the trie exactly when it
	// leads to level[d] or past it.
	level  []int32
	recip  uint64  // ceil(2^40 / nclass): a row offset times it, shifted right by 40, is its state
	outOff []int32 // slots of state s: outs[outOff[s]:outOff[s+1]]
	outs   []int32
	// runes maps, for a folded substring automaton, every non-ASCII rune
	// whose folded image is a rune of some pattern to that image, sorted
	// by rune. Any other non-ASCII rune is in no match: a scan goes back
	// to the root on it without folding it (see run).
	runes []foldPair
	// quick finds a rune in runes by its low 7 bits: 0 for none, i+1 for
	// runes[i], quickMany where several share them.
	quick   *[128]uint8
	bmp     *[1 << 16]uint32 // folded with runes: bmpFold()
	invalid uint32           // the image of an invalid byte, encoded as bmpFold's
	// leads has bit c set for each first byte c of the encodings of
	// runes, and for every non-ASCII byte when an invalid byte's image,
	// U+FFFD, is in some pattern: the bytes image must decode.
	leads [4]uint64
	// firsts: the bytes patterns start with (every ASCII case of them when
	// folded), when there are at most two: a scan then jumps from one to
	// the next with strings.IndexByte (see search). starts, then, has bit
	// b0<<8|b1 set when some pattern starts with bytes b0 b1 (b1 any byte
	// for a one-byte pattern, 0 standing for the end of the input).
	firsts []byte
	starts *pairSet
	// sor, for a substring automaton whose patterns start with more
	// bytes, tells where they may start (shiftor.go).
	sor *shiftOr
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
	if total*a.nclass > min(maxAutomatonCells, 1<<24) { // 1<<24: where recip stops being exact
		return nil
	}
	nc := a.nclass
	// The trie, with -1 for missing edges.
	goTo := make([]int32, nc, total*nc)
	for i := range goTo {
		goTo[i] = -1
	}
	depth := []int32{0}
	own := [][]int32{nil}
	for i, p := range patterns {
		s := int32(0)
		for j := 0; j < len(p); j++ {
			c := int(a.class[p[j]])
			t := goTo[int(s)*nc+c]
			if t < 0 {
				t = int32(len(depth))
				goTo[int(s)*nc+c] = t
				for range nc {
					goTo = append(goTo, -1)
				}
				depth = append(depth, depth[s]+1)
				own = append(own, nil)
			}
			s = t
		}
		own[s] = append(own[s], slots[i])
	}
	n := len(depth)
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
			if t < 0 || depth[t] != depth[s]+1 {
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
			if t := goTrie(a, depth, s, c); t > 0 {
				order = append(order, t)
			}
		}
	}
	perm := make([]int32, n)
	for i, s := range order {
		perm[s] = int32(i)
	}
	next := make([]int32, n*nc)
	a.outOff = make([]int32, n+1)
	for i, s := range order {
		if d := int(depth[s]); d == len(a.level) {
			a.level = append(a.level, int32(i*nc))
		}
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
	a.next = next
	a.recip = (1<<40 + uint64(nc) - 1) / uint64(nc)
	foldClasses()
	if fold {
		a.runes = foldRunes(patterns)
		a.quick = quickRunes(a.runes)
		if a.runes != nil {
			a.bmp = bmpFold()
			a.invalid = noPattern | 1<<24
			if a.foldOf(utf8.RuneError) != nil {
				a.invalid = a.bmp[utf8.RuneError]
				a.leads = [4]uint64{2: ^uint64(0), 3: ^uint64(0)}
			}
			for _, p := range a.runes {
				var b [utf8.UTFMax]byte
				utf8.EncodeRune(b[:], p.r)
				a.leads[b[0]/64] |= 1 << (b[0] % 64)
			}
		}
	}
	if merge {
		// Folded, a byte or pair is there in every ASCII case, so scans
		// test the input's bytes as they are.
		cases := func(b byte) []byte {
			if fold && 'a' <= b && b <= 'z' {
				return []byte{b, b - 'a' + 'A'}
			}
			return []byte{b}
		}
		for _, p := range patterns {
			for _, b0 := range cases(p[0]) {
				if !slices.Contains(a.firsts, b0) {
					a.firsts = append(a.firsts, b0)
				}
			}
		}
		if len(a.firsts) > 2 {
			a.firsts = nil
			a.sor = buildShiftOr(patterns, fold)
			return a
		}
		a.starts = new(pairSet)
		for _, p := range patterns {
			for _, b0 := range cases(p[0]) {
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
	}
	return a
}

// foldRunes returns the foldPairs of the runes that fold to a rune of the
// folded images patterns: the non-ASCII members of each such rune's case
// orbit (the Kelvin sign for k, the long s for s, every case of é for
// é, and utf8.RuneError, which an invalid byte decodes to, for itself).
// The patterns may be reversed (a suffix automaton's): an image with a
// non-ASCII rune is valid UTF-8 one way only (reversed, it starts with a
// continuation byte), and that way is read.
func foldRunes(patterns []string) []foldPair {
	var out []foldPair
	for _, p := range patterns {
		if !utf8.ValidString(p) {
			rev := []byte(p)
			slices.Reverse(rev)
			p = string(rev)
		}
		for _, r := range p {
			f := r
			for {
				if f >= utf8.RuneSelf && !slices.ContainsFunc(out, func(x foldPair) bool { return x.r == f }) {
					x := foldPair{r: f}
					x.n = uint8(utf8.EncodeRune(x.img[:], foldRune(r)))
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

// quickMany marks a quick slot that several runes share.
const quickMany = 255

// quickRunes indexes runes by their low 7 bits (nil for no runes).
func quickRunes(runes []foldPair) *[128]uint8 {
	if len(runes) == 0 {
		return nil
	}
	q := new([128]uint8)
	for i, p := range runes {
		switch k := p.r & 127; {
		case q[k] == 0 && i+1 < quickMany:
			q[k] = uint8(i + 1)
		default:
			q[k] = quickMany
		}
	}
	return q
}

// foldOf returns the foldPair of r, or nil when r folds to no pattern's
// rune.
func (a *automaton) foldOf(r rune) *foldPair {
	if a.quick == nil {
		return nil
	}
	if q := a.quick[r&127]; q != quickMany {
		if q != 0 && a.runes[q-1].r == r {
			return &a.runes[q-1]
		}
		return nil
	}
	return a.foldOfSlow(r)
}

// foldOfSlow is foldOf by binary search.
//
//go:noinline
func (a *automaton) foldOfSlow(r rune) *foldPair {
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
func goTrie(a *automaton, depth []int32, s int32, c int) int32 {
	t := a.next[int(s)*a.nclass+c]
	if t > 0 && depth[t] == depth[s]+1 {
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

// hits returns the slots reported by the state whose row starts at off
// (a multiply where a division would take tens of cycles: offsets are
// below 1<<24, so the reciprocal is exact).
func (a *automaton) hits(off int32) []int32 {
	s := uint64(uint32(off)) * a.recip >> 40
	return a.outs[a.outOff[s]:a.outOff[s+1]]
}

// scan reports every pattern occurring in s (in its folded image when
// fold) to sc.
func (a *automaton) scan(s string, fold bool, sc *evalScratch) { a.search(s, fold, sc) }

// find returns the end, in s, of the first occurrence of a pattern in s
// (in its folded image when fold), or -1. (With several patterns, the
// first found; with one, the leftmost.)
func (a *automaton) find(s string, fold bool) int { return a.search(s, fold, nil) }

// search is run with a prefilter where the patterns start with one or two
// bytes (a single literal, folded or not, outside runs of non-ASCII text):
// it jumps from one to the next with strings.IndexByte, much faster than
// a table step per byte when they are rare, and walks the trie anchored
// at each whose pair of bytes starts a pattern, which reports exactly
// the patterns occurring at that position (and, through the merged
// outputs, ones inside them). Otherwise, and where the first bytes
// prove frequent (a jump every 16 bytes or less) or the walks' steps
// pass the bytes passed plus 64 (input crafted so that most positions
// start a partial match), it runs the DFA from there on, which finds
// every occurrence starting there or later: so the cost stays linear.
// (Testing every position's pair against starts to pick where to walk,
// as it once did for patterns with many first bytes, cost more than the
// DFA on command lines: 1.5-2 ns a position against 2 ns a byte, plus
// the walks.)
func (a *automaton) search(s string, fold bool, sc *evalScratch) int {
	if a.sor != nil {
		if end := a.searchShiftOr(s, fold, sc); end >= 0 {
			return end
		}
		return -1
	}
	if len(a.firsts) == 0 || fold && a.runes != nil {
		return a.run(s, fold, sc)
	}
	work := 0              // bytes the walks read
	next := [2]int{-1, -1} // where firsts[j] is next found, at or after i; len(s): nowhere
	jumps := 0             // positions jumped to
	for i := 0; i < len(s); i++ {
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
		// Where the first bytes are frequent, IndexByte costs more
		// than it saves; every position before j was tried.
		if jumps++; jumps > 16 && 16*jumps > j {
			return a.runFrom(s, j, fold, sc)
		}
		i = j
		if !a.starts.has(s, i) {
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

// has reports whether the pair of bytes at s[i] (0 past the end) is in
// ps.
func (ps *pairSet) has(s string, i int) bool {
	k := uint(s[i]) << 8
	if i+1 < len(s) {
		k |= uint(s[i+1])
	}
	return ps[k/64]&(1<<(k%64)) != 0
}

// runFrom is run over s[i:], its end offset in s.
func (a *automaton) runFrom(s string, i int, fold bool, sc *evalScratch) int {
	if end := a.run(s[i:], fold, sc); end >= 0 {
		return i + end
	}
	return -1
}

// descend steps an anchored walk at depth d-1, in the row at off, by
// byte c: ok is false when c leaves the trie, out is true when the state
// reached reports patterns.
func (a *automaton) descend(off int32, d int, c byte) (next int32, ok, out bool) {
	t := a.next[off+int32(a.class[c])]
	if out = t < 0; out {
		t = ^t
	}
	return t, d < len(a.level) && t >= a.level[d], out
}

// walk follows the trie from the root along s (its folded image when
// fold), reporting the outputs of each state it reaches after a whole
// rune; it stops where s leaves the trie. Without sc it returns the end
// of the first pattern reached, else -1; steps is the bytes it read.
func (a *automaton) walk(s string, fold bool, sc *evalScratch) (end, steps int) {
	off, d := int32(0), 0
	ok, out := true, false
	for i := 0; i < len(s); {
		c := s[i]
		if !fold || c < utf8.RuneSelf {
			d++
			off, ok, out = a.descend(off, d, c)
			i++
		} else {
			r, w := utf8.DecodeRuneInString(s[i:])
			p := a.foldOf(r)
			if p == nil {
				return -1, i + 1
			}
			for j := 0; j < int(p.n) && ok; j++ {
				d++
				off, ok, out = a.descend(off, d, p.img[j])
			}
			i += w
		}
		if !ok {
			return -1, i
		}
		if out {
			if sc == nil {
				return i, i
			}
			sc.markAll(a.hits(off))
		}
	}
	return -1, len(s)
}

// run feeds s through the automaton once, from the root: one table step
// per byte, so its cost is linear in len(s) whatever the patterns. With sc
// it reports every hit and returns -1; without, it returns at the first.
//
// Folded, an ASCII byte steps as its lower case (the classes fold it); a
// non-ASCII rune steps as its folded image when that image is a rune of
// some pattern (a.runes), and otherwise as a byte no pattern holds, which
// sends the DFA back to the root: such a rune is in no occurrence, and no
// pattern's prefix can end inside or after it (an image starts a rune,
// and distinct runes' encodings are not prefixes of each other).
// Occurrences in a folded image start and end at rune boundaries, so they
// are exactly the rune-aligned case-folded matches that strings.EqualFold
// would find. Where no non-ASCII rune folds into a pattern, the input's
// own bytes are that image as far as the DFA can tell (its non-ASCII
// bytes are in no pattern); otherwise run writes the image a block at a
// time (image) and steps through that.
func (a *automaton) run(s string, fold bool, sc *evalScratch) int {
	n := 0
	if fold && a.runes != nil {
		n = asciiLen(s)
	}
	if n == len(s) || !fold || a.runes == nil {
		end, _ := runBytes(a, s, 0, sc)
		return end
	}
	// Go zeroes a buffer on the stack: a short value gets a short one.
	if len(s) <= 2*smallBlock {
		var buf [smallBlock]byte
		return a.runImage(s, buf[:], sc)
	}
	var buf [imageBlock]byte
	return a.runImage(s, buf[:], sc)
}

// runImage is run over s's image, written into buf a block at a time
// (image); long ASCII stretches step the DFA as they are.
func (a *automaton) runImage(s string, buf []byte, sc *evalScratch) int {
	limit := min(imageLimit, len(buf))
	off := int32(0)
	for i := 0; i < len(s); {
		if n := asciiLen(s[i:]); n >= 64 || n == len(s)-i {
			end, o := runBytes(a, s[i:i+n], off, sc)
			if end >= 0 {
				return i + end
			}
			off, i = o, i+n
			continue
		}
		img, n := a.image(buf[:0], s[i:], limit)
		end, o := runBytes(a, img, off, sc)
		if end >= 0 {
			_, n = a.image(buf[:0], s[i:], end) // the input that gave the image up to end
			return i + n
		}
		off, i = o, i+n
	}
	return -1
}

// imageBlock is the most bytes of folded image run writes at a time (on
// its stack), smallBlock the most for a value of up to twice its size.
const imageBlock, smallBlock = 8 << 10, 256

// imageLimit is imageBlock, laneMin and laneMin2 the least input runBytes
// steps in four and in two lanes: variables for the tests.
var imageLimit, laneMin, laneMin2 = imageBlock, 1024, 48

// asciiLen returns the length of s's leading ASCII bytes, read eight at a
// time.
func asciiLen(s string) int {
	i := 0
	for ; i+8 <= len(s) && load8(s[i:])&0x8080808080808080 == 0; i += 8 {
	}
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	return i
}

// load8 returns s's first eight bytes, the first lowest (one load).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// noPattern is a byte no pattern image holds (none is valid UTF-8 with
// it): the image of an invalid byte when no pattern holds U+FFFD, of a
// rune past the Basic Multilingual Plane that folds into no pattern's
// rune, and of a row of runes and invalid bytes whose first bytes start
// no rune of a.runes (see image).
const noPattern = 0xff

// bmpFold holds the folded image (foldRune) of each rune of the Basic
// Multilingual Plane, encoded: its bytes (at most three: an image is never
// above its rune) from the lowest, and their count in the top byte. It
// is built on first use (256 KiB), for scans that must fold non-ASCII
// runes, so that one load and one store write a rune's image.
var bmpFold = sync.OnceValue(func() *[1 << 16]uint32 {
	t := new([1 << 16]uint32)
	var b [4]byte
	for r := range t {
		n := utf8.EncodeRune(b[:], foldRune(rune(r)))
		t[r] = binary.LittleEndian.Uint32(b[:]) | uint32(n)<<24
	}
	return t
})

// image appends to dst the folded image of a prefix of s as run steps
// through it: ASCII as it is (the classes fold it), other runes as their
// images, or as noPattern (one for a row of them) where they cannot be
// in an occurrence. It stops where the next rune's image
// might not fit in cap(dst), or once the image has reached limit bytes; n
// is the bytes of s it read.
func (a *automaton) image(dst []byte, s string, limit int) (img []byte, n int) {
	buf := dst[:cap(dst)]
	end := min(limit, len(buf)-utf8.UTFMax) // room for a rune's image past it
	bmp := a.bmp
	i, l := 0, len(dst)
	for i < len(s) && l < end {
		c := s[i]
		if c < utf8.RuneSelf {
			if i+8 <= len(s) && l+8 <= end && s[i+1]|s[i+7] < utf8.RuneSelf {
				if x := load8(s[i:]); x&0x8080808080808080 == 0 {
					binary.LittleEndian.PutUint64(buf[l:l+8], x)
					l += 8
					i += 8
					continue
				}
			}
			buf[l] = c
			l++
			i++
			continue
		}
		if a.leads[c/64]&(1<<(c%64)) == 0 {
			// No rune that folds into a pattern's starts with c: the rune
			// c starts, or c alone if invalid, is in no occurrence, nor
			// are its continuation bytes, each invalid alone. Any number
			// of them in a row send the DFA to the root as one does.
			if l == 0 || buf[l-1] != noPattern {
				buf[l] = noPattern
				l++
			}
			for i++; i < len(s) && s[i] >= utf8.RuneSelf && a.leads[s[i]/64]&(1<<(s[i]%64)) == 0; i++ {
			}
			continue
		}
		// Two- and three-byte runes are decoded here (four two-byte ones
		// at a time where they follow each other), the rest through utf8.
		if c < 0xe0 && i+8 <= len(s) && s[i+2]&0xe0 == 0xc0 {
			for i+8 <= len(s) && l+8 <= end { // not past end, where runImage finds a hit's input end again
				x := load8(s[i:])
				if x&0xc0e0c0e0c0e0c0e0 != 0x80c080c080c080c0 || x&0x1e == 0 || x&0x1e0000 == 0 || x&0x1e00000000 == 0 || x&0x1e000000000000 == 0 {
					break // not four two-byte runes (C0 and C1 start none)
				}
				v0, v1 := bmp[x&0x1f<<6|x>>8&0x3f], bmp[x>>16&0x1f<<6|x>>24&0x3f]
				v2, v3 := bmp[x>>32&0x1f<<6|x>>40&0x3f], bmp[x>>48&0x1f<<6|x>>56&0x3f]
				put4(buf, l, v0)
				l += int(v0 >> 24)
				put4(buf, l, v1)
				l += int(v1 >> 24)
				put4(buf, l, v2)
				l += int(v2 >> 24)
				put4(buf, l, v3)
				l += int(v3 >> 24)
				i += 8
			}
			if i == len(s) || s[i] < utf8.RuneSelf || l >= end {
				continue
			}
			c = s[i]
		}
		var r uint32
		w := 0
		switch {
		case c >= 0xc2 && c < 0xe0 && i+1 < len(s) && s[i+1]&0xc0 == 0x80:
			r, w = uint32(c&0x1f)<<6|uint32(s[i+1]&0x3f), 2
		case c >= 0xe0 && c < 0xf0 && i+2 < len(s) && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80:
			r, w = uint32(c&0x0f)<<12|uint32(s[i+1]&0x3f)<<6|uint32(s[i+2]&0x3f), 3
			if r < 0x800 || 0xd800 <= r && r <= 0xdfff { // overlong, or a surrogate: invalid
				w = 0
			}
		case c >= 0xf0 && c < 0xf5 && i+3 < len(s) && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80 && s[i+3]&0xc0 == 0x80:
			r, w = uint32(c&0x07)<<18|uint32(s[i+1]&0x3f)<<12|uint32(s[i+2]&0x3f)<<6|uint32(s[i+3]&0x3f), 4
			if r < 0x10000 || r > unicode.MaxRune { // overlong, or past the last rune: invalid
				w = 0
			}
		}
		var v uint32
		switch {
		case w == 0: // an invalid byte, which decodes to U+FFFD
			v, w = a.invalid, 1
		case w < 4:
			v = bmp[uint16(r)]
		default: // past the plane: few runes there fold at all
			v = noPattern | 1<<24
			if p := a.foldOf(rune(r)); p != nil { // an image of four bytes leaves no byte for its length
				put4(buf, l, binary.LittleEndian.Uint32(p.img[:]))
				l += int(p.n)
				i += w
				continue
			}
		}
		put4(buf, l, v)
		l += int(v >> 24)
		i += w
	}
	return buf[:l], i
}

// runLanes is how many stretches runBytes steps through side by side in a
// long value (two in a shorter one): a step waits on the load of the one
// before it, so one chain of steps leaves the core mostly idle, and
// independent chains fill it.
const runLanes = 4

// runBytes steps the DFA over s from the row at off, and returns the end
// of the first hit (without sc; -1 for none) and the row it ends in.
//
// A long s is cut into runLanes stretches (a shorter one into two),
// stepped in lock step; each stretch but the first starts at the root
// maxLen bytes early, so every occurrence ending in it is found, and its
// state is the true one from there on. Hits found twice are marked twice;
// without sc, the first lane with a hit holds the first end.
func runBytes[T string | []byte](a *automaton, s T, off int32, sc *evalScratch) (end int, last int32) {
	w := len(a.level) // at least the longest pattern's length
	n := len(s)
	lanes := 1
	switch {
	case n >= laneMin && 16*w <= n: // the warm-ups cost under a fifth
		lanes = runLanes
	case n >= laneMin2 && 4*w <= n:
		lanes = 2
	default:
		return runLane(a, s, off, sc)
	}
	span := (n + (lanes-1)*w + lanes - 1) / lanes // each lane's bytes
	step := span - w                              // from one lane's start to the next's
	m := n - (lanes-1)*step                       // the last lane's bytes, the fewest
	ends := [runLanes]int{-1, -1, -1, -1}
	o := [runLanes]int32{off}
	for i := 0; i < m; i++ {
		if lanes == 2 {
			i = stepLanes2(a, s[:m], s[step:], i, &o)
		} else {
			i = stepLanes(a, s[:m], s[step:step+m], s[2*step:2*step+m], s[3*step:], i, &o)
		}
		if i == m {
			break
		}
		if o[0] < 0 {
			if o[0] = ^o[0]; sc == nil {
				return i + 1, o[0]
			}
			sc.markAll(a.hits(o[0]))
		}
		for k := 1; k < lanes; k++ {
			o[k] = a.laneHit(o[k], &ends[k], k*step+i+1, sc)
		}
	}
	// The lanes' tails but the last's, in order.
	for k := range lanes - 1 {
		if sc == nil && ends[k] >= 0 {
			return ends[k], 0
		}
		if e, _ := runLane(a, s[k*step+m:k*step+span], o[k], sc); e >= 0 {
			return k*step + m + e, 0
		}
	}
	return ends[lanes-1], o[lanes-1]
}

// stepLanes steps the lanes' states o over s0..s3 (of one length) from
// i, and returns where a state reached has hits (complemented in o), or
// the end. The states live in registers here, not in runBytes's frame.
func stepLanes[T string | []byte](a *automaton, s0, s1, s2, s3 T, i int, o *[runLanes]int32) int {
	next, class := a.next, &a.class
	o0, o1, o2, o3 := o[0], o[1], o[2], o[3]
	s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
	for ; i < len(s0); i++ {
		o0 = cell(next, o0+int32(class[s0[i]]))
		o1 = cell(next, o1+int32(class[s1[i]]))
		o2 = cell(next, o2+int32(class[s2[i]]))
		o3 = cell(next, o3+int32(class[s3[i]]))
		if o0|o1|o2|o3 < 0 {
			break
		}
	}
	*o = [runLanes]int32{o0, o1, o2, o3}
	return i
}

// stepLanes2 is stepLanes for two lanes.
func stepLanes2[T string | []byte](a *automaton, s0, s1 T, i int, o *[runLanes]int32) int {
	next, class := a.next, &a.class
	o0, o1 := o[0], o[1]
	s1 = s1[:len(s0)]
	for ; i < len(s0); i++ {
		o0 = cell(next, o0+int32(class[s0[i]]))
		o1 = cell(next, o1+int32(class[s1[i]]))
		if o0|o1 < 0 {
			break
		}
	}
	o[0], o[1] = o0, o1
	return i
}

// laneHit marks the hits of lane state o (complemented when it has any)
// and records the first's end, and returns o as a row offset.
func (a *automaton) laneHit(o int32, end *int, at int, sc *evalScratch) int32 {
	if o >= 0 {
		return o
	}
	o = ^o
	if sc != nil {
		sc.markAll(a.hits(o))
	} else if *end < 0 {
		*end = at
	}
	return o
}

// runLane steps the DFA over s from the row at off, as runBytes does.
func runLane[T string | []byte](a *automaton, s T, off int32, sc *evalScratch) (end int, last int32) {
	next, class := a.next, &a.class
	for i := 0; i < len(s); i++ {
		if off = cell(next, off+int32(class[s[i]])); off < 0 {
			off = ^off
			if sc == nil {
				return i + 1, off
			}
			sc.markAll(a.hits(off))
		}
	}
	return -1, off
}

// prefixes reports the patterns that are prefixes of s (of its folded
// image when fold).
func (a *automaton) prefixes(s string, fold bool, sc *evalScratch) { a.walk(s, fold, sc) }

// suffixes reports the patterns whose reversal is a suffix of s (of its
// folded image when fold): the automaton holds reversed suffixes and the
// walk reads s backwards.
func (a *automaton) suffixes(s string, fold bool, sc *evalScratch) {
	off, d := int32(0), 0
	ok, out := true, false
	for i := len(s); i > 0; {
		c := s[i-1]
		if !fold || c < utf8.RuneSelf {
			d++
			off, ok, out = a.descend(off, d, c)
			i--
		} else {
			r, w := utf8.DecodeLastRuneInString(s[:i])
			p := a.foldOf(r)
			if p == nil {
				return
			}
			for j := int(p.n) - 1; j >= 0 && ok; j-- {
				d++
				off, ok, out = a.descend(off, d, p.img[j])
			}
			i -= w
		}
		if !ok {
			return
		}
		if out {
			sc.markAll(a.hits(off))
		}
	}
}
