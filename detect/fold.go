package detect

import (
	"math"
	"unicode"
	"unicode/utf8"
)

// Case-insensitive index keys. The matchers fold case rune by rune under
// Unicode simple folding (strings.EqualFold: two runes are equal when one
// is in the other's SimpleFold orbit, and an invalid byte decodes to
// utf8.RuneError). foldRune maps every rune of an orbit to one
// representative, so two strings are EqualFold exactly when their
// foldRune images are equal byte for byte: the index hashes and scans
// those images.

// foldRune returns the representative of r's case-folding orbit: the
// ASCII lower-case letter when the orbit holds an ASCII letter (so 'K',
// 'k' and the Kelvin sign all give 'k'), else the orbit's least rune.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if m < utf8.RuneSelf && 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}

// appendFold appends the folded image of s to dst.
func appendFold(dst []byte, s string) []byte {
	dst, _ = foldInto(dst, s, math.MaxInt)
	return dst
}
