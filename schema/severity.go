package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
)

// Severity ranks a rule and the alerts it raises, least to most severe; the
// order of the constants is the order of severity, so they compare with <.
// The zero value is SeverityInformational. It is defined here, once: a
// rule manifest's severity (rule.Manifest.Severity) and an alert's
// (sink.Alert.Severity) are this type.
type Severity uint8

// Severities, least to most severe.
const (
	SeverityInformational Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical

	// NumSeverities is the number of severities: every valid Severity is
	// below it.
	NumSeverities
)

var severityNames = [NumSeverities]string{"informational", "low", "medium", "high", "critical"}

// String returns the lowercase name ("high"); a value out of range reads
// "severity(N)" rather than panicking.
func (s Severity) String() string {
	if s < NumSeverities {
		return severityNames[s]
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// ErrUnknownSeverity is matched (errors.Is) by ParseSeverity's and
// UnmarshalJSON's errors.
var ErrUnknownSeverity = errors.New("unknown severity")

// ParseSeverity reads a severity name in any case, surrounding space
// ignored: "Critical" (as manifests write it), "high" (as alerts do), and
// "info" for SeverityInformational, the Rust original's spelling.
func ParseSeverity(s string) (Severity, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	if l == "info" {
		return SeverityInformational, nil
	}
	for i, n := range severityNames {
		if l == n {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q (want informational, low, medium, high or critical)", ErrUnknownSeverity, s)
}

// MarshalJSON writes the lowercase name as a JSON string. A value out of
// range is an error, so a corrupt Severity never reaches the wire.
func (s Severity) MarshalJSON() ([]byte, error) {
	if s >= NumSeverities {
		return nil, fmt.Errorf("%w: %d", ErrUnknownSeverity, uint8(s))
	}
	return valuejson.AppendQuoted(nil, severityNames[s]), nil
}

// UnmarshalJSON reads a JSON string holding a name ParseSeverity accepts.
func (s *Severity) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err != nil {
		shown := string(data)
		if len(shown) > 32 {
			shown = shown[:32] + "..."
		}
		return fmt.Errorf("%w: %s is not a JSON string", ErrUnknownSeverity, shown)
	}
	v, err := ParseSeverity(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
