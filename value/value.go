package value

import (
	"math"
	"strconv"
)

// Equal reports whether v and w hold the same kind and the same contents.
// Floats compare with ==, so NaN is not equal to itself and 0 equals -0;
// Bytes and Arrays compare element by element.
func (v Value) Equal(w Value) bool {
	k := v.Kind()
	if k != w.Kind() {
		return false
	}
	switch k {
	case KindNull:
		return true
	case KindF64:
		return math.Float64frombits(v.num) == math.Float64frombits(w.num)
	case KindI64, KindU64, KindBool:
		return v.num == w.num
	case KindString:
		a, _ := v.Str()
		b, _ := w.Str()
		return a == b
	case KindBytes:
		a, _ := v.Bytes()
		b, _ := w.Bytes()
		return string(a) == string(b)
	case KindArray:
		a, _ := v.Array()
		b, _ := w.Array()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !a[i].Equal(b[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// String returns v in a form for humans: the number, the boolean, the string
// as it is, bytes in hex and arrays in brackets. It never panics. For the
// wire form use AppendJSON.
func (v Value) String() string {
	switch v.Kind() {
	case KindString:
		s, _ := v.Str()
		return s
	case KindNull:
		return "null"
	}
	return string(v.appendText(nil))
}

// appendText appends String's form of v, of any kind.
func (v Value) appendText(dst []byte) []byte {
	switch v.Kind() {
	case KindNull:
		return append(dst, "null"...)
	case KindI64, KindU64, KindF64, KindBool, KindString:
		return v.AppendText(dst)
	case KindBytes:
		b, _ := v.Bytes()
		const hex = "0123456789abcdef"
		for _, c := range b {
			dst = append(dst, hex[c>>4], hex[c&15])
		}
		return dst
	case KindArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = e.appendText(dst)
		}
		return append(dst, ']')
	}
	return append(dst, "?"...)
}

// AppendText appends a scalar's text to dst, as String writes it: a
// String as it is, a number in decimal (an F64 in strconv's shortest 'g'
// form), a Bool as true or false. Null, Bytes and Array have no scalar
// text: for them it appends nothing. It does not allocate beyond growing
// dst.
func (v Value) AppendText(dst []byte) []byte {
	switch v.Kind() {
	case KindI64:
		return strconv.AppendInt(dst, int64(v.num), 10)
	case KindU64:
		return strconv.AppendUint(dst, v.num, 10)
	case KindF64:
		return strconv.AppendFloat(dst, math.Float64frombits(v.num), 'g', -1, 64)
	case KindBool:
		return strconv.AppendBool(dst, v.num != 0)
	case KindString:
		s, _ := v.Str()
		return append(dst, s...)
	}
	return dst
}

func nan() float64 { return math.NaN() }
