package detect

import (
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
)

// linearOf returns the linear test of m alone, or nil when m has none.
func linearOf(m *rule.Matcher) func(string) bool {
	tests, linear := linearTests([]*rule.Matcher{m})
	if !linear[0] {
		return nil
	}
	return tests[0]
}

// checkLinear fails when m has a linear test that answers s unlike
// m.Match; it reports whether m has one.
func checkLinear(t *testing.T, what string, m *rule.Matcher, s string) bool {
	t.Helper()
	test := linearOf(m)
	if test == nil {
		return false
	}
	if got, want := test(s), m.Match(s); got != want {
		t.Fatalf("%s %q on %q: linear %v, Matcher %v", what, m.Source(), s, got, want)
	}
	return true
}

// FuzzLinearMatch: the linear test of a wildcard, a substring or a literal
// regexp answers exactly as rule.Matcher does, folded or not, on any
// input (invalid UTF-8, Kelvin and long-s signs, non-ASCII case pairs).
func FuzzLinearMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"*curl*|*sh*", "curl -s http://x | sh"}, {"*CURL*|*SH*", "xcUrLy|yyShz"}, {"*-enc*", "powershell -ENC aGk="},
		{"*k*s*", "\u212a\u017f"}, {"*é*É*b*", "xÉyéb"}, {"a*b", "ab"}, {"ab*ba", "aba"}, {"*\xff*", "a\xfeb"},
		{"*\ufffd*", "\xff"}, {".*(dropbox|drive\\.google).*", "https://DRIVE.google.com"}, {"*a**b*", "xaby"},
		{"**", ""}, {"*", "anything"}, {"*?b*", "ab"}, {"*ſ*", "S"}, {"x*K", "xyk"}, {"*á*á*á*á*á*", "ááááá"},
		{"*\U0001F600b*", "x\U0001F600B"}, {"*\U00010400*", "\U00010428"},
	} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if s != "" && len(s) < 64 && len(pattern) < 16 {
			// Long enough for the scans' lanes and image blocks.
			long := strings.Repeat(s, 1100/len(s)+1)
			checkLinear(t, "contains", rule.NewContains(pattern, fold), long)
			checkLinear(t, "wildcard", rule.NewWildcard("*"+strings.ReplaceAll(pattern, "?", "*")+"*", fold), long+pattern)
		}
		checkLinear(t, "wildcard", rule.NewWildcard(pattern, fold), s)
		checkLinear(t, "contains", rule.NewContains(pattern, fold), s)
		if m, err := rule.NewRegex(".*("+pattern+").*", fold); err == nil {
			checkLinear(t, "regex", m, s)
		}
		// The pattern's stars as literals' separators: a *-only wildcard.
		star := "*" + strings.ReplaceAll(pattern, "?", "*") + "*"
		checkLinear(t, "wildcard", rule.NewWildcard(star, fold), s)
		// Several substrings at once share one automaton.
		parts := strings.FieldsFunc(pattern, func(r rune) bool { return r == '*' || r == '?' || r == '|' })
		if len(parts) > 1 {
			ms := make([]*rule.Matcher, len(parts))
			want := false
			for i, p := range parts {
				ms[i] = rule.NewContains(p, fold)
				want = want || ms[i].Match(s)
			}
			tests, _ := linearTests(ms)
			got := false
			for _, test := range tests {
				got = got || test(s)
			}
			if got != want {
				t.Fatalf("substrings %q on %q (fold %v): linear %v, Matcher %v", parts, s, fold, got, want)
			}
		}
	})
}

// TestLinearKinds: the literal tests are linear, the others are not.
func TestLinearKinds(t *testing.T) {
	re := func(p string, fold bool) *rule.Matcher {
		m, err := rule.NewRegex(p, fold)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		m      *rule.Matcher
		linear bool
	}{
		{rule.NewWildcard("*curl*|*sh*", true), true},
		{rule.NewWildcard("*-enc*", true), true},
		{rule.NewWildcard("/tmp/*.sh", false), true},
		{rule.NewWildcard("*", true), true},
		{rule.NewContains("", true), true},
		{re(".*(dropbox|drive\\.google|s3\\.amazonaws).*", true), true},
		{re(".*\\.(sql|db)", true), true},
		{rule.NewWildcard("*a?b*", true), false},
		{rule.NewWildcard("*\xff*x*", false), false},
		{rule.NewWildcard("*\xff*x*", true), true},
		{re("[a-z]+b", false), false},
	} {
		if got := linearOf(c.m) != nil; got != c.linear {
			t.Errorf("%q: linear %v, want %v", c.m.Source(), got, c.linear)
		}
	}
}
