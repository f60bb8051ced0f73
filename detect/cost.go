package detect

import (
	"strconv"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
)

// The cost model of pattern tests. Literal tests (equality, prefix,
// suffix, substrings, literal sets, wildcards whose only wildcard is *)
// run in linear time (literal.go): equality, prefix and suffix read what
// their literal needs; substrings and *-only wildcards one automaton or
// strings.Index step per input byte, whatever the literals: on a 2-vCPU
// machine, at worst (input crafted so that every byte steps deep into
// the literals) about 0.5-0.7 ns per byte on ASCII, where a long value's
// steps run in four lanes, and 1-2 ns per byte on folded non-ASCII text,
// whose image is written first (automaton.go). They read the whole value
// and are never cut nor rejected. The model below is for the rest, whose
// cost per byte grows with the pattern.
//
// Go's regexp is RE2: linear in the input, but each input byte costs
// work for every live thread of the program, and measured on a 2-vCPU
// machine a match of an anchored pattern that runs as a regexp costs up
// to about 20 ns per input byte per program instruction
// ((a|aa|aaa|aaaa){1,1000}b, 13004 instructions: 50-230 ms on 4-64 KiB
// of "a"; .*a.{20}b, 28 instructions: up to 540 ns per byte). A wildcard
// with a ? (or, exact-case, with an invalid or U+FFFD rune) runs as
// rule.Matcher's wildcard, which backtracks to its last star only: at
// worst about 7 ns per byte per character of its longest part between
// stars (*a?a?a?…b), modelled as 12 for a margin on a loaded machine. A
// folded comparison of two different non-ASCII runes walks their case
// orbits (unicode.SimpleFold, ~40 ns), which a crafted input can force
// once per position: 40 ns more per byte, for patterns with non-ASCII
// text only.
//
// So each such test gets a byte limit: MaxPatternBytes, or less when its
// modelled cost per byte times that would pass PatternBudget. A test
// whose limit falls under minPatternBytes is rejected: it could not read a
// command line worth the name.
const (
	regexNsPerByteInst = 20
	globNsPerByteChar  = 12
	litNsPerByte       = 2
	foldMismatchNs     = 40
	// warnPatternBytes: a test held to fewer bytes than this by its cost
	// is reported in Warnings (and logged); above it, only at debug level.
	warnPatternBytes = 512
	// minPatternBytes is the least a pattern test must be allowed to read
	// within PatternBudget for its rule to be accepted.
	minPatternBytes = 128
)

// compiler compiles the predicates of one rule and judges their cost.
type compiler struct {
	maxBytes int           // resolved Config.MaxPatternBytes: -1 for no cap
	budget   time.Duration // resolved Config.PatternBudget
	err      error         // the first pattern rejected
	warnings []string      // patterns read for less than warnPatternBytes
	notes    []string      // patterns read for less than maxBytes, logged at debug level
	nScan    int           // scanning matchers in the MatchExpr being compiled
	// joinGroups numbers join field lists (stepBuilder.groups), shared by
	// a Detector's rules so that a worker computes an event's join key once
	// for all the rules that join on the same fields (nil: the rule's own).
	joinGroups map[string]int
}

// nsPerByte is the modelled worst-case cost per input byte of a matcher
// that runs as a rule.Matcher (not a linear test: see matchFn), 0 when
// its cost does not grow with the input.
func nsPerByte(sh rule.Shape) int {
	switch {
	case !sh.Scan:
		return 0
	case sh.Program > 0:
		return regexNsPerByteInst * sh.Program
	case sh.Glob > 0 && sh.Fold && !sh.ASCII:
		return globNsPerByteChar*sh.Glob + foldMismatchNs
	case sh.Glob > 0:
		return globNsPerByteChar*sh.Glob + litNsPerByte
	}
	// A substring test that is not linear: one whose literal is empty,
	// decided at its first byte.
	return litNsPerByte
}

// limit returns how many bytes of a value m, a matcher without a linear
// test, may read (-1: all), and records a warning or the rejection its
// cost calls for.
func (c *compiler) limit(m *rule.Matcher) int {
	sh := m.Shape()
	per := nsPerByte(sh)
	if per == 0 || c.maxBytes < 0 {
		return -1
	}
	n := c.maxBytes
	if b := int(c.budget.Nanoseconds()) / max(1, c.nScan) / per; b < n {
		n = b
		why := "pattern " + strconv.Quote(m.Source()) + " costs up to ~" + strconv.Itoa(per) + " ns per input byte (" + costReason(sh) +
			"): it reads at most " + strconv.Itoa(n) + " bytes of a value to stay within " + c.budget.String()
		switch {
		case n < minPatternBytes:
			if c.err == nil {
				c.err = &PatternCostError{Pattern: m.Source(), NsPerByte: per, Limit: n, Reason: why}
			}
		case n < warnPatternBytes:
			c.warnings = append(c.warnings, why)
		default:
			c.notes = append(c.notes, why)
		}
	}
	return n
}

func costReason(sh rule.Shape) string {
	switch {
	case sh.Program > 0:
		return "a regexp of " + strconv.Itoa(sh.Program) + " instructions"
	case sh.Glob > 0:
		return "a wildcard whose longest part between stars is " + strconv.Itoa(sh.Glob) + " characters"
	}
	return "a substring test"
}

// PatternCostError rejects a pattern test whose modelled worst case would
// let it read fewer than 128 bytes of a value within Config.PatternBudget.
type PatternCostError struct {
	Pattern   string
	NsPerByte int // modelled worst-case cost per input byte
	Limit     int // bytes it could read within the budget
	Reason    string
}

// Error returns the reason.
func (e *PatternCostError) Error() string { return "too costly: " + e.Reason }
