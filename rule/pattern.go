package rule

import (
	"net/netip"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NewWildcard compiles an EQL wildcard pattern: * matches any run of
// characters (none included), ? exactly one character, anything else
// itself; fold makes the match case-insensitive (Unicode simple folding).
// Patterns that are a plain string, a prefix (abc*), a suffix (*abc) or a
// substring (*abc*) take a fast path.
func NewWildcard(pattern string, fold bool) *Matcher {
	m := &Matcher{lit: pattern, fold: fold, source: pattern, kind: mGlob}
	if strings.IndexByte(pattern, '?') >= 0 {
		return m.prepare()
	}
	inner := strings.Trim(pattern, "*")
	if strings.IndexByte(inner, '*') >= 0 {
		return m.prepare()
	}
	lead := strings.HasPrefix(pattern, "*")
	trail := len(pattern) > 0 && strings.HasSuffix(pattern, "*") && len(inner) < len(pattern)
	m.lit = inner
	defer m.prepare()
	switch {
	case inner == "" && (lead || trail):
		m.kind = mContains // "*" and "**": anything
	case lead && trail:
		m.kind = mContains
	case lead:
		m.kind = mSuffix
	case trail:
		m.kind = mPrefix
	default:
		m.kind = mExact
	}
	return m
}

// NewPrefix, NewSuffix and NewContains compile the matchers of
// startsWith, endsWith and stringContains; fold makes them
// case-insensitive.
func NewPrefix(s string, fold bool) *Matcher {
	return (&Matcher{kind: mPrefix, lit: s, fold: fold, source: s}).prepare()
}

// NewSuffix is the matcher of endsWith; see NewPrefix.
func NewSuffix(s string, fold bool) *Matcher {
	return (&Matcher{kind: mSuffix, lit: s, fold: fold, source: s}).prepare()
}

// NewContains is the matcher of stringContains; see NewPrefix.
func NewContains(s string, fold bool) *Matcher {
	return (&Matcher{kind: mContains, lit: s, fold: fold, source: s}).prepare()
}

// prepare sets up the ASCII fast path of a case-insensitive matcher.
func (m *Matcher) prepare() *Matcher {
	if m.fold && isASCII(m.lit) {
		m.ascii = true
		b := []byte(m.lit)
		for i, c := range b {
			b[i] = lowerASCII(c)
		}
		m.lower = string(b)
	}
	return m
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldASCII reports whether s equals lower (lower case ASCII) but for
// the case of s's ASCII letters.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// indexFoldASCII returns the first index of lower in ASCII s, ignoring
// case, or -1.
func indexFoldASCII(s, lower string) int {
	if lower == "" {
		return 0
	}
	first, rest := lower[0], lower[1:]
	for i := 0; i+len(lower) <= len(s); i++ {
		if lowerASCII(s[i]) == first && equalFoldASCII(s[i+1:i+len(lower)], rest) {
			return i
		}
	}
	return -1
}

// NewRegex compiles an RE2 pattern that must match the whole string (as
// EQL's regex does); fold makes it case-insensitive. . also matches a
// newline.
func NewRegex(pattern string, fold bool) (*Matcher, error) {
	flags := "(?s)"
	if fold {
		flags = "(?is)"
	}
	re, err := regexp.Compile(flags + `^(?:` + pattern + `)$`)
	if err != nil {
		return nil, err
	}
	m := &Matcher{kind: mRegex, re: re, fold: fold, source: pattern}
	if kind, lits, ok := literalRegex(pattern, fold); ok {
		m.kind, m.litKind, m.lits = mLits, kind, lits
		if fold && isASCII(strings.Join(lits, "")) {
			for _, l := range lits {
				m.litsLower = append(m.litsLower, strings.ToLower(l))
			}
		}
	}
	return m, nil
}

// NewCIDR compiles the matcher of cidrMatch: a string that parses as an IP
// address (IPv4-mapped IPv6 taken as IPv4) inside prefix, such as
// "10.0.0.0/8" or "fd00::/8".
func NewCIDR(prefix string) (*Matcher, error) {
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return nil, err
	}
	return &Matcher{kind: mCIDR, prefix: p.Masked(), source: prefix}, nil
}

// Source returns the pattern the matcher was compiled from.
func (m *Matcher) Source() string { return m.source }

// Match reports whether s matches. It allocates nothing (a regular
// expression may, rarely, grow its cached machine).
func (m *Matcher) Match(s string) bool {
	if m.ascii && isASCII(s) {
		return m.matchASCII(s)
	}
	switch m.kind {
	case mExact:
		if m.fold {
			return strings.EqualFold(s, m.lit)
		}
		return s == m.lit
	case mPrefix:
		if m.fold {
			return hasPrefixFold(s, m.lit)
		}
		return strings.HasPrefix(s, m.lit)
	case mSuffix:
		if m.fold {
			return hasSuffixFold(s, m.lit)
		}
		return strings.HasSuffix(s, m.lit)
	case mContains:
		if m.fold {
			return containsFold(s, m.lit)
		}
		return strings.Contains(s, m.lit)
	case mRegex:
		return m.re.MatchString(s)
	case mLits:
		return m.matchLits(s)
	case mCIDR:
		a, err := netip.ParseAddr(s)
		return err == nil && m.prefix.Contains(a.Unmap())
	}
	return globMatch(m.lit, s, m.fold)
}

// matchASCII is Match for a case-insensitive ASCII pattern and input.
func (m *Matcher) matchASCII(s string) bool {
	l := m.lower
	switch m.kind {
	case mExact:
		return equalFoldASCII(s, l)
	case mPrefix:
		return len(s) >= len(l) && equalFoldASCII(s[:len(l)], l)
	case mSuffix:
		return len(s) >= len(l) && equalFoldASCII(s[len(s)-len(l):], l)
	case mContains:
		return indexFoldASCII(s, l) >= 0
	}
	return globASCIIFold(l, s)
}

// globASCIIFold is globMatch for a lower-case ASCII pattern and an ASCII
// input, ignoring case, byte by byte.
func globASCIIFold(p, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && lowerASCII(s[sx]) == c {
					px++
					sx++
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			starS++
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}

// runeEq reports whether a and b are equal, or equal under simple case
// folding when fold is set.
func runeEq(a, b rune, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, p string) bool {
	for p != "" {
		if s == "" {
			return false
		}
		pr, pw := utf8.DecodeRuneInString(p)
		sr, sw := utf8.DecodeRuneInString(s)
		if !runeEq(pr, sr, true) {
			return false
		}
		p, s = p[pw:], s[sw:]
	}
	return true
}

func hasSuffixFold(s, p string) bool {
	for p != "" {
		if s == "" {
			return false
		}
		pr, pw := utf8.DecodeLastRuneInString(p)
		sr, sw := utf8.DecodeLastRuneInString(s)
		if !runeEq(pr, sr, true) {
			return false
		}
		p, s = p[:len(p)-pw], s[:len(s)-sw]
	}
	return true
}

func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	for {
		if hasPrefixFold(s, sub) {
			return true
		}
		if s == "" {
			return false
		}
		_, w := utf8.DecodeRuneInString(s)
		s = s[w:]
	}
}

// globMatch matches s against a pattern of *, ? and literal characters,
// rune by rune. On a mismatch it backtracks to the last star only (the
// classic linear-space algorithm), so it runs in O(len(p)·len(s)) at worst.
func globMatch(p, s string, fold bool) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, w := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += w
					continue
				}
			default:
				if sx < len(s) {
					pr, pw := utf8.DecodeRuneInString(p[px:])
					sr, sw := utf8.DecodeRuneInString(s[sx:])
					if runeEq(pr, sr, fold) {
						px += pw
						sx += sw
						continue
					}
				}
			}
		}
		// Mismatch: let the last star swallow one more character.
		if starP >= 0 && starS < len(s) {
			_, w := utf8.DecodeRuneInString(s[starS:])
			starS += w
			px, sx = starP+1, starS
			continue
		}
		return false
	}
	return true
}
