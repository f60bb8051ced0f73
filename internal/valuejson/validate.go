package valuejson

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/bytedance/sonic/encoder"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// Validate checks that s is exactly one well-formed JSON value, as
// serde_json would (UTF-8 included), before sonic, which is laxer, reads
// it; the error says what is wrong at which byte offset. Package value
// wraps it in a value.DecodeError, for its Decoder and schema's.
func Validate(s string) error {
	if ok, pos := encoder.Valid(unsafeconv.Bytes(s)); !ok {
		// encoder.Valid reports -1 for empty input.
		if pos < 0 || pos >= len(s) {
			return fmt.Errorf("unexpected end of input after %d bytes", len(s))
		}
		return fmt.Errorf("malformed JSON at byte %d (near %s)", pos, Snippet(s, pos))
	}
	if pos := badStringByte(s); pos >= len(s) {
		return fmt.Errorf("unexpected end of input after %d bytes (unterminated string)", len(s))
	} else if pos >= 0 {
		return fmt.Errorf("malformed JSON at byte %d (near %s): raw control character or bad escape in a string", pos, Snippet(s, pos))
	}
	if !utf8.ValidString(s) {
		// JSON text is UTF-8 (RFC 8259 section 8.1), and serde_json rejects
		// anything else; sonic would carry the bad bytes into the Value.
		pos := 0
		for pos < len(s) {
			r, size := utf8.DecodeRuneInString(s[pos:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			pos += size
		}
		return fmt.Errorf("invalid UTF-8 at byte %d (near %s)", pos, Snippet(s, pos))
	}
	return nil
}

// badStringByte returns the offset of the first raw control character or
// malformed escape inside a string literal of s, len(s) if the last string
// is not terminated, or -1. encoder.Valid checks none of these (it accepts
// "a<LF>b", "\u00", and a lone '"' followed by exactly 32 bytes), while
// JSON, encoding/json and serde_json reject them all. s must otherwise be
// valid JSON.
func badStringByte(s string) int {
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !in {
			in = c == '"'
			continue
		}
		switch {
		case c == '"':
			in = false
		case c < 0x20:
			return i
		case c == '\\':
			if i+1 >= len(s) {
				return i
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					return i
				}
				i += 5
			default:
				return i
			}
		}
	}
	if in {
		return len(s)
	}
	return -1
}

func isHex4(s string) bool {
	for i := range 4 {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Snippet quotes up to 16 bytes of s from pos, cut at a rune boundary, for
// an error message that shows the input near a problem.
func Snippet(s string, pos int) string {
	end := pos + 16
	if end > len(s) {
		end = len(s)
	}
	for end > pos && !utf8.ValidString(s[pos:end]) {
		end--
	}
	return strconv.Quote(s[pos:end])
}
