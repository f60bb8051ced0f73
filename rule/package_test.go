package rule

import (
	"errors"
	"github.com/kestrel-sec/kestrel/schema"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadDirPack(t *testing.T) {
	set, err := LoadDir("testdata/pack", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range set.Packages {
		ids = append(ids, p.ID())
	}
	want := "credaccess-001,exfil-001,lateral-001,privesc-001,ransomware-001,revshell-001"
	if strings.Join(ids, ",") != want {
		t.Fatalf("loaded %v, want %s", ids, want)
	}
	if len(set.Unsupported) != 2 {
		t.Fatalf("unsupported: %v", set.Unsupported)
	}
	lua, wasm := set.Unsupported[0], set.Unsupported[1]
	if lua.RuleID != "lua-example-001" || lua.File != "predicate.lua" || lua.Kind != KindLua || !errors.Is(lua, ErrUnsupported) {
		t.Fatalf("lua: %+v", lua)
	}
	if wasm.RuleID != "wasm-example-001" || wasm.File != "rule.wat" || wasm.Kind != KindWasm {
		t.Fatalf("wasm: %+v", wasm)
	}
	if !strings.Contains(lua.Error(), "lua-example-001") || !strings.Contains(lua.Error(), "predicate.lua") {
		t.Fatalf("message does not name the rule and file: %v", lua)
	}

	rs := set.Packages[5]
	m := rs.Manifest
	if m.RuleName != "Reverse Shell Detection" || m.Severity != schema.SeverityCritical || m.MaxSpan != 10*time.Second ||
		len(m.MitreAttack) != 2 || m.MitreAttack[0] != "T1059" || len(m.Tags) != 4 || !m.RequiresBlock ||
		m.FormatVersion != "1.0" || m.Author == "" || m.Description == "" {
		t.Fatalf("manifest %+v", m)
	}
	if len(rs.Ignored) != 1 || rs.Ignored[0] != "predicate.lua" {
		t.Fatalf("ignored %v", rs.Ignored)
	}
	if !rs.Query.Sequence || !rs.Query.Resolved() || rs.Query.MaxSpan != 10*time.Second {
		t.Fatalf("query %s", rs.Query)
	}
	if d, ok := rs.MaxSpan(); !ok || d != 10*time.Second {
		t.Fatalf("MaxSpan %v %v", d, ok)
	}
	ca := set.Packages[0]
	if ca.Query.Sequence || ca.Manifest.MaxSpan != 0 || ca.Manifest.Severity != schema.SeverityHigh {
		t.Fatalf("credential access %+v %s", ca.Manifest, ca.Query)
	}

	// A single package directory loads alone.
	one, err := LoadDir("testdata/pack/privilege_escalation", LoadOptions{})
	if err != nil || len(one.Packages) != 1 || one.Packages[0].ID() != "privesc-001" {
		t.Fatalf("single: %v %+v", err, one)
	}
}

func writePkg(t *testing.T, dir, name, manifest, eql string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(p, ManifestFile), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if eql != "" {
		if err := os.WriteFile(filepath.Join(p, EQLFile), []byte(eql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func manifest(id string) string {
	return `{"metadata": {"rule_id": "` + id + `", "rule_name": "n", "severity": "low"}}`
}

func TestLoadPackageErrors(t *testing.T) {
	dir := t.TempDir()
	f := func(name, man, eql string, sentinel error, wantFile string, line, col int, msgPart string) {
		t.Helper()
		p := writePkg(t, dir, name, man, eql)
		_, err := LoadPackage(p, DefaultRegistry())
		if !errors.Is(err, sentinel) {
			t.Fatalf("%s: %v, want %v", name, err, sentinel)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %T", name, err)
		}
		if e.File != filepath.Join(p, wantFile) || e.Line != line || e.Col != col || !strings.Contains(err.Error(), msgPart) {
			t.Fatalf("%s: %v (file %s line %d col %d)", name, err, e.File, e.Line, e.Col)
		}
	}
	f("no_manifest", "", "process where true", ErrManifest, ManifestFile, 0, 0, "has no manifest.json")
	f("bad_json", "{\n  \"metadata\": {\n    \"rule_id\": \"x\",,\n", "", ErrManifest, ManifestFile, 3, 20, "invalid JSON")
	f("wrong_type", `{"metadata": {"rule_id": 5}}`, "", ErrManifest, ManifestFile, 1, 26, "rule_id")
	f("no_id", `{"metadata": {"rule_name": "n", "severity": "low"}}`, "", ErrManifest, ManifestFile, 0, 0, "rule_id is missing")
	f("no_name", `{"metadata": {"rule_id": "a", "severity": "low"}}`, "", ErrManifest, ManifestFile, 0, 0, "rule_name")
	f("no_sev", `{"metadata": {"rule_id": "a", "rule_name": "n"}}`, "", ErrManifest, ManifestFile, 0, 0, "severity is missing")
	f("bad_sev", `{"metadata": {"rule_id": "a", "rule_name": "n", "severity": "urgent"}}`, "", ErrManifest, ManifestFile, 0, 0, `"urgent"`)
	f("bad_span", `{"metadata": {"rule_id": "a", "rule_name": "n", "severity": "low"}, "capabilities": {"max_span_ms": -1}}`,
		"", ErrManifest, ManifestFile, 0, 0, "max_span_ms")
	f("two_values", manifest("a")+"{}", "", ErrManifest, ManifestFile, 0, 0, "more than one")
	f("no_rule", manifest("a"), "", ErrManifest, "", 0, 0, "has no rule.eql")
	f("syntax", manifest("a"), "-- c\nprocess where\n  process.pid ==", ErrSyntax, EQLFile, 3, 17, "expected a value")
	f("unknown", manifest("a"), "process where process.nope == 1", ErrUnknownField, EQLFile, 1, 15, "process.nope")

	// Flat manifests, as some tools write them, read too; so do
	// severities in any case and "info".
	p := writePkg(t, dir, "flat", `{"rule_id": "f", "rule_name": "Flat", "severity": "Info", "max_span_ms": 1500, "tags": ["t"]}`,
		"sequence [process where true] [file where true]")
	pkg, err := LoadPackage(p, DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Manifest.Severity != schema.SeverityInformational || pkg.Manifest.MaxSpan != 1500*time.Millisecond || pkg.Manifest.Tags[0] != "t" {
		t.Fatalf("flat %+v", pkg.Manifest)
	}
	if d, ok := pkg.MaxSpan(); !ok || d != 1500*time.Millisecond {
		t.Fatalf("manifest maxspan not used: %v", d)
	}
}

func TestLoadDirErrors(t *testing.T) {
	dir := t.TempDir()
	writePkg(t, dir, "a", manifest("same"), "process where true")
	writePkg(t, dir, "b", manifest("same"), "process where true")
	writePkg(t, dir, "c", manifest("c"), "process where nope == 1")
	writePkg(t, dir, "d", manifest("d"), "file where true")
	writePkg(t, dir, ".hidden", "", "")
	writePkg(t, dir, "_disabled", manifest("x"), "broken")
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := LoadDir(dir, LoadOptions{})
	if !errors.Is(err, ErrDuplicateRule) || !errors.Is(err, ErrUnknownField) {
		t.Fatalf("err %v", err)
	}
	if len(set.Packages) != 2 || set.Packages[0].ID() != "same" || set.Packages[1].ID() != "d" {
		t.Fatalf("loaded %+v", set.Packages)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "c", EQLFile)+":1:15") {
		t.Fatalf("error does not point at c/rule.eql:1:15: %v", err)
	}

	if _, err := LoadDir(t.TempDir(), LoadOptions{}); !errors.Is(err, ErrManifest) {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := LoadDir(filepath.Join(dir, "missing"), LoadOptions{}); err == nil {
		t.Fatal("missing dir accepted")
	}
}

// A rule file past the size bound is a limit, and an unreadable one keeps
// its cause, both still matching the kind of file at fault.
func TestLoadPackageReadErrors(t *testing.T) {
	dir := t.TempDir()
	manifest := `{"rule_id":"big-001","rule_name":"Big","severity":"low"}`
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	big := "process where true\n" + strings.Repeat("-- padding\n", MaxRuleFileBytes/11+1)
	if err := os.WriteFile(filepath.Join(dir, EQLFile), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPackage(dir, DefaultRegistry())
	if !errors.Is(err, ErrLimit) || !errors.Is(err, ErrSyntax) {
		t.Errorf("oversized rule.eql: %v; want ErrLimit and ErrSyntax", err)
	}
	if err := os.Remove(filepath.Join(dir, EQLFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, EQLFile), 0o700); err != nil { // not a regular file
		t.Fatal(err)
	}
	if _, err := LoadPackage(dir, DefaultRegistry()); !errors.Is(err, ErrSyntax) {
		t.Errorf("rule.eql a directory: %v; want ErrSyntax", err)
	}
}
