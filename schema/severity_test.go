package schema

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestSeverity: names in any case and "info" parse, the JSON form round
// trips, and out-of-range values are refused with ErrUnknownSeverity.
func TestSeverity(t *testing.T) {
	for s := SeverityInformational; s <= SeverityCritical; s++ {
		got, err := ParseSeverity(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%q) = %v, %v", s.String(), got, err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("JSON round trip of %v: %v, %v", s, back, err)
		}
	}
	if s, err := ParseSeverity("info"); err != nil || s != SeverityInformational {
		t.Errorf(`ParseSeverity("info") = %v, %v`, s, err)
	}
	if s, err := ParseSeverity("HIGH"); err != nil || s != SeverityHigh { // any case, as manifests write it
		t.Errorf(`ParseSeverity("HIGH") = %v, %v`, s, err)
	}
	for _, bad := range []string{"", "severe", "highest"} {
		if _, err := ParseSeverity(bad); !errors.Is(err, ErrUnknownSeverity) {
			t.Errorf("ParseSeverity(%q) error %v, want ErrUnknownSeverity", bad, err)
		}
	}
	if got := Severity(9).String(); got != "severity(9)" {
		t.Errorf("String of out-of-range = %q", got)
	}
	if _, err := json.Marshal(Severity(9)); err == nil {
		t.Error("marshalling an out-of-range severity succeeded")
	}
	var s Severity
	if err := json.Unmarshal([]byte(`5`), &s); !errors.Is(err, ErrUnknownSeverity) {
		t.Errorf("unmarshal of a number: %v", err)
	}
}
