package rule

import (
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestWildcard(t *testing.T) {
	f := func(pat string, fold bool, s string, want bool) {
		t.Helper()
		m := NewWildcard(pat, fold)
		if got := m.Match(s); got != want {
			t.Fatalf("NewWildcard(%q, %v).Match(%q) = %v, want %v (kind %d)", pat, fold, s, got, want, m.kind)
		}
		// The general matcher agrees with every fast path.
		if got := globMatch(pat, s, fold); got != want {
			t.Fatalf("globMatch(%q, %q, %v) = %v, want %v", pat, s, fold, got, want)
		}
	}
	f("/bin/bash", false, "/bin/bash", true)
	f("/bin/bash", false, "/bin/Bash", false)
	f("/bin/bash", true, "/BIN/BASH", true)
	f("/bin/*", false, "/bin/sh", true)
	f("/bin/*", false, "/bin/", true)
	f("/bin/*", false, "/usr/bin/sh", false)
	f("*.exe", false, "evil.exe", true)
	f("*.exe", false, "evil.EXE", false)
	f("*.exe", true, "evil.EXE", true)
	f("*tmp*", false, "/var/tmp/x", true)
	f("*tmp*", true, "/var/TMP/x", true)
	f("*tmp*", false, "/var/x", false)
	f("*", false, "", true)
	f("**", false, "abc", true)
	f("", false, "", true)
	f("", false, "a", false)
	f("a?c", false, "abc", true)
	f("a?c", false, "ac", false)
	f("a?c", false, "aéc", true) // ? is one character, not one byte
	f("a*b*c", false, "aXXbYYc", true)
	f("a*b*c", false, "aXXbYY", false)
	f("a*b?c*", false, "abbbxc", true)
	f("*/.ssh/*", false, "/root/.ssh/id_rsa", true)
	f("straße", true, "STRASSE", false) // simple folding only, as EqualFold
	f("ÉTÉ", true, "été", true)
	f("k*", true, "\u212Aelvin", true) // Kelvin sign folds to k
	f("*x", true, "a\u212A", false)
	f("*\u212A", true, "ak", true)
	f("a*a*a*a*a*a*b", false, strings.Repeat("a", 200), false)
}

// TestWildcardAgainstPathMatch cross-checks the matcher with path.Match on
// patterns without '/', '[' or '\', where the two agree.
func TestWildcardAgainstPathMatch(t *testing.T) {
	pats := []string{"*", "a*", "*a", "*a*", "a?b", "?", "??", "a*b*c", "*ab*ba*", "abc", ""}
	inputs := []string{"", "a", "b", "ab", "ba", "abc", "aab", "acb", "abba", "aXbYc", "xabbax", "aaa"}
	for _, p := range pats {
		for _, s := range inputs {
			want, _ := path.Match(p, s)
			if got := NewWildcard(p, false).Match(s); got != want {
				t.Errorf("%q ~ %q: %v, path.Match says %v", p, s, got, want)
			}
		}
	}
}

func TestPrefixSuffixContains(t *testing.T) {
	f := func(m *Matcher, s string, want bool) {
		t.Helper()
		if got := m.Match(s); got != want {
			t.Fatalf("%q (kind %d fold %v).Match(%q) = %v", m.source, m.kind, m.fold, s, got)
		}
	}
	f(NewPrefix("/tmp/", false), "/tmp/x", true)
	f(NewPrefix("/tmp/", false), "/TMP/x", false)
	f(NewPrefix("/tmp/", true), "/TMP/x", true)
	f(NewPrefix("/tmp/", true), "/tm", false)
	f(NewSuffix(".sh", true), "x.SH", true)
	f(NewSuffix(".sh", false), "x.SH", false)
	f(NewSuffix(".sh", true), "sh", false)
	f(NewContains("*", false), "a*b", true) // no wildcards in stringContains
	f(NewContains("*", false), "ab", false)
	f(NewContains("LoGiN", true), "x login data", true)
	f(NewContains("login", true), "x logi", false)
	f(NewContains("", true), "", true)
}

func TestRegex(t *testing.T) {
	f := func(pat string, fold bool, s string, want bool) {
		t.Helper()
		m, err := NewRegex(pat, fold)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(s); got != want {
			t.Fatalf("regex %q fold=%v on %q = %v", pat, fold, s, got)
		}
	}
	f(`.*\.(encrypted|locked)$`, false, "/home/a/doc.locked", true)
	f(`.*\.(encrypted|locked)$`, false, "/home/a/doc.LOCKED", false)
	f(`.*\.(encrypted|locked)$`, true, "/home/a/doc.LOCKED", true)
	f(`bash`, false, "/bin/bash", false) // whole string, as EQL's regex
	f(`.*bash`, false, "/bin/bash", true)
	f(`a|b`, false, "a", true)
	f(`a|b`, false, "ab", false)
	f(`.*x.*`, false, "line1\nx", true) // . matches a newline
	if _, err := NewRegex(`(`, false); err == nil {
		t.Fatal("bad regex compiled")
	}
}

func TestMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	re, _ := NewRegex(`.*\.ssh/.*`, true)
	ms := []*Matcher{NewWildcard("/bin/*", false), NewWildcard("*.EXE", true), NewWildcard("a*b?c*", true),
		NewContains("login", true), NewPrefix("/TMP", true), re}
	s := "/root/.ssh/authorized_keys.exe"
	for _, m := range ms {
		m.Match(s) // warm the regexp's machine cache
		if n := testing.AllocsPerRun(100, func() { m.Match(s) }); n != 0 {
			t.Fatalf("%q: %v allocs", m.source, n)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	re, _ := NewRegex(`.*\.(doc|pdf|xls)`, false)
	cases := []struct {
		name string
		m    *Matcher
	}{
		{"exact", NewWildcard("/usr/bin/curl", false)},
		{"exact-fold", NewWildcard("/USR/BIN/CURL", true)},
		{"prefix", NewWildcard("/usr/*", false)},
		{"glob-fold", NewWildcard("*/bin/c?rl", true)},
		{"regex", re},
	}
	s := "/usr/bin/curl"
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBool = c.m.Match(s)
			}
		})
	}
}

