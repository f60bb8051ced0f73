package valuejson

import (
	"encoding/json"
	"strings"
	"testing"
)

// replaceInvalid replaces each byte of s that is not part of valid UTF-8
// with U+FFFD, as AppendQuoted does.
func replaceInvalid(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // ranging over a string yields U+FFFD per invalid byte
	}
	return b.String()
}

func TestAppendQuoted(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got := string(AppendQuoted([]byte("x"), in))
		if got != "x"+want {
			t.Errorf("AppendQuoted(%q) = %s, want %s", in, got[1:], want)
		}
		if !json.Valid([]byte(got[1:])) {
			t.Errorf("AppendQuoted(%q) = %s is not valid JSON", in, got[1:])
		}
		var back string
		if err := json.Unmarshal([]byte(got[1:]), &back); err != nil || back != replaceInvalid(in) {
			t.Errorf("encoding/json reads %s as %q, %v", got[1:], back, err)
		}
	}
	f("", `""`)
	f("plain", `"plain"`)
	f(`"`, `"\""`)
	f(`\`, `"\\"`)
	f("\n\r\t", `"\n\r\t"`)
	f("\b\f", `"\u0008\u000c"`)
	f("\x00\x1f", `"\u0000\u001f"`)
	f("\x7f", "\"\x7f\"")
	f("é日🦅", `"é日🦅"`)
	f("\u2028\u2029", "\"\u2028\u2029\"")
	f("\xff", `"\ufffd"`)
	f("\xc3", `"\ufffd"`)
	f("a\xe6\x97b", `"a\ufffd\ufffdb"`)
	f("\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`) // an encoded surrogate is invalid UTF-8
	f("\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`)
	f("\uFFFD", "\"\uFFFD\"") // a real U+FFFD is kept as it is
}
