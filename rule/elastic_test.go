package rule

import (
	"encoding/json"
	"errors"
	"github.com/kestrel-sec/kestrel/schema"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readElastic(t *testing.T, name string) (*ElasticRule, error) {
	t.Helper()
	p := filepath.Join("testdata", "elastic", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return ParseElasticRule(p, b)
}

func TestParseElasticRule(t *testing.T) {
	r, err := readElastic(t, "execution_shell_from_web_server.toml")
	if err != nil {
		t.Fatal(err)
	}
	if r.RuleID != "0f6b6f4e-7c1a-4a4e-9a57-1b2c3d4e5f60" || r.Name != "Shell Started by a Web Server" ||
		r.Severity != "high" || r.RiskScore != 73 || r.Version != 3 || r.Maturity != "production" ||
		!slices.Equal(r.Techniques, []string{"T1505", "T1505.003"}) || !slices.Contains(r.Tags, "Tactic: Execution") ||
		!strings.HasPrefix(r.Query, "process where") {
		t.Fatalf("%+v", r)
	}
	// The manifest keeps what the package format has, and risk_score.
	var m struct {
		Metadata struct {
			RuleID, RuleName, Severity, Description, RuleVersion string
			RiskScore                                            float64 `json:"risk_score"`
			Tags                                                 []string
		}
		Capabilities struct {
			MitreAttack []string `json:"mitre_attack"`
		}
	}
	if err := json.Unmarshal(r.Manifest(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Metadata.RiskScore != 73 || !slices.Equal(m.Capabilities.MitreAttack, r.Techniques) {
		t.Fatalf("manifest: %s", r.Manifest())
	}
	pm, err := ParseManifest("manifest.json", r.Manifest())
	if err != nil {
		t.Fatal(err)
	}
	if pm.RuleID != r.RuleID || pm.RuleName != r.Name || pm.Severity != schema.SeverityHigh || pm.RuleVersion != "3" ||
		pm.Description != r.Description || !slices.Equal(pm.MitreAttack, []string{"T1505", "T1505.003"}) {
		t.Fatalf("%+v", pm)
	}
	if r.PackageName() != "execution_shell_from_web_server" {
		t.Fatal(r.PackageName())
	}
}

func TestParseElasticSkips(t *testing.T) {
	f := func(name, reason string) {
		t.Helper()
		r, err := readElastic(t, name)
		var skip *ElasticSkipError
		if !errors.Is(err, ErrNotEQL) || !errors.As(err, &skip) || skip.Reason != reason || r == nil || r.RuleID == "" ||
			!strings.Contains(err.Error(), name) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	f("discovery_kuery_rule.toml", "type query, language kuery")
	f("ml_rare_process.toml", "type machine_learning")
}

func TestParseElasticErrors(t *testing.T) {
	f := func(src, part string, line int) {
		t.Helper()
		_, err := ParseElasticRule("x.toml", []byte(src))
		var e *Error
		if !errors.Is(err, ErrElastic) || !errors.As(err, &e) || !strings.Contains(err.Error(), part) || e.Line != line {
			t.Fatalf("%q: %v", src, err)
		}
	}
	f("[rule]\nname = \"a\"\nrule_id = \n", "x.toml:3:", 3)
	f("[rule]\nname = \"a\"\n", "no rule_id", 0)
	f("[rule]\nrule_id = \"a\"\n", "no name", 0)
	f("[rule]\nrule_id = \"a\"\nname = \"n\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"low\"\n", "no query", 0)
	f("[rule]\nrule_id = \"a\"\nname = \"n\"\ntype = \"eql\"\nlanguage = \"eql\"\nseverity = \"dire\"\nquery = \"any where true\"\n", `unknown severity "dire"`, 0)
}

// TestElasticPackages converts the testdata rules and loads them against
// ECS: the EQL ones load, the one reading a vendor field is refused with
// the rule.eql line and column.
func TestElasticPackages(t *testing.T) {
	dir := t.TempDir()
	for name, wantErr := range map[string]string{
		"execution_shell_from_web_server.toml":           "",
		"command_and_control_download_then_connect.toml": "",
		"defense_evasion_unknown_field.toml":             "rule.eql:1:15: unknown field vendor.acme.verdict",
	} {
		r, err := readElastic(t, name)
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := r.WritePackage(filepath.Join(dir, r.PackageName()), DefaultRegistry())
		if wantErr == "" {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if pkg.ID() != r.RuleID || pkg.Manifest.Severity.String() == "" {
				t.Fatalf("%s: %+v", name, pkg.Manifest)
			}
			continue
		}
		if !errors.Is(err, ErrUnknownField) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: %v, want %q", name, err, wantErr)
		}
	}
}

// FuzzParseElasticRule checks that no TOML input panics the reader and
// that what it accepts converts to a manifest ParseManifest reads back.
func FuzzParseElasticRule(f *testing.F) {
	paths, _ := filepath.Glob("testdata/elastic/*.toml")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[rule]\nrule_id = 1\n"))
	f.Add([]byte("[[rule.threat]]\n[[rule.threat.technique]]\nid = \"T1\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseElasticRule("f.toml", data)
		if err != nil {
			var skip *ElasticSkipError
			var e *Error
			if !errors.As(err, &skip) && !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if _, err := ParseManifest("manifest.json", r.Manifest()); err != nil {
			t.Fatalf("accepted rule, bad manifest: %v\n%s", err, r.Manifest())
		}
	})
}
