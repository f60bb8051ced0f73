package detect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// TestPatternCostRejected: patterns whose worst case cannot read even a
// short value within the budget are refused, with the reason.
func TestPatternCostRejected(t *testing.T) {
	for _, src := range []string{
		`process where process.command_line regex "(a|aa|aaa|aaaa){1,1000}b"`,
		`process where process.command_line regex ".*a.{500}a.{500}b"`,
	} {
		_, err := New(Config{Output: discard{}, Rules: []*rule.Package{pkg(t, "costly", src)}})
		var pe *PatternCostError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidConfig) || pe.Limit >= minPatternBytes {
			t.Fatalf("%s: err %v", src, err)
		}
		if !strings.Contains(err.Error(), "instructions") {
			t.Fatalf("no reason in %q", err)
		}
	}
}

// TestPatternCostWarned: a costly pattern that can still read a command
// line reads less than MaxPatternBytes, and the Detector says why.
func TestPatternCostWarned(t *testing.T) {
	d, err := New(Config{Output: discard{}, Rules: []*rule.Package{
		pkg(t, "slow", `process where process.command_line regex ".*a.{20}b"`),
		pkg(t, "cheap", `process where process.command_line : "*-enc*"`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], "rule slow") || !strings.Contains(w[0], "reads at most") {
		t.Fatalf("warnings %q", w)
	}
}

// adversarial are accepted pattern tests with their worst inputs' shape:
// each must take under DefaultPatternBudget on a 64 KiB value
// (BenchmarkPatternWorstCase measures them). cut says whether it is held
// to a byte cap (not a linear test).
var adversarial = []struct {
	src string
	cut bool
}{
	{`process where process.command_line regex "(?:a+)+b"`, true},
	{`process where process.command_line regex~ ".*(x|y)z.*q"`, true},
	{`process where process.command_line regex ".*a.{20}b"`, true},
	{`process where process.command_line regex "[a-z]{1,8}b[0-9]+"`, true},
	{`process where process.command_line like "*a?a?a?a?a?a?a?a?a?a?a?b"`, true},
	{`process where process.command_line : "*aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab*"`, false},
	{`process where process.command_line : ("*a*a*a*a*a*a*a*a*b*", "*ab*c", "*x*y*z")`, false},
	{`process where stringContains~(process.command_line, "aab")`, false},
	{`process where stringContains~(process.command_line, "ááááááááááááááb")`, false},
	{`process where process.command_line : "*ááááááááá?ááááb"`, true},
	{`process where stringContains~(process.command_line, "kkkkkkkkkkkkkkkkkkkkkkb")`, false},
	{`process where process.command_line : ("*kkkkkkkkkkkkkkkkkkkkkkkb*", "*k?k?k?k?k?k?k?k?k?b", "*akb*")`, true},
	{`process where process.command_line : ("*é*é*é*é*é*é*é*b*", "*éb", "*bbbbbbbbbbbbbbb*")`, false},
	{`process where process.command_line regex~ ".*(aab|abb|bba|bab|baa|aba|b0|b1|b2|b3|b4|b5|b6|b7|b8|b9|c0|c1|c2|c3|c4|c5|c6|c7|c8|c9).*"`, true},
	// Many literals sharing their prefixes, ASCII and not, and a long
	// one: every byte of the inputs below steps deep into them, and none
	// is found (an alert would cost more than the scan).
	{`process where process.command_line : ("*aab*", "*aaab*", "*aaaab*", "*aaaaaaaab*", "*akb*", "*kkkkkb*", "*ááb*", "*áákb*", "*éék*", "*aéb*", "*kab*", "*akab*", "*kaáb*", "*akáb*")`, false},
	{`process where process.command_line : "*` + strings.Repeat("k", 300) + `b*"`, false},
}

// worstInputs are 64 KiB fields of "a", of "á", of Kelvin signs, of
// "k" ending in one "é" (which sends folded tests down their rune-by-rune
// path), of ASCII and non-ASCII letters mixed, and of invalid bytes
// and four-byte runes.
func worstInputs(tb testing.TB) []*schema.Event {
	var batch []*schema.Event
	for _, big := range []string{strings.Repeat("a", 64<<10), strings.Repeat("á", 32<<10), strings.Repeat("\u212a", 21<<10), strings.Repeat("k", 64<<10-2) + "é", strings.Repeat("a\u212aáK", 64<<10/7), strings.Repeat("\xff\U0001F600\xc3", 64<<10/6)} {
		e, err := schema.NewBuilder(testReg).ID(1).TypeName("process_exec").Path("process.command_line", value.StringValue(big)).Build()
		if err != nil {
			tb.Fatal(err)
		}
		batch = append(batch, &e)
	}
	return batch
}

// TestPatternCostCut: on 64 KiB values, the tests that are not linear
// are cut (and the cut counted), the linear ones never.
func TestPatternCostCut(t *testing.T) {
	batch := worstInputs(t)
	for _, a := range adversarial {
		d, err := New(Config{Output: discard{}, Rules: []*rule.Package{pkg(t, "adv", a.src)}, NoIndex: true})
		if err != nil {
			t.Fatalf("%s: %v", a.src, err)
		}
		d.Handle(0, batch)
		if cuts := d.Stats().PatternCuts; (cuts > 0) != a.cut {
			t.Errorf("%s: %d cuts, want cut %v", a.src, cuts, a.cut)
		}
	}
}

// BenchmarkPatternWorstCase times each adversarial pattern test on each
// worst input: the goal is under DefaultPatternBudget (100 µs) per event.
func BenchmarkPatternWorstCase(b *testing.B) {
	batch := worstInputs(b)
	for i, a := range adversarial {
		d, err := New(Config{Output: discard{}, Rules: []*rule.Package{pkg(b, "adv", a.src)}, NoIndex: true})
		if err != nil {
			b.Fatalf("%s: %v", a.src, err)
		}
		for j := range batch {
			b.Run(fmt.Sprintf("pattern=%d/input=%d", i, j), func(b *testing.B) {
				one := batch[j : j+1]
				b.SetBytes(64 << 10)
				for b.Loop() {
					d.Handle(0, one)
				}
			})
		}
	}
}

// TestPatternCutSemantics: a test that is not linear sees the value's
// first MaxPatternBytes bytes; literal tests (equality, prefix, suffix,
// substrings) see it all.
func TestPatternCutSemantics(t *testing.T) {
	long := strings.Repeat("x", 100) + "-enc" + strings.Repeat("y", 100) + ".exe"
	rules := []*rule.Package{
		pkg(t, "contains", `process where process.command_line : "*-enc*"`),
		pkg(t, "suffix", `process where process.command_line : "*.exe"`),
		pkg(t, "exact", `process where process.command_line == "`+long+`"`),
		pkg(t, "glob", `process where process.command_line : "*-e?c*"`),
	}
	for _, c := range []struct {
		max  int
		want []string
		cuts uint64
	}{{0, []string{"contains:1", "suffix:1", "exact:1", "glob:1"}, 0}, {64, []string{"contains:1", "suffix:1", "exact:1"}, 1}, {-1, []string{"contains:1", "suffix:1", "exact:1", "glob:1"}, 0}} {
		d, cap := run(t, Config{Rules: rules, MaxPatternBytes: c.max}, []ev{{1, "process_exec", 0, 1, []any{"process.command_line", long}}})
		expectAlerts(t, cap, c.want...)
		if got := d.Stats().PatternCuts; (got == 0) != (c.cuts == 0) {
			t.Fatalf("cap %d: %d cuts, want %d", c.max, got, c.cuts)
		}
	}
}

// TestLinearPatternsReadAll: a literal pattern test finds its literal at
// the end of a 64 KiB command line (of ASCII, of non-ASCII text), and
// nothing is cut, rejected or warned about. The examples' exfiltration
// rule tests a folded four-literal regexp: it was read for 297 bytes.
func TestLinearPatternsReadAll(t *testing.T) {
	srcs := map[string]string{
		"contains":  `process where process.command_line : "*curl*"`,
		"pipe":      `process where process.command_line : "*curl*|*sh*"`,
		"exact":     `process where process.command_line like "*curl*|*sh*"`,
		"literals":  `process where process.command_line regex~ ".*(dropbox|drive\\.google|s3\\.amazonaws|blob\\.core\\.windows).*"`,
		"several":   `process where process.command_line : ("*-enc123*", "*iex456*", "*curl*")`,
		"function":  `process where stringContains~(process.command_line, "curl")`,
		"wildcard~": `process where wildcard~(process.command_line, "*CURL*|*SH*")`,
		"kelvin":    `process where process.command_line : "*kurl*"`,
	}
	var rules []*rule.Package
	for name, src := range srcs {
		rules = append(rules, pkg(t, name, src))
	}
	for _, filler := range []string{"a", "é", "x\u212a"} {
		for _, tail := range []string{"curl | sh", "CURL|SH", "drive.GOOGLE.com", "\u212aURL"} {
			cl := strings.Repeat(filler, (64<<10)/len(filler)) + tail
			for _, noIndex := range []bool{false, true} {
				d, cap := run(t, Config{Rules: rules, NoIndex: noIndex}, []ev{{1, "process_exec", 0, 1, []any{"process.command_line", cl}}})
				if w := d.Warnings(); len(w) != 0 {
					t.Fatalf("warnings %q", w)
				}
				if n := d.Stats().PatternCuts; n != 0 {
					t.Fatalf("%d cuts", n)
				}
				var want []string
				for name := range srcs {
					m := false
					switch tail {
					case "curl | sh":
						m = name != "literals" && name != "kelvin"
					case "CURL|SH":
						m = name != "literals" && name != "kelvin" && name != "exact"
					case "drive.GOOGLE.com":
						m = name == "literals"
					case "\u212aURL":
						m = name == "kelvin"
					}
					if m {
						want = append(want, name+":1")
					}
				}
				slices.Sort(want)
				var got []string
				for _, a := range cap.alerts {
					got = append(got, a.RuleID+":1")
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("filler %q tail %q index %v: alerts %q, want %q", filler, tail, !noIndex, got, want)
				}
			}
		}
	}
}
