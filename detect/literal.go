package detect

import (
	"strings"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/rule"
)

// Linear pattern tests. Most pattern tests in detection rules are literal:
// a substring ("*-enc*"), a set of them (a regexp such as
// .*(dropbox|s3\.amazonaws).*), or a wildcard whose only wildcard is *
// ("*curl*|*sh*"). rule.Matcher runs those at a cost that grows with the
// literal's length and, folded, with the input's runes; here they run in
// one pass over the value, at a cost linear in its length alone, so they
// read all of it and need no byte cap (cost.go keeps the cap for the
// tests that are not linear: regexps, and wildcards with ?):
//
//   - substrings through one Aho-Corasick automaton for all the literals
//     of a test (strings.Contains for a single exact-case one);
//   - a *-only wildcard as its literal parts found in order, leftmost
//     first (a greedy match is a match for such a pattern): the first part
//     as a prefix, the last as a suffix of what remains, each inner part by
//     strings.Index, or folded by its own automaton.
//
// Each answers exactly as Matcher.Match does (FuzzLinearMatch).

// linearTests compiles the matchers that have a linear test; scan[i] is
// false where matchers[i] has none (it runs as a Matcher, within its
// cost limit). It folds every substring matcher of one case mode into one
// automaton test.
func linearTests(matchers []*rule.Matcher) (tests []func(string) bool, linear []bool) {
	linear = make([]bool, len(matchers))
	var lits [2][]string // by fold
	for i, m := range matchers {
		sh := m.Shape()
		switch {
		case !sh.Scan:
			linear[i] = true // equality, prefix, suffix: bounded by the literal
			tests = append(tests, m.Match)
		case isSubstrings(sh) && sh.Anchor == rule.AnchorNone && strings.Trim(m.Source(), "*") == "":
			linear[i] = true // "*", or stringContains with "": any string
			tests = append(tests, func(string) bool { return true })
		case isSubstrings(sh) && sh.Anchor == rule.AnchorContains:
			linear[i] = true
			f := 0
			if sh.Fold {
				f = 1
			}
			lits[f] = append(lits[f], sh.Literals...)
		default:
			if g := newStarGlob(m.Source(), sh); g != nil {
				linear[i] = true
				tests = append(tests, g.match)
			}
		}
	}
	for f, ls := range lits {
		if t := substrings(ls, f == 1); t != nil {
			tests = append(tests, t)
		}
	}
	return tests, linear
}

// isSubstrings reports whether sh is a matcher that holds exactly when its
// input contains one of its literals (neither a wildcard nor a regexp
// program); its Anchor is AnchorNone when one literal is empty.
func isSubstrings(sh rule.Shape) bool {
	return sh.Scan && sh.Program == 0 && sh.Glob == 0
}

// substrings returns a test that s contains one of lits (under folding
// when fold), nil for none.
func substrings(lits []string, fold bool) func(string) bool {
	switch {
	case len(lits) == 0:
		return nil
	case len(lits) == 1 && !fold:
		l := lits[0]
		return func(s string) bool { return strings.Contains(s, l) }
	}
	pats := make([]string, len(lits))
	for i, l := range lits {
		pats[i] = l
		if fold {
			pats[i] = string(appendFold(nil, l))
		}
	}
	a := buildAutomaton(pats, make([]int32, len(pats)), true, fold)
	if a == nil { // past maxAutomatonCells: one literal at a time, still linear each
		tests := make([]func(string) bool, len(lits))
		for i := range lits {
			tests[i] = substrings(lits[i:i+1], fold)
		}
		return func(s string) bool {
			for _, t := range tests {
				if t(s) {
					return true
				}
			}
			return false
		}
	}
	return func(s string) bool { return a.find(s, fold) >= 0 }
}

// starGlob is a wildcard whose only wildcard is *: pre, then each of mids
// in order, then suf, with anything between (folded images when fold).
type starGlob struct {
	fold     bool
	pre, suf string
	mids     []string
	auts     []*automaton // folded: the automaton of each of mids
}

// newStarGlob compiles pattern as a starGlob, nil when it is not one that
// matches as Matcher.Match does: it must have an inner * and no ?, and
// unfolded be valid UTF-8 without U+FFFD (the Matcher compares decoded
// runes, so an invalid byte would match any other; folded, both sides
// fold invalid bytes to U+FFFD alike).
func newStarGlob(pattern string, sh rule.Shape) *starGlob {
	if sh.Glob == 0 || sh.Program > 0 || strings.IndexByte(pattern, '?') >= 0 || strings.IndexByte(pattern, '*') < 0 {
		return nil
	}
	if !sh.Fold && (!utf8.ValidString(pattern) || strings.ContainsRune(pattern, utf8.RuneError)) {
		return nil
	}
	parts := strings.Split(pattern, "*")
	g := &starGlob{fold: sh.Fold, pre: parts[0], suf: parts[len(parts)-1]}
	for _, p := range parts[1 : len(parts)-1] {
		if p != "" {
			g.mids = append(g.mids, p)
		}
	}
	if g.fold {
		g.pre, g.suf = string(appendFold(nil, g.pre)), string(appendFold(nil, g.suf))
		for i, p := range g.mids {
			g.mids[i] = string(appendFold(nil, p))
			a := buildAutomaton([]string{g.mids[i]}, []int32{0}, true, true)
			if a == nil {
				return nil
			}
			g.auts = append(g.auts, a)
		}
	}
	return g
}

// match reports whether s matches: each part at its leftmost place after
// the previous one, which for a *-only pattern finds a match when there is
// one.
func (g *starGlob) match(s string) bool {
	pos := 0
	if g.pre != "" {
		n, ok := prefixLen(s, g.pre, g.fold)
		if !ok {
			return false
		}
		pos = n
	}
	for i, m := range g.mids {
		var end int
		if g.fold {
			end = g.auts[i].find(s[pos:], true)
		} else if end = strings.Index(s[pos:], m); end >= 0 {
			end += len(m)
		}
		if end < 0 {
			return false
		}
		pos += end
	}
	return g.suf == "" || hasSuffixImage(s[pos:], g.suf, g.fold)
}

// prefixLen returns the length of the prefix of s that p (a folded image
// when fold) matches.
func prefixLen(s, p string, fold bool) (int, bool) {
	if !fold {
		return len(p), strings.HasPrefix(s, p)
	}
	i := 0
	for j := 0; j < len(p); {
		if i == len(s) {
			return 0, false
		}
		pr, pw := utf8.DecodeRuneInString(p[j:])
		sr, sw := utf8.DecodeRuneInString(s[i:])
		if foldRune(sr) != pr {
			return 0, false
		}
		i, j = i+sw, j+pw
	}
	return i, true
}

// hasSuffixImage reports whether s ends with p (a folded image when
// fold).
func hasSuffixImage(s, p string, fold bool) bool {
	if !fold {
		return strings.HasSuffix(s, p)
	}
	i := len(s)
	for j := len(p); j > 0; {
		if i == 0 {
			return false
		}
		pr, pw := utf8.DecodeLastRuneInString(p[:j])
		sr, sw := utf8.DecodeLastRuneInString(s[:i])
		if foldRune(sr) != pr {
			return false
		}
		i, j = i-sw, j-pw
	}
	return true
}
