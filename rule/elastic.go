package rule

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kestrel-sec/kestrel/schema"
)

// Elastic's detection rules (github.com/elastic/detection-rules,
// rules/**/*.toml) convert to rule packages: the query of an EQL rule
// becomes rule.eql unchanged, and the rule's metadata a manifest.json.

// ErrNotEQL: an Elastic rule whose language is not EQL (kuery, esql,
// lucene, a machine-learning or threshold rule); an *ElasticSkipError says
// which.
var ErrNotEQL = errors.New("rule: not an EQL rule")

// ErrElastic: an Elastic rule file that cannot be read (bad TOML, a
// missing rule_id, name or query).
var ErrElastic = errors.New("rule: bad Elastic rule")

// ElasticRule is the part of an Elastic detection rule that a rule package
// keeps.
type ElasticRule struct {
	// File is the TOML file it came from.
	File string
	// RuleID, Name, Description, Severity ("low" ... "critical") and
	// RiskScore (0-100) are the rule's own.
	RuleID, Name, Description, Severity string
	RiskScore                           float64
	// Type is the rule type (eql, query, esql, machine_learning, threshold,
	// new_terms, threat_match) and Language the query language (eql,
	// kuery, esql, lucene; empty for machine learning).
	Type, Language string
	// Query is the rule's query, as written.
	Query string
	// Tags are the rule's tags ("Tactic: Execution", ...), Techniques the
	// MITRE ATT&CK technique and sub-technique ids of its threat entries
	// (T1059, T1059.004), References and Authors as listed.
	Tags, Techniques, References, Authors []string
	// Version is the rule's version, 0 when absent; Maturity is metadata
	// maturity (production, development, deprecated).
	Version  int64
	Maturity string
}

// ElasticSkipError reports an Elastic rule that is not EQL.
type ElasticSkipError struct {
	File, RuleID, Name string
	// Reason says what it is ("type query, language kuery").
	Reason string
}

// Error names the file and why it is skipped.
func (e *ElasticSkipError) Error() string {
	return e.File + ": rule " + e.RuleID + " (" + e.Name + ") skipped: " + e.Reason + "; only EQL rules convert"
}

// Unwrap returns ErrNotEQL.
func (e *ElasticSkipError) Unwrap() error { return ErrNotEQL }

type elasticTOML struct {
	Metadata struct {
		Maturity string `toml:"maturity"`
	} `toml:"metadata"`
	Rule struct {
		Author      []string `toml:"author"`
		Description string   `toml:"description"`
		Language    string   `toml:"language"`
		Name        string   `toml:"name"`
		Query       string   `toml:"query"`
		References  []string `toml:"references"`
		RiskScore   float64  `toml:"risk_score"`
		RuleID      string   `toml:"rule_id"`
		Severity    string   `toml:"severity"`
		Tags        []string `toml:"tags"`
		Type        string   `toml:"type"`
		Version     int64    `toml:"version"`
		Threat      []struct {
			Framework string `toml:"framework"`
			Technique []struct {
				ID           string `toml:"id"`
				Subtechnique []struct {
					ID string `toml:"id"`
				} `toml:"subtechnique"`
			} `toml:"technique"`
		} `toml:"threat"`
	} `toml:"rule"`
}

