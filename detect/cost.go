package detect

import (
	"strconv"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
)

// The cost model of pattern tests. Go's regexp is RE2: linear in the
// input, but each input byte costs work for every live thread of the
// program, and measured on a 2-vCPU machine a match of an anchored
// pattern that runs as a regexp costs up to about 20 ns per input byte
// per program instruction ((a|aa|aaa|aaaa){1,1000}b, 13004 instructions:
// 50-230 ms on 4-64 KiB of "a"; .*a.{20}b, 28 instructions: up to 540 ns
// per byte). A wildcard with an inner * backtracks to its last star
// only: at worst about 7 ns per byte per character of its longest part
// between stars (*a?a?a?…b), modelled as 12 for a margin on a loaded
// machine. A case-folded substring (":" with
// "*x*", stringContains~, a regexp matched as literal substrings) is
// searched position by position: up to 7 ns per byte per literal
// character on non-ASCII input (1.7 on ASCII); an exact-case one about 2
// ns per byte per literal. A folded comparison of two different non-ASCII
// runes walks their case orbits (unicode.SimpleFold, ~40 ns), which a
// crafted input can force once per position: 40 ns more per byte, for
// patterns with non-ASCII text only (an ASCII pattern compares with a
// non-ASCII rune at once: 5 to 6 ns per byte per character on Kelvin
// signs, or on ASCII input with one non-ASCII rune).
// Equality, prefix and suffix tests read what their literal needs, never
// more.
//
// So each scanning test gets a byte limit: MaxPatternBytes, or less when
// its modelled cost per byte times that would pass PatternBudget. A test
// whose limit falls under minPatternBytes is rejected: it could not read a
// command line worth the name.
const (
	regexNsPerByteInst = 20
	globNsPerByteChar  = 12
	litNsPerByte       = 2
	foldNsPerByteChar  = 7
	// foldASCIINsPerByteChar: an ASCII literal meets non-ASCII input only
	// through runeEq's shortcut (the Kelvin sign and the long s), but one
	// non-ASCII byte sends ASCII input down the rune-by-rune path too.
	foldASCIINsPerByteChar = 7
	foldMismatchNs         = 40
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
}

// nsPerByte is the modelled worst-case cost of m per input byte, 0 when
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
	if sh.Fold {
		// Folded substring search compares at every position, rune by
		// rune on non-ASCII input: up to the literal's length per byte.
		n := 0
		for _, l := range sh.Literals {
			n += len(l)
		}
		if sh.ASCII {
			return foldASCIINsPerByteChar * max(1, n)
		}
		return foldNsPerByteChar*max(1, n) + foldMismatchNs
	}
	return litNsPerByte * max(1, len(sh.Literals))
}

// limit returns how many bytes of a value m may read (-1: all), and
// records a warning or the rejection its cost calls for.
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
	return strconv.Itoa(len(sh.Literals)) + " substrings"
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
