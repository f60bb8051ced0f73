package value

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/bytedance/sonic/ast"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
)

// ErrInvalidJSON is matched (errors.Is) by every error from decoding a
// Value's JSON form; the message says what was wrong and with which input.
var ErrInvalidJSON = errors.New("value: invalid JSON")

// MaxDepth is the default bound on Array nesting when decoding.
const MaxDepth = 32

// AppendJSON appends v's wire form (serde's externally tagged enum, see the
// package doc) to dst and returns the extended slice.
//
// A NaN or infinite F64 is written as {"F64":null}, as serde_json does; it
// decodes back as NaN, so infinities do not round-trip.
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.Kind() {
	case KindNull:
		return append(dst, `"Null"`...)
	case KindI64:
		dst = append(dst, `{"I64":`...)
		dst = strconv.AppendInt(dst, int64(v.num), 10)
	case KindU64:
		dst = append(dst, `{"U64":`...)
		dst = strconv.AppendUint(dst, v.num, 10)
	case KindF64:
		dst = append(dst, `{"F64":`...)
		dst = appendFloat(dst, math.Float64frombits(v.num))
	case KindBool:
		if v.num != 0 {
			return append(dst, `{"Bool":true}`...)
		}
		return append(dst, `{"Bool":false}`...)
	case KindString:
		s, _ := v.Str()
		dst = append(dst, `{"String":`...)
		dst = valuejson.AppendQuoted(dst, s)
	case KindBytes:
		b, _ := v.Bytes()
		dst = append(dst, `{"Bytes":[`...)
		for i, c := range b {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(c), 10)
		}
		dst = append(dst, ']')
	case KindArray:
		a, _ := v.Array()
		dst = append(dst, `{"Array":[`...)
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendFloat writes f as serde_json (ryu) would read it back: the shortest
// form that round-trips, always with a '.' or an exponent so it stays a float.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' || c == 'e' || c == 'n' || c == 'N' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (v Value) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler. It accepts exactly one Value in
// the wire form, with the variant names as written (I64) or in lower case
// (i64), as the Rust original's deserializer does. Strings, Bytes and Arrays
// are copied out of data.
func (v *Value) UnmarshalJSON(data []byte) error {
	var d Decoder
	out, err := d.Decode(string(data))
	if err != nil {
		return err
	}
	*v = out
	return nil
}

// Decoder decodes Values from their JSON form. Its zero value is ready to
// use; reuse one to amortise its buffers. It is not safe for concurrent use.
type Decoder struct {
	b    builder
	opts ast.VisitorOptions
}

// Decode parses s, which must hold exactly one Value (surrounding white
// space allowed). The Value's strings are copied, so s may be reused.
func (d *Decoder) Decode(s string) (Value, error) {
	if err := valuejson.Validate(s); err != nil {
		return Value{}, &DecodeError{Reason: err.Error()}
	}
	d.b.Reset(nil, 0)
	d.opts.OnlyNumber = true
	if err := ast.Preorder(s, &d.b, &d.opts); err != nil {
		return Value{}, d.b.wrap(err)
	}
	return d.b.Value(), nil
}

// DecodeError is the error type of every decoding failure; it matches
// ErrInvalidJSON with errors.Is.
type DecodeError struct {
	// Reason says what was wrong, naming the offending input.
	Reason string
}

// Error says why the input is not a Value.
func (e *DecodeError) Error() string { return "value: invalid JSON: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidJSON) true.
func (e *DecodeError) Is(target error) bool { return target == ErrInvalidJSON }

func errorf(format string, args ...any) error {
	return &DecodeError{Reason: fmt.Sprintf(format, args...)}
}