var sinkBool bool

func TestRegexLiterals(t *testing.T) {
	f := func(pat string, fold bool, kind matcherKind, lits ...string) {
		t.Helper()
		m, err := NewRegex(pat, fold)
		if err != nil {
			t.Fatal(err)
		}
		if kind == mRegex {
			if m.kind != mRegex {
				t.Fatalf("%q: literalised as %d %q", pat, m.litKind, m.lits)
			}
			return
		}
		if m.kind != mLits || m.litKind != kind || !strings.EqualFold(strings.Join(m.lits, "|"), strings.Join(lits, "|")) {
			t.Fatalf("%q: kind %d/%d lits %q", pat, m.kind, m.litKind, m.lits)
		}
	}
	// The original's rules.
	f(`.*\.(doc|docx|pdf)$`, true, mSuffix, ".doc", ".docx", ".pdf")
	f(`.*\.ssh/.*`, true, mContains, ".ssh/")
	f(`.*Login Data.*`, true, mContains, "Login Data")
	f(`.*(dropbox|drive\.google|s3\.amazonaws).*`, true, mContains, "dropbox", "drive.google", "s3.amazonaws")
	f(`/bin/(ba|z)?sh`, false, mExact, "/bin/sh", "/bin/bash", "/bin/zsh")
	f(`^/tmp/.*`, false, mPrefix, "/tmp/")
	f(`[._]x{2}`, false, mExact, ".xx", "_xx")
	f(`.*\d+.*`, false, mRegex)
	f(`a.b`, false, mRegex)
	f(`(?i)abc`, false, mRegex) // an inline flag the matcher does not share
	f(`.*[a-z]{3}`, false, mRegex)
	f(`(a|b|c|d|e|f|g|h)(a|b|c|d|e|f|g|h)(a|b|c|d|e|f|g|h)`, false, mRegex) // 512 strings: too many
}

func TestCIDR(t *testing.T) {
	f := func(prefix, s string, want bool) {
		t.Helper()
		m, err := NewCIDR(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(s); got != want {
			t.Errorf("cidrMatch(%q, %q) = %v, want %v", s, prefix, got, want)
		}
	}
	f("10.0.0.0/8", "10.1.2.3", true)
	f("10.0.0.0/8", "11.0.0.1", false)
	f("10.1.2.3/8", "10.200.0.1", true) // host bits ignored
	f("192.168.0.0/16", "::ffff:192.168.4.4", true)
	f("fd00::/8", "fd12::1", true)
	f("fd00::/8", "10.0.0.1", false)
	f("0.0.0.0/0", "not an address", false)
	f("127.0.0.1/32", "127.0.0.1", true)
	// A bare address is its own /32 or /128, as Elastic reads it.
	f("::1", "::1", true)
	f("::1", "::2", false)
	f("127.0.0.1", "127.0.0.1", true)
	f("127.0.0.1", "127.0.0.2", false)
	if _, err := NewCIDR("10/8"); err == nil {
		t.Error("10/8 compiled")
	}
	if raceEnabled {
		return
	}
	m, _ := NewCIDR("10.0.0.0/8")
	if n := testing.AllocsPerRun(100, func() { m.Match("10.9.8.7") }); n != 0 {
		t.Errorf("cidrMatch: %v allocs", n)
	}
}

func TestCIDRMatchRule(t *testing.T) {
	reg := DefaultRegistry()
	q, err := Compile("r.eql", `network where cidrMatch(destination.ip, "10.0.0.0/8", "192.168.0.0/16")`, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Steps[0].Cond.String(); got != `cidrMatch(destination.ip, "10.0.0.0/8", "192.168.0.0/16")` {
		t.Errorf("String() %s", got)
	}
	for src, part := range map[string]string{
		`network where cidrMatch(destination.ip, "10/8")`:         "invalid CIDR prefix",
		`network where cidrMatch(destination.port, "10.0.0.0/8")`: "needs a string field",
		`network where cidrMatch~(destination.ip, "10.0.0.0/8")`:  "no case-insensitive form",
		`network where cidrMatch(destination.ip, 5)`:              "string patterns",
	} {
		if _, err := Compile("r.eql", src, reg); err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// TestRuneEqASCIIShortcut proves the shortcut in runeEq: the only
// non-ASCII runes whose case orbit holds an ASCII rune are the Kelvin
// sign and the long s.
func TestRuneEqASCIIShortcut(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf && r != '\u212a' && r != '\u017f' {
				t.Fatalf("%U folds to ASCII %q", r, f)
			}
		}
	}
	for _, c := range []struct {
		a, b rune
		want bool
	}{{'k', '\u212a', true}, {'K', '\u212a', true}, {'\u212a', 'k', true}, {'s', '\u017f', true}, {'S', '\u017f', true}, {'x', '\u212a', false}, {'k', '\u017f', false}, {'a', 'á', false}} {
		if got := runeEq(c.a, c.b, true); got != c.want {
			t.Errorf("runeEq(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
