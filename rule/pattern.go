package rule

import (
	"net/netip"
	"regexp"
	"regexp/syntax"
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
// "10.0.0.0/8" or "fd00::/8"; a bare address ("::1") is its own /32 or
// /128, as Elastic's cidrMatch reads it.
func NewCIDR(prefix string) (*Matcher, error) {
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		// A bare address is its own /32 or /128, as Elastic's cidrMatch
		// reads it ("::1", "127.0.0.1").
		a, aerr := netip.ParseAddr(prefix)
		if aerr != nil {
			return nil, err
		}
		p = netip.PrefixFrom(a, a.BitLen())
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
	switch m.kind {
	case mExact, mPrefix, mSuffix, mContains:
		return matchASCIIKind(m.kind, s, m.lower)
	}
	return globASCIIFold(m.lower, s)
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
	if a < utf8.RuneSelf || b < utf8.RuneSelf {
		// One ASCII, one not: only the Kelvin sign (k) and the long s (s)
		// fold to ASCII. Deciding here spares the orbit walk, which is
		// what made a folded wildcard slow on non-ASCII input.
		if a < utf8.RuneSelf {
			a, b = b, a
		}
		switch b | 0x20 {
		case 'k':
			return a == '\u212a'
		case 's':
			return a == '\u017f'
		}
		return false
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

// Anchor says how a Shape's literals relate to the strings a Matcher
// matches.
type Anchor uint8

// The anchors.
const (
	// AnchorNone: the matcher requires no literal (".*", a bare regexp).
	AnchorNone Anchor = iota
	// AnchorExact: a matching string equals one of the literals.
	AnchorExact
	// AnchorPrefix: a matching string starts with one of them.
	AnchorPrefix
	// AnchorSuffix: a matching string ends with one of them.
	AnchorSuffix
	// AnchorContains: a matching string contains one of them.
	AnchorContains
)

// Shape describes a Matcher for indexing and for costing: a literal that
// every matching string must hold, and how much of the input matching
// reads. It is computed at compile time, never per input.
type Shape struct {
	// Fold: the literals compare under Unicode simple case folding, rune
	// by rune (strings.EqualFold), as the matcher does; else bytewise.
	Fold bool
	// Anchor and Literals: every string the matcher matches relates to at
	// least one of Literals as Anchor says. Literals is empty for
	// AnchorNone; it may be a necessary condition only (a wildcard's
	// longest literal part: the matcher may still refuse).
	Anchor   Anchor
	Literals []string
	// Scan: the cost of matching grows with the input (a substring, a
	// wildcard with an inner * or ?, a regular expression); else it is
	// bounded by the pattern (equality, prefix, suffix).
	Scan bool
	// Program is the instruction count of the regular expression when the
	// matcher runs one (not recognised as literals), else 0.
	Program int
	// ASCII: the pattern's literal text is all ASCII (a folded compare of
	// it with a non-ASCII rune is then decided at once).
	ASCII bool
	// Glob is, when the matcher runs as a wildcard with an inner * or ?,
	// the length of its longest part between stars (? included), at least
	// 1: matching backtracks to the last star only, so it costs at worst
	// that many steps per input byte. 0 otherwise.
	Glob int
}

// Shape returns m's Shape.
func (m *Matcher) Shape() Shape {
	sh := Shape{Fold: m.fold, ASCII: isASCII(m.lit) && isASCII(strings.Join(m.lits, ""))}
	lit := func(a Anchor, ls ...string) {
		for _, l := range ls {
			if l == "" && a != AnchorExact {
				return // the empty string is in every string: no requirement
			}
		}
		sh.Anchor, sh.Literals = a, ls
	}
	switch m.kind {
	case mExact:
		lit(AnchorExact, m.lit)
	case mPrefix:
		lit(AnchorPrefix, m.lit)
	case mSuffix:
		lit(AnchorSuffix, m.lit)
	case mContains:
		sh.Scan = true
		lit(AnchorContains, m.lit)
	case mLits:
		sh.Scan = m.litKind == mContains
		lit([...]Anchor{mExact: AnchorExact, mPrefix: AnchorPrefix, mSuffix: AnchorSuffix, mContains: AnchorContains}[m.litKind], m.lits...)
	case mRegex:
		sh.Scan = true
		if p, err := syntax.Parse(m.re.String(), syntax.Perl); err == nil {
			if prog, err := syntax.Compile(p.Simplify()); err == nil {
				sh.Program = len(prog.Inst)
			}
		}
	case mGlob:
		sh.Scan, sh.Glob = true, 1
		for _, seg := range strings.Split(m.lit, "*") {
			sh.Glob = max(sh.Glob, len(seg))
		}
		// The longest run between wildcards must appear in any match. The
		// unfolded glob compares decoded runes, so an invalid byte matches
		// any other: such a run is no requirement bytewise.
		best := ""
		for _, run := range strings.FieldsFunc(m.lit, func(r rune) bool { return r == '*' || r == '?' }) {
			if len(run) > len(best) && (m.fold || utf8.ValidString(run) && !strings.ContainsRune(run, utf8.RuneError)) {
				best = run
			}
		}
		lit(AnchorContains, best)
	}
	return sh
}
