package value_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/kestrel-sec/kestrel/value"
)

// Build Values with the XxxValue constructors and read them back with the
// accessor for their kind, which reports whether the kind matched.
func Example() {
	pid := value.I64Value(4242)
	path := value.StringValue("/bin/ls")
	args := value.ArrayValue(value.StringValue("ls"), value.StringValue("-la"))

	if n, ok := pid.I64(); ok {
		fmt.Println("pid:", n)
	}
	if _, ok := pid.Str(); !ok {
		fmt.Println("pid is not a String but", pid.Kind())
	}
	s, _ := path.Str()
	fmt.Println("path:", s, "len", path.Len())
	fmt.Println("args:", args)
	// Output:
	// pid: 4242
	// pid is not a String but I64
	// path: /bin/ls len 7
	// args: [ls -la]
}

// The zero Value is Null.
func ExampleValue_IsNull() {
	var v value.Value
	fmt.Println(v.IsNull(), v.Kind(), v)
	// Output:
	// true Null null
}

// Kind tells which variant a Value holds, for a switch.
func ExampleValue_Kind() {
	for _, v := range []value.Value{
		value.NullValue(),
		value.U64Value(math.MaxUint64),
		value.F64Value(0.5),
		value.BoolValue(true),
		value.BytesValue([]byte{0xca, 0xfe}),
	} {
		switch v.Kind() {
		case value.KindU64:
			u, _ := v.U64()
			fmt.Println("unsigned", u)
		case value.KindF64:
			f, _ := v.F64()
			fmt.Println("float", f)
		default:
			fmt.Println(v.Kind(), v)
		}
	}
	// Output:
	// Null null
	// unsigned 18446744073709551615
	// float 0.5
	// Bool true
	// Bytes cafe
}

// Equal compares kind and contents; floats compare as with ==.
func ExampleValue_Equal() {
	fmt.Println(value.I64Value(1).Equal(value.I64Value(1)))
	fmt.Println(value.I64Value(1).Equal(value.U64Value(1)))
	fmt.Println(value.F64Value(math.NaN()).Equal(value.F64Value(math.NaN())))
	fmt.Println(value.ArrayValue(value.StringValue("a")).Equal(value.ArrayValue(value.StringValue("a"))))
	// Output:
	// true
	// false
	// false
	// true
}

// String is for humans; AppendJSON writes the wire form.
func ExampleValue_String() {
	fmt.Println(value.StringValue(`C:\Program Files`))
	fmt.Println(value.BytesValue([]byte("hi")))
	fmt.Println(value.ArrayValue(value.I64Value(1), value.F64Value(2.5), value.NullValue()))
	// Output:
	// C:\Program Files
	// 6869
	// [1 2.5 null]
}

// AppendJSON appends the wire form, the Rust original's serde encoding, to a
// buffer that can be reused from one Value to the next.
func ExampleValue_AppendJSON() {
	buf := make([]byte, 0, 128)
	for _, v := range []value.Value{
		value.NullValue(),
		value.I64Value(-5),
		value.U64Value(math.MaxUint64),
		value.F64Value(1),
		value.F64Value(math.NaN()),
		value.BoolValue(true),
		value.StringValue("say \"hi\"\n"),
		value.BytesValue([]byte("hi")),
		value.ArrayValue(value.I64Value(1), value.NullValue()),
	} {
		buf = v.AppendJSON(buf[:0])
		fmt.Println(string(buf))
	}
	// Output:
	// "Null"
	// {"I64":-5}
	// {"U64":18446744073709551615}
	// {"F64":1.0}
	// {"F64":null}
	// {"Bool":true}
	// {"String":"say \"hi\"\n"}
	// {"Bytes":[104,105]}
	// {"Array":[{"I64":1},"Null"]}
}

// A Decoder decodes one Value per call and can be reused; the Values it
// returns own their memory.
func ExampleDecoder_Decode() {
	var d value.Decoder
	for _, line := range []string{
		`{"U64":18446744073709551615}`,
		`{"string":"/usr/bin/ssh"}`,
		`{"Array":[{"I64":1},{"Bytes":[104,105]},"Null"]}`,
	} {
		v, err := d.Decode(line)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(v.Kind(), v)
	}
	// Output:
	// U64 18446744073709551615
	// String /usr/bin/ssh
	// Array [1 6869 null]
}

// Every decoding error matches ErrInvalidJSON and says what was wrong.
func ExampleDecoder_Decode_errors() {
	var d value.Decoder
	for _, line := range []string{
		`{"I64":9223372036854775808}`,
		`{"U64":1.5}`,
		`{"Int":1}`,
		`{"Bool":"yes"}`,
		`{"I64":1} trailing`,
	} {
		_, err := d.Decode(line)
		fmt.Println(errors.Is(err, value.ErrInvalidJSON), err)
	}
	// Output:
	// true value: invalid JSON: I64 payload 9223372036854775808 overflows int64
	// true value: invalid JSON: U64 payload 1.5 is not an integer
	// true value: invalid JSON: unknown variant "Int" (want Null, I64, U64, F64, Bool, String, Bytes or Array)
	// true value: invalid JSON: Bool payload: expected true or false, got string "yes"
	// true value: invalid JSON: malformed JSON at byte 10 (near "trailing")
}

// Value implements json.Marshaler and json.Unmarshaler, so it works inside
// structs handled by encoding/json.
func ExampleValue_MarshalJSON() {
	type field struct {
		Name  string      `json:"name"`
		Value value.Value `json:"value"`
	}
	out, _ := json.Marshal(field{Name: "uid", Value: value.U64Value(0)})
	fmt.Println(string(out))

	var in field
	err := json.Unmarshal([]byte(`{"name":"argv","value":{"Array":[{"String":"ls"}]}}`), &in)
	fmt.Println(in.Name, in.Value.Kind(), in.Value, err)
	// Output:
	// {"name":"uid","value":{"U64":0}}
	// argv Array [ls] <nil>
}

// A scalar's text, appended without allocating: what string(x) and
// concat in EQL, and flat JSON numbers, are made of.
func ExampleValue_AppendText() {
	buf := value.I64Value(-42).AppendText(nil)
	buf = append(buf, ' ')
	buf = value.F64Value(0.5).AppendText(buf)
	buf = append(buf, ' ')
	buf = value.BoolValue(true).AppendText(buf)
	fmt.Println(string(buf))
	// Output: -42 0.5 true
}