// ParseElasticRule reads one Elastic rule from its TOML text; file names it
// in errors. A rule that is not EQL returns the rule and an
// *ElasticSkipError (ErrNotEQL); a file that is not a rule returns an
// *Error matching ErrElastic, with the line of a TOML syntax error.
func ParseElasticRule(file string, data []byte) (*ElasticRule, error) {
	if len(data) > MaxSourceBytes {
		return nil, &Error{File: file, Msg: "larger than " + strconv.Itoa(MaxSourceBytes) + " bytes", Err: ErrElastic}
	}
	var raw elasticTOML
	if _, err := toml.Decode(string(data), &raw); err != nil {
		e := &Error{File: file, Msg: err.Error(), Err: ErrElastic}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.Line, e.Col, e.Msg = pe.Position.Line, pe.Position.Col, pe.Message
		}
		return nil, e
	}
	rr := &raw.Rule
	r := &ElasticRule{
		File: file, RuleID: strings.TrimSpace(rr.RuleID), Name: strings.TrimSpace(rr.Name),
		Description: strings.TrimSpace(rr.Description), Severity: rr.Severity, RiskScore: rr.RiskScore,
		Type: rr.Type, Language: rr.Language, Query: rr.Query, Tags: rr.Tags, References: rr.References,
		Authors: rr.Author, Version: rr.Version, Maturity: raw.Metadata.Maturity,
	}
	for _, th := range rr.Threat {
		for _, t := range th.Technique {
			if t.ID != "" && !slices.Contains(r.Techniques, t.ID) {
				r.Techniques = append(r.Techniques, t.ID)
			}
			for _, s := range t.Subtechnique {
				if s.ID != "" && !slices.Contains(r.Techniques, s.ID) {
					r.Techniques = append(r.Techniques, s.ID)
				}
			}
		}
	}
	switch {
	case r.RuleID == "":
		return nil, &Error{File: file, Token: "rule_id", Msg: "[rule] has no rule_id", Err: ErrElastic}
	case r.Name == "":
		return nil, &Error{File: file, Token: "name", Msg: "[rule] has no name", Err: ErrElastic}
	}
	if r.Type != "eql" || r.Language != "eql" {
		reason := "type " + orNone(r.Type)
		if r.Language != "" {
			reason += ", language " + r.Language
		}
		return r, &ElasticSkipError{File: file, RuleID: r.RuleID, Name: r.Name, Reason: reason}
	}
	if strings.TrimSpace(r.Query) == "" {
		return nil, &Error{File: file, Token: "query", Msg: "EQL rule has no query", Err: ErrElastic}
	}
	if _, err := schema.ParseSeverity(r.Severity); err != nil {
		return nil, &Error{File: file, Token: r.Severity, Msg: "unknown severity " + strconv.Quote(r.Severity), Err: ErrElastic}
	}
	return r, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Manifest returns the manifest.json of r's rule package: rule_id,
// rule_name, description, severity, tags, references and author as Elastic
// wrote them, the MITRE technique ids under capabilities.mitre_attack, and
// risk_score and the Elastic version kept in metadata (members the loader
// ignores).
func (r *ElasticRule) Manifest() []byte {
	type meta struct {
		RuleID      string   `json:"rule_id"`
		RuleName    string   `json:"rule_name"`
		RuleVersion string   `json:"rule_version,omitempty"`
		Author      string   `json:"author,omitempty"`
		Description string   `json:"description,omitempty"`
		Tags        []string `json:"tags,omitempty"`
		Severity    string   `json:"severity"`
		RiskScore   float64  `json:"risk_score"`
		References  []string `json:"references,omitempty"`
		Source      string   `json:"source"`
	}
	type caps struct {
		RequiresAlert bool     `json:"requires_alert"`
		MitreAttack   []string `json:"mitre_attack,omitempty"`
	}
	m := struct {
		FormatVersion string `json:"format_version"`
		Metadata      meta   `json:"metadata"`
		Capabilities  caps   `json:"capabilities"`
	}{"1.0", meta{
		RuleID: r.RuleID, RuleName: r.Name, Author: strings.Join(r.Authors, ", "), Description: r.Description,
		Tags: r.Tags, Severity: r.Severity, RiskScore: r.RiskScore, References: r.References,
		Source: "elastic/detection-rules " + filepath.Base(r.File),
	}, caps{RequiresAlert: true, MitreAttack: r.Techniques}}
	if r.Version > 0 {
		m.Metadata.RuleVersion = strconv.FormatInt(r.Version, 10)
	}
	b, _ := json.MarshalIndent(m, "", "  ") // strings and numbers only: cannot fail
	return append(b, '\n')
}

// EQL returns the rule.eql of r's rule package: the query unchanged.
func (r *ElasticRule) EQL() []byte {
	return []byte(strings.TrimSpace(r.Query) + "\n")
}

// WritePackage writes r as a rule package into dir (created, mode 0755;
// files 0644) and, when reg is not nil, loads it back against reg: the
// error then says why it does not load (an *Error with the rule.eql line
// and column), and the package stays on disk for the reader to see.
func (r *ElasticRule) WritePackage(dir string, reg *schema.Registry) (*Package, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), r.Manifest(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, EQLFile), r.EQL(), 0o644); err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, nil
	}
	return LoadPackage(dir, reg)
}

// PackageName returns a folder name for r's package: the TOML
// file's base name without .toml, made of letters, digits, _ and -.
func (r *ElasticRule) PackageName() string {
	base := strings.TrimSuffix(filepath.Base(r.File), ".toml")
	b := []byte(base)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return r.RuleID
	}
	return string(b)
}
