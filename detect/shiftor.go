package detect

import (
	"slices"
	"unicode/utf8"
)

// shiftOr is a substring automaton's prefilter for patterns with many
// first bytes (more than search's IndexByte jumps take): a bucketed
// Shift-Or over the patterns' first n bytes (n at most 5), as Hyperscan's
// FDR does, that tells the positions where a pattern may start. Search
// walks the trie anchored at each (which reports exactly the patterns
// occurring there, and those inside them); a value with no such position
// holds no pattern, and no DFA step is taken over it.
//
// The state d holds lanes of eight buckets: after a byte, bit b of
// lane j is clear when the last j+1 bytes are compatible with the first
// j+1 bytes of some pattern of bucket b (byte by byte: a bucket's
// patterns are merged, which only adds false positives). A step is a
// shift and an OR, d = d<<8 | masks[c], with no load waiting on the last
// one, where a DFA step waits on one: on command lines with a thousand
// rules' patterns, the scan it spares cost a nanosecond or more a byte.
// Patterns are grouped into buckets by their first bytes, sorted, so that
// a bucket's lanes stay narrow.
//
// It is built only for patterns of ASCII bytes. Folded, a byte is
// compatible with a pattern's in either ASCII case, as the automaton's
// classes fold; a folded automaton whose patterns some non-ASCII rune
// folds into (automaton.runes) scans an image that differs from the
// value's bytes where the value is not ASCII, and there search leaves
// the filter for the DFA.
type shiftOr struct {
	n     int // the prefix length tested, 3 to 5
	masks [256]uint64
}

// buildShiftOr returns the filter of patterns, or nil when one is shorter
// than three bytes (most positions would pass) or not ASCII.
func buildShiftOr(patterns []string, fold bool) *shiftOr {
	n := 5
	for _, p := range patterns {
		n = min(n, len(p))
		for i := 0; i < len(p); i++ {
			if p[i] >= utf8.RuneSelf {
				return nil
			}
		}
	}
	if n < 3 {
		return nil
	}
	var prefixes []string
	for _, p := range patterns {
		prefixes = append(prefixes, p[:n])
	}
	slices.Sort(prefixes)
	prefixes = slices.Compact(prefixes)
	f := &shiftOr{n: n}
	for c := range f.masks {
		f.masks[c] = 1<<(8*uint(n)) - 1 // the lanes past n clear: see searchShiftOr
	}
	for k, p := range prefixes {
		b := uint(k * 8 / len(prefixes))
		for j := 0; j < n; j++ {
			bit := uint64(1) << (8*uint(j) + b)
			c := p[j]
			f.masks[c] &^= bit
			if fold && 'a' <= c && c <= 'z' {
				f.masks[c-'a'+'A'] &^= bit
			}
		}
	}
	return f
}

// searchShiftOr is search through a.sor: it walks the trie at every
// position the filter passes, and leaves it for the DFA where the value
// is not ASCII and the automaton folds runes, or where the walks read
// more than the bytes passed plus 64 (as search does).
//
// It steps four bytes at a time: d = d<<32 | (m0<<8|m1)<<16 | (m2<<8|m3),
// whose chain of dependent operations is two long for four bytes, where
// one step a byte would make it eight. The masks' lanes past n are clear,
// so a lane's bits move up unchanged: after the four, lanes n-1 to n+2 of
// d hold lane n-1 of the state after each of the four bytes, the last
// lowest (n is at most 5, so they fit).
func (a *automaton) searchShiftOr(s string, fold bool, sc *evalScratch) int {
	f := a.sor
	masks := &f.masks
	needASCII := fold && a.runes != nil
	// Lane n-1 of the state after one byte (hit), and after each of four
	// (hit4: lanes n-1 to n+2, see above).
	hit := uint64(0xff) << (8 * uint(f.n-1))
	hit4 := uint64(0xffffffff) << (8 * uint(f.n-1))
	d := ^uint64(0)
	work := 0
	i := 0
	for ; i+8 <= len(s); i += 8 {
		b := s[i : i+8]
		if needASCII && load8(b)&0x8080808080808080 != 0 {
			return a.runFrom(s, 0, fold, sc)
		}
		// A byte loaded on its own takes no shift to pick it out of a
		// word, and the lanes are tested under hit4, not shifted down by
		// a count in a register: a block takes a third fewer ALU steps.
		d0 := d
		da := d<<32 | (masks[b[0]]<<8|masks[b[1]])<<16 | masks[b[2]]<<8 | masks[b[3]]
		d = da<<32 | (masks[b[4]]<<8|masks[b[5]])<<16 | masks[b[6]]<<8 | masks[b[7]]
		if (^da|^d)&hit4 == 0 {
			continue
		}
		// Some pattern may start in these bytes' reach: step them again,
		// one at a time, and walk where one may.
		d = d0
		for j := i; j < i+8; j++ {
			d = d<<8 | masks[s[j]]
			if ^d&hit != 0 {
				if end := a.walkAt(s, j+1-f.n, fold, sc, &work); end != -1 {
					return end
				}
			}
		}
	}
	for ; i < len(s); i++ {
		if needASCII && s[i] >= utf8.RuneSelf {
			return a.runFrom(s, 0, fold, sc)
		}
		d = d<<8 | masks[s[i]]
		if ^d&hit != 0 {
			if end := a.walkAt(s, i+1-f.n, fold, sc, &work); end != -1 {
				return end
			}
		}
	}
	return -1
}

// walkAt walks the trie at s[at:] for searchShiftOr, adding the bytes it
// read to work. It returns -1 to go on; else the search's answer: the end
// of the first pattern found (without sc), or the DFA's from at on, once
// the walks have read too much (-2 for no end, then).
func (a *automaton) walkAt(s string, at int, fold bool, sc *evalScratch, work *int) int {
	if *work > at+64 {
		if end := a.runFrom(s, at, fold, sc); end >= 0 {
			return end
		}
		return -2
	}
	end, n := a.walk(s[at:], fold, sc)
	*work += n
	if end >= 0 {
		return at + end
	}
	return -1
}
