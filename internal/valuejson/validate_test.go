package valuejson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidate(t *testing.T) {
	f := func(in string, ok bool) {
		t.Helper()
		err := Validate(in)
		if (err == nil) != ok {
			t.Errorf("Validate(%q) = %v, want ok %v", in, err, ok)
		}
		// encoding/json does not check UTF-8; serde_json and Validate do.
		if want := json.Valid([]byte(in)) && utf8.ValidString(in); want != ok {
			t.Errorf("Validate(%q) disagrees with encoding/json", in)
		}
	}
	// Validate checks JSON only, not the Value form.
	f(`{"I64":1}`, true)
	f(`[1, 2, {"a": null}]`, true)
	f(` 5 `, true)
	f(`"\u00e9"`, true)
	f(``, false)
	f(` `, false)
	f(`{`, false)
	f(`{"a":1}{}`, false)
	f(`[1,]`, false)
	f(`nul`, false)
	f(`1.`, false)
	f(`-`, false)
	f(`01`, false)
	f(`1e`, false)
	f(`1e+`, false)
	f(`.5`, false)
	f(`-0.0e-0`, true)
	f(`1E+2`, true)
	f(`tru`, false)
	f(`[1 2]`, false)
	f(`{"a" 1}`, false)
	f(`{"a":1 "b":2}`, false)
	f(`{1:2}`, false)
	f("\x00", false)
	f(`[`+strings.Repeat(" ", 100)+`]`, true)
	// Strings: sonic's validator alone misses these; Validate does not.
	f("\"a\tb\"", false)
	f("\"\x01\"", false)
	f("{\"\x1f\":1}", false)
	f("\"\x7f\"", true) // DEL is not a control character to JSON
	f("\t[\"a\",\n\"b\"]\r\n", true)
	f(`"\u00"`, false)
	f(`"\u00G0"`, false)
	f(`"\uABcd\"\\\/\b\f\n\r\t"`, true)
	// sonic's validator accepts a lone '"' followed by exactly 32 bytes.
	for _, n := range []int{0, 1, 15, 16, 31, 32, 33, 63, 64, 65} {
		f(`"`+strings.Repeat("0", n), false)
		f(`["`+strings.Repeat("0", n), false)
		f(`"`+strings.Repeat("0", n)+`"`, true)
	}
	f(`"\a"`, false)
	f(`"\'"`, false)
	f(`["\\", "\""]`, true)
	// Invalid UTF-8 is rejected, as serde_json (the original's decoder)
	// rejects it; encoding/json would carry it as U+FFFD.
	f("\"\xff\xfe\"", false)
	f("[\"ok\", \"\xe2\x82\"]", false)
	f("\"\xe2\x82\xac\"", true)
}
