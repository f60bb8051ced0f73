package rule

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that the parser never panics, that every error carries
// a position inside the text, and that a parsed query prints as text that
// parses back to the same query.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/pack/*/rule.eql")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		`process where process.executable == "/bin/bash" and process.pid > 1`,
		`sequence by a with maxspan=1s [x where a : "b*"] by c with runs=2 [y where not d in~ ("e")] until [z where true]`,
		`any where startsWith~(f, "a", 'b') or f regex "x.*" or 5 <= g or h == null or """raw"""`,
		"process where `odd field` like \"?*\" /* c */ -- d\n",
	} {
		f.Add(s)
	}
	reg := DefaultRegistry()
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var e *Error
			if !asError(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Line < 0 || e.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("error line %d out of range: %v", e.Line, err)
			}
			return
		}
		out := q.String()
		q2, err := Parse(out)
		if err != nil {
			t.Fatalf("printed query does not parse: %v\nsource: %q\nprinted: %q", err, src, out)
		}
		if out2 := q2.String(); out2 != out {
			t.Fatalf("round trip differs:\n%q\n%q", out, out2)
		}
		_ = q.Resolve("", reg) // must not panic
	})
}

func asError(err error, e **Error) bool {
	if x, ok := err.(*Error); ok {
		*e = x
		return true
	}
	return false
}

// globToRegexp is a second, independent implementation of wildcard
// matching, to compare the matcher with.
func globToRegexp(p string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?s)")
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// FuzzWildcard compares the wildcard matcher, fast paths included, with a
// regular expression built from the same pattern.
func FuzzWildcard(f *testing.F) {
	f.Add("*.exe", "evil.EXE", true)
	f.Add("a*b?c", "aXXbYc", false)
	f.Add("*tmp*", "/var/TMP/x", true)
	f.Add("ÉT?", "été", true)
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		if !utf8.ValidString(pat) || !utf8.ValidString(s) || len(pat) > 64 || len(s) > 256 {
			return
		}
		if fold && !isASCII(pat+s) {
			// RE2's (?i) folds the same orbits, but keep the oracle simple.
			return
		}
		want := globToRegexp(pat, fold).MatchString(s)
		if got := NewWildcard(pat, fold).Match(s); got != want {
			t.Fatalf("NewWildcard(%q, %v).Match(%q) = %v, regexp says %v", pat, fold, s, got, want)
		}
		ls, lp := s, pat
		if fold {
			ls, lp = strings.ToLower(s), strings.ToLower(pat)
		}
		if got, want := NewPrefix(pat, fold).Match(s), strings.HasPrefix(ls, lp); got != want {
			t.Fatalf("NewPrefix(%q, %v).Match(%q) = %v", pat, fold, s, got)
		}
		if got, want := NewSuffix(pat, fold).Match(s), strings.HasSuffix(ls, lp); got != want {
			t.Fatalf("NewSuffix(%q, %v).Match(%q) = %v", pat, fold, s, got)
		}
		if got, want := NewContains(pat, fold).Match(s), strings.Contains(ls, lp); got != want {
			t.Fatalf("NewContains(%q, %v).Match(%q) = %v", pat, fold, s, got)
		}
	})
}

// FuzzManifest checks that any bytes give a Manifest or an *Error.
func FuzzManifest(f *testing.F) {
	paths, _ := filepath.Glob("testdata/pack/*/manifest.json")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"rule_id": "a", "rule_name": "b", "severity": "low", "max_span_ms": 1e30}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest("manifest.json", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		if m.RuleID == "" || m.RuleName == "" || m.MaxSpan < 0 {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// FuzzReadSchema: any schema file gives a Registry or a *Error matching
// ErrSchemaFile, never a panic; a Registry it gives resolves every path
// it lists.
func FuzzReadSchema(f *testing.F) {
	for _, p := range []string{"../schema/kestrel.json", "../schema/ecs.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id": "x", "version": 1, "fields": [{"id": 1, "path": "a.b", "type": "String"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := ReadSchema("schema.json", bytes.NewReader(data))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSchemaFile) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		for _, fd := range reg.Fields() {
			id, ok := reg.FieldID(fd.Path)
			if back, found := reg.Field(id); !ok || !found || back.Path != fd.Path {
				t.Fatalf("%q: id %v (%v) gives %q", fd.Path, id, ok, back.Path)
			}
		}
	})
}

// FuzzRegex compares regular expressions matched as literal sets with the
// regexp they come from (always compiled alongside).
func FuzzRegex(f *testing.F) {
	for _, p := range []string{`.*\.(doc|docx|pdf)$`, `.*\.ssh/id_.*`, `.*Login Data.*`, `.*@.*`,
		`.*(dropbox|drive\.google|s3\.amazonaws).*`, `^/tmp/[a-c]x?`, `(ab){2}.*`, `a|b`, `(?i)x`, `[kK]`, `.*`} {
		f.Add(p, "/home/U/Report.DOCX", true)
		f.Add(p, "alice@host", false)
	}
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		if len(pat) > 64 || len(s) > 256 || !utf8.ValidString(s) {
			return
		}
		m, err := NewRegex(pat, fold)
		if err != nil {
			return
		}
		if got, want := m.Match(s), m.re.MatchString(s); got != want {
			t.Fatalf("NewRegex(%q, %v) (kind %d, lits %q).Match(%q) = %v, regexp says %v", pat, fold, m.kind, m.lits, s, got, want)
		}
	})
}
