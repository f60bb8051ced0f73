package sensor

import (
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// elements joins the String elements of an Array with sep (an empty
// string for any other value).
func elements(v value.Value, sep string) string {
	a, ok := v.Array()
	if !ok {
		return ""
	}
	parts := make([]string, len(a))
	for i, e := range a {
		parts[i] = e.String()
	}
	return strings.Join(parts, sep)
}

// TestBuildArgs: process.args holds each argument, empty ones and a cut
// last one included, as substrings of the command line; a schema that
// declares it String gets the command line.
func TestBuildArgs(t *testing.T) {
	b := newTestBuilder()
	rec := execRecord(20, 10, "/bin/sh", "sh", "-c", "", "echo a b")
	h := parseHdr(rec)
	var ev schema.Event
	b.fill(&ev, h, b.eventType(h, rec), rec)
	v, _ := ev.Get(b.f.args)
	if got := elements(v, "|"); got != "sh|-c||echo a b" {
		t.Fatalf("process.args %v (%q)", v, got)
	}
	var vals valueArena
	var kept [][]value.Value
	for i := range 3 * valueChunk / 7 { // across chunks: handed-out slices stay
		s := vals.take(7)
		for j := range s {
			s[j] = value.I64Value(int64(i))
		}
		kept = append(kept, s)
	}
	for i, s := range kept {
		for _, x := range s {
			if n, _ := x.I64(); n != int64(i) {
				t.Fatalf("slice %d changed: %v", i, s)
			}
		}
	}
}

func isArray(v value.Value) bool { return v.Kind() == value.KindArray }
