package value_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current encoder")

func nested(depth int, inner value.Value) value.Value {
	v := inner
	for range depth {
		v = value.ArrayValue(v)
	}
	return v
}

// wireCase is one Value and its exact wire form.
type wireCase struct {
	name string
	v    value.Value
	wire string
	// back is what wire decodes to when that is not v itself: invalid UTF-8
	// becomes U+FFFD, and an infinity becomes NaN (both are written as in
	// serde_json, which cannot say more).
	back *value.Value
}

func ptr(v value.Value) *value.Value { return &v }

// want is what c.wire decodes to.
func (c wireCase) want() value.Value {
	if c.back != nil {
		return *c.back
	}
	return c.v
}

// wireCases is the golden list; its order is the order of
// testdata/values.golden.jsonl.
var wireCases = []wireCase{
	{name: "null", v: value.NullValue(), wire: `"Null"`},

	{name: "i64 zero", v: value.I64Value(0), wire: `{"I64":0}`},
	{name: "i64 negative", v: value.I64Value(-5), wire: `{"I64":-5}`},
	{name: "i64 min", v: value.I64Value(math.MinInt64), wire: `{"I64":-9223372036854775808}`},
	{name: "i64 max", v: value.I64Value(math.MaxInt64), wire: `{"I64":9223372036854775807}`},
	// Beyond 2^53, where a float64 detour would round.
	{name: "i64 2^53+1", v: value.I64Value(1<<53 + 1), wire: `{"I64":9007199254740993}`},

	{name: "u64 zero", v: value.U64Value(0), wire: `{"U64":0}`},
	{name: "u64 2^63", v: value.U64Value(1 << 63), wire: `{"U64":9223372036854775808}`},
	{name: "u64 max", v: value.U64Value(math.MaxUint64), wire: `{"U64":18446744073709551615}`},

	{name: "f64 zero", v: value.F64Value(0), wire: `{"F64":0.0}`},
	{name: "f64 negative zero", v: value.F64Value(math.Copysign(0, -1)), wire: `{"F64":-0.0}`},
	// A whole float keeps its ".0", so that it reads back as a float.
	{name: "f64 one", v: value.F64Value(1), wire: `{"F64":1.0}`},
	{name: "f64 minus one", v: value.F64Value(-1), wire: `{"F64":-1.0}`},
	{name: "f64 1.5", v: value.F64Value(1.5), wire: `{"F64":1.5}`},
	{name: "f64 0.1", v: value.F64Value(0.1), wire: `{"F64":0.1}`},
	{name: "f64 2^53", v: value.F64Value(1 << 53), wire: `{"F64":9.007199254740992e+15}`},
	{name: "f64 1e20", v: value.F64Value(1e20), wire: `{"F64":1e+20}`},
	{name: "f64 1e21", v: value.F64Value(1e21), wire: `{"F64":1e+21}`},
	{name: "f64 1e-7", v: value.F64Value(1e-7), wire: `{"F64":1e-07}`},
	{name: "f64 max", v: value.F64Value(math.MaxFloat64), wire: `{"F64":1.7976931348623157e+308}`},
	{name: "f64 smallest normal", v: value.F64Value(0x1p-1022), wire: `{"F64":2.2250738585072014e-308}`},
	{name: "f64 smallest subnormal", v: value.F64Value(math.SmallestNonzeroFloat64), wire: `{"F64":5e-324}`},
	{name: "f64 -smallest subnormal", v: value.F64Value(-math.SmallestNonzeroFloat64), wire: `{"F64":-5e-324}`},
	{name: "f64 NaN", v: value.F64Value(math.NaN()), wire: `{"F64":null}`},
	{name: "f64 +Inf", v: value.F64Value(math.Inf(1)), wire: `{"F64":null}`, back: ptr(value.F64Value(math.NaN()))},
	{name: "f64 -Inf", v: value.F64Value(math.Inf(-1)), wire: `{"F64":null}`, back: ptr(value.F64Value(math.NaN()))},

	{name: "bool true", v: value.BoolValue(true), wire: `{"Bool":true}`},
	{name: "bool false", v: value.BoolValue(false), wire: `{"Bool":false}`},

	{name: "string", v: value.StringValue("/bin/ls"), wire: `{"String":"/bin/ls"}`},
	{name: "string empty", v: value.StringValue(""), wire: `{"String":""}`},
	{name: "string quotes and backslash", v: value.StringValue(`say "hi" C:\dir\`), wire: `{"String":"say \"hi\" C:\\dir\\"}`},
	{name: "string short escapes", v: value.StringValue("a\nb\rc\td"), wire: `{"String":"a\nb\rc\td"}`},
	{name: "string control chars", v: value.StringValue("\x00\x01\x08\x0c\x1f\x7f"), wire: `{"String":"\u0000\u0001\u0008\u000c\u001f` + "\x7f" + `"}`},
	// U+2028 and U+2029 are valid in JSON strings and are written as they are.
	{name: "string line separators", v: value.StringValue("a\u2028b\u2029c"), wire: `{"String":"a` + "\u2028" + `b` + "\u2029" + `c"}`},
	{name: "string html", v: value.StringValue("<a href='x'>&amp;</a>"), wire: `{"String":"<a href='x'>&amp;</a>"}`},
	{name: "string non-ASCII", v: value.StringValue("café 日本 🦅"), wire: `{"String":"café 日本 🦅"}`},
	// Invalid UTF-8 is written as U+FFFD, so the wire form is always valid
	// JSON and UTF-8; the original bytes are lost.
	{name: "string invalid UTF-8", v: value.StringValue("a\xffb\xc3(c\xed\xa0\x80"), wire: `{"String":"a\ufffdb\ufffd(c\ufffd\ufffd\ufffd"}`,
		back: ptr(value.StringValue("a\uFFFDb\uFFFD(c\uFFFD\uFFFD\uFFFD"))},
	{name: "string truncated rune at end", v: value.StringValue("日\xe6\x9c"), wire: `{"String":"日\ufffd\ufffd"}`,
		back: ptr(value.StringValue("日\uFFFD\uFFFD"))},
	{name: "string variant name", v: value.StringValue("Null"), wire: `{"String":"Null"}`},

	{name: "bytes", v: value.BytesValue([]byte("hi")), wire: `{"Bytes":[104,105]}`},
	{name: "bytes empty", v: value.BytesValue(nil), wire: `{"Bytes":[]}`},
	{name: "bytes extremes", v: value.BytesValue([]byte{0, 1, 127, 128, 255}), wire: `{"Bytes":[0,1,127,128,255]}`},

	{name: "array", v: value.ArrayValue(value.I64Value(1), value.NullValue()), wire: `{"Array":[{"I64":1},"Null"]}`},
	{name: "array empty", v: value.ArrayValue(), wire: `{"Array":[]}`},
	{name: "array of every kind", v: value.ArrayValue(
		value.NullValue(), value.I64Value(-1), value.U64Value(2), value.F64Value(3),
		value.BoolValue(true), value.StringValue("s"), value.BytesValue([]byte{7}), value.ArrayValue(),
	), wire: `{"Array":["Null",{"I64":-1},{"U64":2},{"F64":3.0},{"Bool":true},{"String":"s"},{"Bytes":[7]},{"Array":[]}]}`},
	{name: "array nested 4", v: nested(4, value.StringValue("x")),
		wire: `{"Array":[{"Array":[{"Array":[{"Array":[{"String":"x"}]}]}]}]}`},
	{name: "array nested empties", v: value.ArrayValue(value.ArrayValue(), value.ArrayValue(value.ArrayValue()), value.BytesValue(nil)),
		wire: `{"Array":[{"Array":[]},{"Array":[{"Array":[]}]},{"Bytes":[]}]}`},
}

// TestTypedValueSerde round-trips every case through each encoder and
// decoder: AppendJSON and MarshalJSON, Decoder.Decode and UnmarshalJSON, and
// encoding/json on a struct that holds Values.
func TestTypedValueSerde(t *testing.T) {
	var d value.Decoder // one Decoder for all cases: it must not carry state over
	for _, c := range wireCases {
		want := c.v
		if c.back != nil {
			want = *c.back
		}

		if got := string(c.v.AppendJSON(nil)); got != c.wire {
			t.Errorf("%s: AppendJSON = %s, want %s", c.name, got, c.wire)
		}
		prefix := []byte("prefix ")
		if got := string(c.v.AppendJSON(prefix)); got != "prefix "+c.wire {
			t.Errorf("%s: AppendJSON(prefix) = %s", c.name, got)
		}
		if got, err := c.v.MarshalJSON(); err != nil || string(got) != c.wire {
			t.Errorf("%s: MarshalJSON = %s, %v", c.name, got, err)
		}
		if !json.Valid([]byte(c.wire)) {
			t.Errorf("%s: %s is not valid JSON", c.name, c.wire)
		}

		got, err := d.Decode(c.wire)
		if err != nil || !identical(got, want) {
			t.Errorf("%s: Decode(%s) = %v, %v; want %v", c.name, c.wire, got, err, want)
		}
		got, err = d.Decode(" \t\r\n" + c.wire + "\n ")
		if err != nil || !identical(got, want) {
			t.Errorf("%s: Decode with white space = %v, %v", c.name, got, err)
		}
		var u value.Value
		if err := u.UnmarshalJSON([]byte(c.wire)); err != nil || !identical(u, want) {
			t.Errorf("%s: UnmarshalJSON(%s) = %v, %v; want %v", c.name, c.wire, u, err, want)
		}

		type event struct {
			Name  string        `json:"name"`
			Field value.Value   `json:"field"`
			List  []value.Value `json:"list"`
		}
		in := event{Name: c.name, Field: c.v, List: []value.Value{c.v, value.I64Value(1)}}
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", c.name, err)
		}
		var out event
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s: json.Unmarshal(%s): %v", c.name, data, err)
		}
		if out.Name != c.name || !identical(out.Field, want) || len(out.List) != 2 ||
			!identical(out.List[0], want) || !identical(out.List[1], value.I64Value(1)) {
			t.Errorf("%s: encoding/json round trip of %s = %+v", c.name, data, out)
		}
	}
}

// TestDecodeLowerCase: the Rust original's deserializer also accepts the
// variant names in lower case.
func TestDecodeLowerCase(t *testing.T) {
	f := func(in string, want value.Value) {
		t.Helper()
		var d value.Decoder
		got, err := d.Decode(in)
		if err != nil || !identical(got, want) {
			t.Errorf("Decode(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	f(`"null"`, value.NullValue())
	f(`{"i64":-5}`, value.I64Value(-5))
	f(`{"u64":18446744073709551615}`, value.U64Value(math.MaxUint64))
	f(`{"f64":1.5}`, value.F64Value(1.5))
	f(`{"bool":true}`, value.BoolValue(true))
	f(`{"string":"x"}`, value.StringValue("x"))
	f(`{"bytes":[1]}`, value.BytesValue([]byte{1}))
	f(`{"array":[{"i64":1},"null",{"Array":[]}]}`, value.ArrayValue(value.I64Value(1), value.NullValue(), value.ArrayValue()))
}

// TestDecodeLenient lists inputs that encoders other than ours write and
// that decode to the obvious Value.
func TestDecodeLenient(t *testing.T) {
	f := func(in string, want value.Value) {
		t.Helper()
		var d value.Decoder
		got, err := d.Decode(in)
		if err != nil || !identical(got, want) {
			t.Errorf("Decode(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	// serde_json writes floats as ryu does; any JSON number is a fine F64.
	f(`{"F64":1}`, value.F64Value(1))
	f(`{"F64":-0}`, value.F64Value(math.Copysign(0, -1)))
	f(`{"F64":1E5}`, value.F64Value(1e5))
	f(`{"F64":1000000.0}`, value.F64Value(1e6))
	f(`{"F64":1e-400}`, value.F64Value(0)) // underflows to 0, as serde_json reads it
	f(`{"F64":18446744073709551616}`, value.F64Value(1<<64))
	f(`{"I64":-0}`, value.I64Value(0))
	// Escapes anywhere, including in keys, and the surrogate pair for 🦅.
	f(`{"\u0053tring":"\u00e9\ud83e\udd85\/"}`, value.StringValue("é🦅/"))
	// A lone surrogate decodes as U+FFFD, as in encoding/json.
	f(`{"String":"\ud800"}`, value.StringValue("\uFFFD"))
	f(`{ "Array" : [ { "I64" : 1 } , "Null" ] }`, value.ArrayValue(value.I64Value(1), value.NullValue()))
}

// TestGolden compares the encoder's output for wireCases with
// testdata/values.golden.jsonl byte for byte, and decodes every line back.
// Run with -update to rewrite the file after a deliberate change.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "values.golden.jsonl")
	var buf []byte
	for _, c := range wireCases {
		buf = c.v.AppendJSON(buf)
		buf = append(buf, '\n')
	}
	if *update {
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf, want) {
		got := strings.Split(string(buf), "\n")
		lines := strings.Split(string(want), "\n")
		for i := 0; i < len(got) || i < len(lines); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(lines) {
				w = lines[i]
			}
			if g != w {
				t.Errorf("%s:%d:\n got  %s\n want %s", path, i+1, g, w)
			}
		}
		t.Fatal("encoder output differs from the golden file (run with -update if that is intended)")
	}

	lines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
	if len(lines) != len(wireCases) {
		t.Fatalf("%s has %d lines, want %d", path, len(lines), len(wireCases))
	}
	var d value.Decoder
	for i, line := range lines {
		c := wireCases[i]
		wantV := c.v
		if c.back != nil {
			wantV = *c.back
		}
		got, err := d.Decode(line)
		if err != nil {
			t.Errorf("%s:%d: %v", path, i+1, err)
			continue
		}
		// Equal for everything but NaN, which is never Equal to itself.
		if !got.Equal(wantV) && !identical(got, wantV) {
			t.Errorf("%s:%d: decoded %v, want %v (%s)", path, i+1, got, wantV, c.name)
		}
	}
}

// TestDecoderResultsOutliveReuse: a Decoder reuses its buffers, but Values it
// returned earlier must not change when it decodes the next input.
func TestDecoderResultsOutliveReuse(t *testing.T) {
	var d value.Decoder
	var got []value.Value
	for _, c := range wireCases {
		v, err := d.Decode(c.wire)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		// A failure half way through an Array must not disturb them either.
		if _, err := d.Decode(`{"Array":[{"String":"zz"},{"Bytes":[9,9,9]},{"I64":"x"}]}`); err == nil {
			t.Fatal("want an error")
		}
	}
	for i, c := range wireCases {
		if !identical(got[i], c.want()) {
			t.Errorf("%s: decoded Value changed to %s", c.name, got[i].AppendJSON(nil))
		}
	}
}

// TestDecodeErrors checks that every malformed input is rejected with a
// *DecodeError that matches ErrInvalidJSON and whose message names the
// offending input (each of the given substrings).
func TestDecodeErrors(t *testing.T) {
	f := func(in string, wantInMsg ...string) {
		t.Helper()
		var d value.Decoder
		v, err := d.Decode(in)
		if err == nil {
			t.Errorf("Decode(%q) = %v, want an error", in, v)
			return
		}
		if !errors.Is(err, value.ErrInvalidJSON) {
			t.Errorf("Decode(%q): %v does not match ErrInvalidJSON", in, err)
		}
		var de *value.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("Decode(%q): %T is not a *DecodeError", in, err)
		} else if !strings.HasPrefix(err.Error(), "value: invalid JSON: ") || de.Reason == "" {
			t.Errorf("Decode(%q): message %q", in, err)
		}
		for _, s := range wantInMsg {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Decode(%q): error %q does not mention %q", in, err, s)
			}
		}
		if !v.IsNull() {
			t.Errorf("Decode(%q) returned %v along with its error", in, v)
		}
		// UnmarshalJSON reports the same error and leaves its target alone.
		u := value.I64Value(42)
		if err2 := u.UnmarshalJSON([]byte(in)); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("UnmarshalJSON(%q) = %v, want %v", in, err2, err)
		}
		if !u.Equal(value.I64Value(42)) {
			t.Errorf("UnmarshalJSON(%q) changed its target to %v", in, u)
		}
	}

	// Unknown variants, as keys and as bare strings.
	f(`{"Int":5}`, `unknown variant "Int"`)
	f(`{"INT64":5}`, `"INT64"`)
	f(`{"I64 ":5}`, `"I64 "`)
	f(`{"":5}`, `unknown variant ""`)
	f(`"Nil"`, `unknown variant "Nil"`)
	f(`"NULL"`, `"NULL"`)
	f(`{"ThisIsAVeryLongVariantNameIndeed":1}`, `unknown variant "ThisIsAVeryLongV"`) // long input is cut
	f(`"I64"`, `variant "I64" needs a payload`)
	f(`{"Null":null}`, `Null takes no payload`)
	f(`{"Null":"Null"}`, `Null takes no payload`)

	// A value that is not an object or "Null".
	f(`null`, `expected a value`, `got null`)
	f(`true`, `got true`)
	f(`5`, `got number 5`)
	f(`-1.5e3`, `got number -1.5e3`)
	f(`[]`, `got an array`)
	f(`[{"I64":1}]`, `got an array`)

	// Wrong payload types.
	f(`{"I64":"5"}`, `I64 payload`, `got string "5"`)
	f(`{"I64":null}`, `I64 payload`, `got null`)
	f(`{"U64":true}`, `U64 payload`, `got true`)
	f(`{"F64":"1.5"}`, `F64 payload`, `got string "1.5"`)
	f(`{"F64":"NaN"}`, `F64 payload`, `got string "NaN"`)
	f(`{"Bool":1}`, `Bool payload`, `true or false`, `got number 1`)
	f(`{"Bool":"true"}`, `Bool payload`, `got string "true"`)
	f(`{"Bool":null}`, `Bool payload`, `got null`)
	f(`{"String":{}}`, `String payload`, `got an object`)
	f(`{"String":5}`, `String payload`, `got number 5`)
	f(`{"String":["a"]}`, `String payload`, `got an array`)
	f(`{"String":null}`, `String payload`, `got null`)
	f(`{"Bytes":"aGk="}`, `Bytes payload`, `got string "aGk="`)
	f(`{"Bytes":{"I64":1}}`, `Bytes payload`, `got an object`)
	f(`{"Bytes":[1,"2"]}`, `Bytes payload`, `got string "2"`)
	f(`{"Bytes":[1,null]}`, `Bytes payload`, `got null`)
	f(`{"Bytes":[[1]]}`, `Bytes payload`, `got an array`)
	f(`{"Array":{"I64":1}}`, `Array payload`, `got an object`)
	f(`{"Array":"Null"}`, `Array payload`, `got string "Null"`)
	f(`{"Array":[5]}`, `got number 5`)
	f(`{"Array":[null]}`, `got null`)
	f(`{"Array":[[]]}`, `got an array`)
	f(`{"Array":[{"I64":1},"I64"]}`, `variant "I64" needs a payload`)
	f(`{"Array":[{"Array":[{"Bool":"x"}]}]}`, `Bool payload`, `got string "x"`)

	// Integers out of range, and numbers that are not integers.
	f(`{"I64":9223372036854775808}`, `I64 payload 9223372036854775808 overflows int64`)
	f(`{"I64":-9223372036854775809}`, `-9223372036854775809 overflows int64`)
	f(`{"I64":18446744073709551615}`, `overflows int64`)
	f(`{"U64":18446744073709551616}`, `U64 payload 18446744073709551616 overflows uint64`)
	f(`{"U64":99999999999999999999999}`, `99999999999999999999999 overflows uint64`)
	f(`{"U64":-1}`, `U64 payload -1 is negative`)
	f(`{"U64":-9223372036854775808}`, `-9223372036854775808 is negative`)
	f(`{"I64":1.0}`, `I64 payload 1.0 is not an integer`)
	f(`{"I64":1e3}`, `I64 payload 1e3 is not an integer`)
	f(`{"I64":-2.5}`, `-2.5 is not an integer`)
	f(`{"U64":1E3}`, `U64 payload 1E3 is not an integer`)
	f(`{"U64":-1.5}`, `U64 payload -1.5 is not an integer`)
	f(`{"F64":1e400}`, `F64 payload 1e400 is out of float64 range`)
	f(`{"F64":-1e400}`, `-1e400 is out of float64 range`)

	// Bytes out of 0..255.
	f(`{"Bytes":[256]}`, `element 256 is not an integer 0..255`)
	f(`{"Bytes":[1,2,-1]}`, `element -1`)
	f(`{"Bytes":[1.0]}`, `element 1.0`)
	f(`{"Bytes":[1e2]}`, `element 1e2`)
	f(`{"Bytes":[18446744073709551616]}`, `element 18446744073709551616`)

	// Objects with the wrong number of keys.
	f(`{}`, `empty object`)
	f(`{"I64":1,"I64":2}`, `I64 value has a second key "I64"`)
	f(`{"I64":1,"U64":2}`, `second key "U64"`)
	f(`{"Array":[],"x":1}`, `Array value has a second key "x"`)

	// Malformed JSON, trailing garbage, truncation; the message gives the
	// byte offset and the text there.
	f(``, `unexpected end of input after 0 bytes`)
	f(`   `, `unexpected end of input`)
	f(`{"I64":1`, `unexpected end of input after 8 bytes`)
	f(`{"Array":[`, `unexpected end of input`)
	// An unterminated string is reported where it stops, not as the end.
	f(`"Nul`, `malformed JSON at byte 3`)
	f(`{"String":"abc`, `malformed JSON at byte 13`)
	f(`"`+strings.Repeat("0", 32), `unexpected end of input after 33 bytes (unterminated string)`)
	f(`{"I64":1} x`, `malformed JSON at byte 10`, `"x"`)
	f(`{"I64":1}}`, `at byte 9`, `"}"`)
	f(`"Null""Null"`, `at byte 6`, `"\"Null\""`)
	f(`"Null" "Null"`, `at byte 7`)
	f(`{"I64":1},`, `at byte 9`)
	f(`x`, `malformed JSON at byte 0`, `"x"`)
	f(`{I64:1}`, `malformed JSON`)
	f(`{'I64':1}`, `malformed JSON`)
	f(`{"I64":01}`, `malformed JSON`)
	f(`{"I64":+1}`, `malformed JSON`)
	f(`{"I64":0x10}`, `malformed JSON`)
	f(`{"F64":NaN}`, `malformed JSON`, `NaN`)
	f(`{"F64":Infinity}`, `malformed JSON`)
	f(`{"F64":.5}`, `malformed JSON`)
	f(`{"I64":1,}`, `malformed JSON`)
	f(`{"Array":[{"I64":1},]}`, `malformed JSON`)
	f(`{"String":"a`+"\n"+`b"}`, `malformed JSON at byte 12`, `raw control character`)
	f(`{"String":"`+"\t"+`"}`, `at byte 11`, `raw control character`)
	f(`{"String`+"\x00"+`":"a"}`, `at byte 8`) // in a key too
	f(`{"String":"\x"}`, `malformed JSON`)
	f(`{"String":"\u12"}`, `malformed JSON at byte 11`, `bad escape`)
	f(`{"String":"\u12x4"}`, `malformed JSON at byte 11`)
	f(`{"\u004":1}`, `malformed JSON at byte 2`, `bad escape`)
	f("\xef\xbb\xbf\"Null\"", `malformed JSON at byte 0`) // a BOM is not JSON white space
}

// TestDecodeDepth: Arrays nest up to MaxDepth deep and no deeper; an empty
// innermost Array counts.
func TestDecodeDepth(t *testing.T) {
	f := func(depth int, inner value.Value, wantErr bool) {
		t.Helper()
		var v value.Value
		if depth > 0 {
			v = nested(depth-1, value.ArrayValue())
			if !inner.IsNull() {
				v = nested(depth, inner)
			}
		}
		in := string(v.AppendJSON(nil))
		var d value.Decoder
		got, err := d.Decode(in)
		switch {
		case wantErr && err == nil:
			t.Errorf("depth %d: Decode succeeded, want an error", depth)
		case wantErr:
			if !errors.Is(err, value.ErrInvalidJSON) || !strings.Contains(err.Error(), "Array nesting deeper than 32") {
				t.Errorf("depth %d: error %v", depth, err)
			}
		case err != nil:
			t.Errorf("depth %d: %v", depth, err)
		case !got.Equal(v):
			t.Errorf("depth %d: got %v, want %v", depth, got, v)
		}
	}
	if value.MaxDepth != 32 {
		t.Fatalf("MaxDepth = %d; update this test", value.MaxDepth)
	}
	f(1, value.Value{}, false)
	f(value.MaxDepth-1, value.I64Value(1), false)
	f(value.MaxDepth, value.Value{}, false)
	f(value.MaxDepth, value.StringValue("deepest"), false)
	f(value.MaxDepth+1, value.Value{}, true)
	f(value.MaxDepth+1, value.I64Value(1), true)
	f(1000, value.Value{}, true)

	// Far deeper than any limit: rejected (here by the JSON validator) without
	// exhausting the stack.
	var d value.Decoder
	deep := strings.Repeat(`{"Array":[`, 100000) + strings.Repeat(`]}`, 100000)
	if _, err := d.Decode(deep); !errors.Is(err, value.ErrInvalidJSON) {
		t.Errorf("100000 levels: %v", err)
	}
}

// TestBuilderMaxDepth: Reset's maxDepth overrides the package default.
func TestBuilderMaxDepth(t *testing.T) {
	f := func(max, depth int, wantErr bool) {
		t.Helper()
		in := string(nested(depth-1, value.ArrayValue()).AppendJSON(nil))
		b := valuejson.NewBuilder[value.Value]()
		b.Reset(nil, max)
		err := preorder(in, b)
		if (err != nil) != wantErr {
			t.Errorf("MaxDepth %d, depth %d: err = %v, want error %v", max, depth, err, wantErr)
		}
	}
	f(1, 1, false)
	f(1, 2, true)
	f(3, 3, false)
	f(3, 4, true)
	f(0, value.MaxDepth, false)
	f(0, value.MaxDepth+1, true)
	f(-1, value.MaxDepth+1, true)
	f(100, 100, false)
	f(100, 101, true)
}
