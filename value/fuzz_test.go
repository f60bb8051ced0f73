package value_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"
)

// fuzzSeeds are added to both fuzz targets; testdata/fuzz/FuzzValueJSON
// holds more for FuzzValueJSON.
var fuzzSeeds = []string{
	`"Null"`,
	`{"I64":-5}`,
	`{"U64":18446744073709551615}`,
	`{"F64":1.5}`,
	`{"F64":null}`,
	`{"Bool":true}`,
	`{"String":"/bin/ls"}`,
	`{"Bytes":[104,105]}`,
	`{"Array":[{"I64":1},"Null"]}`,
	`{"array":[{"string":"\u00e9\ud83e\udd85"},{"bytes":[]}]}`,
	`{"I64":9223372036854775808}`,
	`{"String":"a\u0000b"}`,
	"{\"String\":\"\xff\"}",
	``,
}

// FuzzValueJSON decodes arbitrary input. It must never panic; a failure must
// be a *DecodeError; and whatever decodes must re-encode to valid JSON that
// decodes to the same Value and re-encodes to the same bytes.
func FuzzValueJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, c := range wireCases {
		f.Add(c.wire)
	}
	var d value.Decoder // reused, as in a reader: no state may leak between inputs
	f.Fuzz(func(t *testing.T, in string) {
		v, err := d.Decode(in)
		var u value.Value
		uerr := u.UnmarshalJSON([]byte(in))
		if (err == nil) != (uerr == nil) {
			t.Fatalf("Decode error %v, UnmarshalJSON error %v", err, uerr)
		}
		if err != nil {
			var de *value.DecodeError
			if !errors.Is(err, value.ErrInvalidJSON) || !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			return
		}
		if !identical(v, u) {
			t.Fatalf("Decode = %v, UnmarshalJSON = %v", v, u)
		}

		enc := v.AppendJSON(nil)
		if !json.Valid(enc) || !utf8.Valid(enc) {
			t.Fatalf("encoding of %q is not valid JSON and UTF-8: %q", in, enc)
		}
		w, err := d.Decode(string(enc))
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		// Invalid UTF-8 is written as the escape \ufffd and so comes back as
		// a real U+FFFD, written as it is; otherwise the bytes are stable.
		enc2 := w.AppendJSON(nil)
		if !bytes.Equal(enc, enc2) && !hasInvalidUTF8(v) {
			t.Fatalf("re-encoding differs:\n%s\n%s", enc, enc2)
		}
		if x, err := d.Decode(string(enc2)); err != nil || !bytes.Equal(x.AppendJSON(nil), enc2) {
			t.Fatalf("second round trip of %s: %s, %v", enc2, x.AppendJSON(nil), err)
		}
		// NaN is never Equal, an infinity comes back as NaN, and invalid
		// UTF-8 as U+FFFD; apart from those the Value itself must survive.
		if exact(v) && !identical(v, w) {
			t.Fatalf("round trip of %s: %v became %v", enc, v, w)
		}
		// Decoding enc must not have disturbed v (the Decoder reuses buffers).
		if again := v.AppendJSON(nil); !bytes.Equal(enc, again) {
			t.Fatalf("value changed after reusing the Decoder:\n%s\n%s", enc, again)
		}
		_ = v.String()
	})
}

// FuzzDecodeVsEncodingJSON compares the validity verdicts of our decoder
// and of encoding/json on the same input: what we decode, encoding/json must
// accept, and Validate must agree with json.Valid (except past sonic's
// nesting limit, which encoding/json does not share).
func FuzzDecodeVsEncodingJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add(`{"String":"a` + "\n" + `"}`)
	f.Add(`"\u00"`)
	f.Add(`[1, 2.5e-3, {"a": [true, false, null]}]`)
	var d value.Decoder
	f.Fuzz(func(t *testing.T, in string) {
		std := json.Valid([]byte(in))
		if _, err := d.Decode(in); err == nil && !std {
			t.Fatalf("Decode accepted %q, which encoding/json rejects", in)
		}
		err := valuejson.Validate(in)
		if err == nil && !std {
			t.Fatalf("Validate accepted %q, which encoding/json rejects", in)
		}
		if err != nil && std && nesting(in) < 4000 && utf8.ValidString(in) {
			t.Fatalf("Validate rejected %q, which encoding/json accepts: %v", in, err)
		}
	})
}

// exact reports whether v's JSON form decodes to v itself: it holds no NaN
// or infinity and no invalid UTF-8.
func exact(v value.Value) bool {
	switch v.Kind() {
	case value.KindF64:
		x, _ := v.F64()
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case value.KindString:
		s, _ := v.Str()
		return utf8.ValidString(s)
	case value.KindArray:
		a, _ := v.Array()
		for _, e := range a {
			if !exact(e) {
				return false
			}
		}
	}
	return true
}

func hasInvalidUTF8(v value.Value) bool {
	switch v.Kind() {
	case value.KindString:
		s, _ := v.Str()
		return !utf8.ValidString(s)
	case value.KindArray:
		a, _ := v.Array()
		for _, e := range a {
			if hasInvalidUTF8(e) {
				return true
			}
		}
	}
	return false
}

// nesting returns the deepest bracket nesting in s outside string literals.
func nesting(s string) int {
	depth, deepest, in := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case in:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
