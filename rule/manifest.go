package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// Manifest is a rule package's manifest.json, laid out as the original
// Kestrel writes it:
//
//	{"format_version": "1.0",
//	 "metadata": {"rule_id": "revshell-001", "rule_name": "Reverse Shell Detection",
//	              "rule_version": "1.0.0", "author": "...", "description": "...",
//	              "tags": ["reverse-shell"], "severity": "Critical",
//	              "schema_version": "1.0", "references": ["https://..."]},
//	 "capabilities": {"supports_inline": false, "requires_alert": true,
//	                  "requires_block": true, "max_span_ms": 10000,
//	                  "mitre_attack": ["T1059"]}}
//
// The same members written flat at the top level are read too. rule_id,
// rule_name and severity are required; unknown members are ignored.
type Manifest struct {
	FormatVersion string
	RuleID        string
	RuleName      string
	RuleVersion   string
	Author        string
	Description   string
	Tags          []string
	Severity      schema.Severity
	SchemaVersion string
	References    []string
	// MaxSpan is max_span_ms; 0 when null or absent. A sequence without
	// its own with maxspan uses it.
	MaxSpan        time.Duration
	MitreAttack    []string
	SupportsInline bool
	RequiresAlert  bool
	RequiresBlock  bool
}

type manifestMeta struct {
	RuleID        *string  `json:"rule_id"`
	RuleName      *string  `json:"rule_name"`
	RuleVersion   string   `json:"rule_version"`
	Author        string   `json:"author"`
	Description   string   `json:"description"`
	Tags          []string `json:"tags"`
	Severity      *string  `json:"severity"`
	SchemaVersion string   `json:"schema_version"`
	References    []string `json:"references"`
}

type manifestCaps struct {
	SupportsInline bool     `json:"supports_inline"`
	RequiresAlert  bool     `json:"requires_alert"`
	RequiresBlock  bool     `json:"requires_block"`
	MaxSpanMS      *float64 `json:"max_span_ms"`
	MitreAttack    []string `json:"mitre_attack"`
}

type manifestJSON struct {
	FormatVersion string        `json:"format_version"`
	Metadata      *manifestMeta `json:"metadata"`
	Capabilities  *manifestCaps `json:"capabilities"`
	manifestMeta
	manifestCaps
}

// ParseManifest reads a manifest.json; file names it in errors, which are
// *Error values matching ErrManifest with the line and column of a JSON
// syntax error or the member at fault.
func ParseManifest(file string, data []byte) (*Manifest, error) {
	var raw manifestJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, manifestJSONError(file, data, err)
	}
	if dec.More() {
		return nil, &Error{File: file, Msg: "manifest.json holds more than one JSON value", Err: ErrManifest}
	}
	meta := &raw.manifestMeta
	if raw.Metadata != nil {
		meta = raw.Metadata
	}
	caps := &raw.manifestCaps
	if raw.Capabilities != nil {
		caps = raw.Capabilities
	}
	bad := func(member, msg string) error {
		return &Error{File: file, Token: member, Msg: msg, Err: ErrManifest}
	}
	m := &Manifest{
		FormatVersion: raw.FormatVersion, RuleVersion: meta.RuleVersion, Author: meta.Author,
		Description: meta.Description, Tags: meta.Tags, SchemaVersion: meta.SchemaVersion,
		References: meta.References, MitreAttack: caps.MitreAttack,
		SupportsInline: caps.SupportsInline, RequiresAlert: caps.RequiresAlert, RequiresBlock: caps.RequiresBlock,
	}
	if meta.RuleID == nil || strings.TrimSpace(*meta.RuleID) == "" {
		return nil, bad("rule_id", "metadata.rule_id is missing or empty")
	}
	m.RuleID = *meta.RuleID
	if meta.RuleName == nil || strings.TrimSpace(*meta.RuleName) == "" {
		return nil, bad("rule_name", "metadata.rule_name is missing or empty")
	}
	m.RuleName = *meta.RuleName
	if meta.Severity == nil {
		return nil, bad("severity", "metadata.severity is missing")
	}
	sev, err := schema.ParseSeverity(*meta.Severity)
	ok := err == nil
	if !ok {
		return nil, bad("severity", "metadata.severity "+strconv.Quote(*meta.Severity)+
			" is not one of informational, low, medium, high, critical")
	}
	m.Severity = sev
	if ms := caps.MaxSpanMS; ms != nil {
		if *ms < 0 || *ms != math.Trunc(*ms) || *ms > float64(math.MaxInt64/int64(time.Millisecond)) {
			return nil, bad("max_span_ms", "capabilities.max_span_ms must be a whole, non-negative number of milliseconds")
		}
		m.MaxSpan = time.Duration(*ms) * time.Millisecond
	}
	return m, nil
}

// manifestJSONError turns encoding/json's error into an *Error with a line
// and column where it gives an offset.
func manifestJSONError(file string, data []byte, err error) error {
	var off int64 = -1
	msg := err.Error()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
		msg = "invalid JSON: " + se.Error()
	case errors.As(err, &te):
		off = te.Offset
		msg = "member " + te.Field + " must be " + te.Type.String() + ", not a JSON " + te.Value
	default:
		msg = "invalid JSON: " + msg
	}
	e := &Error{File: file, Msg: msg, Err: ErrManifest}
	// encoding/json's offsets count the offending byte itself.
	if off > 0 && off <= int64(len(data)) {
		e.Line, e.Col = lineCol(data[:off-1])
	}
	return e
}

// lineCol returns the 1-based line and column just after b.
func lineCol(b []byte) (int, int) {
	line := 1 + bytes.Count(b, []byte{'\n'})
	last := bytes.LastIndexByte(b, '\n')
	return line, len([]rune(string(b[last+1:]))) + 1
}
