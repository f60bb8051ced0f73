package rule

import (
	"regexp/syntax"
	"strings"
)

// maxLiterals bounds the strings a regular expression may expand to and
// still be matched as literals.
const maxLiterals = 64

// literalRegex recognises a regular expression that is, between an optional
// leading and trailing .*, a finite set of literal strings: .*\.(doc|pdf)$,
// .*\.ssh/id_.*, .*(dropbox|s3\.amazonaws).*. Such patterns are what
// detection rules mostly write, and matching them as prefixes, suffixes or
// substrings is many times faster than running the regexp. ok is false for
// anything else, which then runs as a regexp.
func literalRegex(pattern string, fold bool) (kind matcherKind, lits []string, ok bool) {
	flags := syntax.Perl | syntax.DotNL
	if fold {
		flags |= syntax.FoldCase
	}
	re, err := syntax.Parse(pattern, flags)
	if err != nil {
		return 0, nil, false
	}
	re = re.Simplify()
	var parts []*syntax.Regexp
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	} else {
		parts = []*syntax.Regexp{re}
	}
	anyStart, anyEnd := false, false
	// Leading ^ or .*, trailing $ or .*: the match is of the whole string
	// anyway (EQL's regex is anchored), so ^ and $ change nothing.
	for len(parts) > 0 {
		switch p := parts[0]; {
		case p.Op == syntax.OpBeginText:
			parts = parts[1:]
			continue
		case isDotStar(p):
			anyStart = true
			parts = parts[1:]
			continue
		}
		break
	}
	for len(parts) > 0 {
		switch p := parts[len(parts)-1]; {
		case p.Op == syntax.OpEndText:
			parts = parts[:len(parts)-1]
			continue
		case isDotStar(p):
			anyEnd = true
			parts = parts[:len(parts)-1]
			continue
		}
		break
	}
	set := []string{""}
	for _, p := range parts {
		s, ok := expand(p, fold)
		if !ok {
			return 0, nil, false
		}
		set = cross(set, s)
		if set == nil {
			return 0, nil, false
		}
	}
	switch {
	case anyStart && anyEnd:
		kind = mContains
	case anyStart:
		kind = mSuffix
	case anyEnd:
		kind = mPrefix
	default:
		kind = mExact
	}
	return kind, set, true
}

func isDotStar(p *syntax.Regexp) bool {
	return p.Op == syntax.OpStar && len(p.Sub) == 1 && p.Sub[0].Op == syntax.OpAnyChar
}

// expand returns the finite set of strings p matches, when it is one.
func expand(p *syntax.Regexp, fold bool) ([]string, bool) {
	switch p.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		if (p.Flags&syntax.FoldCase != 0) != fold && hasCase(p.Rune) {
			return nil, false // an inline (?i) that the whole matcher does not share
		}
		return []string{string(p.Rune)}, true
	case syntax.OpCharClass:
		// A class of a few runes ([._-]); under folding, [Dd] is one rune.
		var out []string
		seen := map[string]bool{}
		for i := 0; i+1 < len(p.Rune); i += 2 {
			lo, hi := p.Rune[i], p.Rune[i+1]
			if hi-lo >= 8 {
				return nil, false
			}
			for r := lo; r <= hi; r++ {
				s := string(r)
				if fold {
					s = strings.ToLower(s)
				}
				if !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
		if len(out) == 0 || len(out) > 8 {
			return nil, false
		}
		if fold {
			// Every fold partner must be in the class, or folding the
			// literal would widen it.
			for i := 0; i+1 < len(p.Rune); i += 2 {
				for r := p.Rune[i]; r <= p.Rune[i+1]; r++ {
					if !classHas(p.Rune, []rune(strings.ToUpper(string(r)))[0]) || !classHas(p.Rune, []rune(strings.ToLower(string(r)))[0]) {
						return nil, false
					}
				}
			}
		}
		return out, true
	case syntax.OpCapture:
		return expand(p.Sub[0], fold)
	case syntax.OpQuest:
		s, ok := expand(p.Sub[0], fold)
		if !ok {
			return nil, false
		}
		return append([]string{""}, s...), true
	case syntax.OpConcat:
		set := []string{""}
		for _, sub := range p.Sub {
			s, ok := expand(sub, fold)
			if !ok {
				return nil, false
			}
			if set = cross(set, s); set == nil {
				return nil, false
			}
		}
		return set, true
	case syntax.OpAlternate:
		var out []string
		for _, sub := range p.Sub {
			s, ok := expand(sub, fold)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
			if len(out) > maxLiterals {
				return nil, false
			}
		}
		return out, true
	case syntax.OpRepeat:
		if p.Min != p.Max || p.Min > 8 {
			return nil, false
		}
		s, ok := expand(p.Sub[0], fold)
		if !ok {
			return nil, false
		}
		set := []string{""}
		for range p.Min {
			if set = cross(set, s); set == nil {
				return nil, false
			}
		}
		return set, true
	}
	return nil, false
}

func classHas(ranges []rune, r rune) bool {
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= r && r <= ranges[i+1] {
			return true
		}
	}
	return false
}

func hasCase(rs []rune) bool {
	for _, r := range rs {
		if strings.ToUpper(string(r)) != strings.ToLower(string(r)) {
			return true
		}
	}
	return false
}

// cross returns every a+b, or nil past maxLiterals.
func cross(as, bs []string) []string {
	if len(as)*len(bs) > maxLiterals {
		return nil
	}
	out := make([]string, 0, len(as)*len(bs))
	for _, a := range as {
		for _, b := range bs {
			out = append(out, a+b)
		}
	}
	return out
}

// matchLits matches s against the literal set of a regular expression.
func (m *Matcher) matchLits(s string) bool {
	if m.litsLower != nil && isASCII(s) {
		for _, l := range m.litsLower {
			if matchASCIIKind(m.litKind, s, l) {
				return true
			}
		}
		return false
	}
	for _, l := range m.lits {
		if matchKind(m.litKind, s, l, m.fold) {
			return true
		}
	}
	return false
}

// matchASCIIKind tests an ASCII s against the lower-case ASCII literal l
// as kind k says (exact, prefix, suffix; any other kind: contains),
// ignoring case; plain matchers and a regexp's literal sets share it.
func matchASCIIKind(k matcherKind, s, l string) bool {
	switch k {
	case mExact:
		return equalFoldASCII(s, l)
	case mPrefix:
		return len(s) >= len(l) && equalFoldASCII(s[:len(l)], l)
	case mSuffix:
		return len(s) >= len(l) && equalFoldASCII(s[len(s)-len(l):], l)
	}
	return indexFoldASCII(s, l) >= 0
}

func matchKind(k matcherKind, s, l string, fold bool) bool {
	switch k {
	case mExact:
		if fold {
			return strings.EqualFold(s, l)
		}
		return s == l
	case mPrefix:
		if fold {
			return hasPrefixFold(s, l)
		}
		return strings.HasPrefix(s, l)
	case mSuffix:
		if fold {
			return hasSuffixFold(s, l)
		}
		return strings.HasSuffix(s, l)
	}
	if fold {
		return containsFold(s, l)
	}
	return strings.Contains(s, l)
}
