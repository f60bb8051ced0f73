// This file holds the 16-byte representation of Value and everything that
// touches it with package unsafe.
//
// It relies on:
//   - unsafe.StringData / unsafe.String and unsafe.SliceData / unsafe.Slice to
//     keep a string's or slice's data pointer and length without its header;
//     the pointer keeps the backing memory alive for the garbage collector.
//   - the address of an element of the package-level array scalarTag being
//     distinct from any pointer a caller can hand us (it is unexported, so no
//     string, byte slice or Value slice can point into it).
//
// Layout:
//
//	scalar (I64, U64, F64, Bool):  ptr = &scalarTag[kind], num = 64-bit payload
//	String, Bytes, Array:          ptr = data (nil when empty), num = kind<<56 | len
//	Null (the zero Value):         ptr = nil, num = 0
//
// so the kind is found either from which tag ptr points at, or from the top
// byte of num. Lengths are limited to 2^56-1, far beyond any event.

package value

import (
	"math"
	"unsafe"
)

// Value is a compact tagged union of Kestrel's field value kinds. The zero
// Value is Null. Values are immutable, 16 bytes, and meant to be passed and
// stored by value.
type Value struct {
	_   [0]func() // disallow ==: compare with Equal
	ptr unsafe.Pointer
	num uint64
}

const (
	lenBits = 56
	lenMask = 1<<lenBits - 1
	// MaxLen is the longest String, Bytes or Array a Value can hold.
	MaxLen = lenMask
)

// scalarTag gives each scalar kind a unique address to point at.
var scalarTag [numKinds]byte

func scalar(k Kind, payload uint64) Value {
	return Value{ptr: unsafe.Pointer(&scalarTag[k]), num: payload}
}

// Kind returns the variant v holds.
func (v Value) Kind() Kind {
	if off := uintptr(v.ptr) - uintptr(unsafe.Pointer(&scalarTag)); off < uintptr(numKinds) {
		return Kind(off)
	}
	return Kind(v.num >> lenBits)
}

// NullValue returns the Null value (the same as the zero Value).
func NullValue() Value { return Value{} }

// I64Value returns a Value holding the signed integer i.
func I64Value(i int64) Value { return scalar(KindI64, uint64(i)) }

// U64Value returns a Value holding the unsigned integer u.
func U64Value(u uint64) Value { return scalar(KindU64, u) }

// F64Value returns a Value holding the float f. NaN and the infinities are
// kept as given; their JSON form is null (see AppendJSON).
func F64Value(f float64) Value { return scalar(KindF64, math.Float64bits(f)) }

// BoolValue returns a Value holding b.
func BoolValue(b bool) Value {
	var u uint64
	if b {
		u = 1
	}
	return scalar(KindBool, u)
}

// StringValue returns a Value holding s. It keeps a reference to s's bytes
// and copies nothing; strings are immutable, so no ownership rule applies. A
// string longer than MaxLen is truncated to MaxLen (no real input comes near).
func StringValue(s string) Value {
	n := uint64(len(s))
	if n > lenMask {
		n = lenMask
	}
	return Value{ptr: unsafe.Pointer(unsafe.StringData(s)), num: uint64(KindString)<<lenBits | n}
}

// BytesValue returns a Value holding b. It references b's backing array
// without copying it: the caller hands b over and must not modify it while
// the Value (or any copy, including one queued in a bus) is in use.
func BytesValue(b []byte) Value {
	n := uint64(len(b))
	if n > lenMask {
		n = lenMask
	}
	return Value{ptr: unsafe.Pointer(unsafe.SliceData(b)), num: uint64(KindBytes)<<lenBits | n}
}

// ArrayValue returns a Value holding the elements vs. Like BytesValue, it
// references vs without copying: the caller must not modify vs afterwards.
func ArrayValue(vs ...Value) Value {
	n := uint64(len(vs))
	if n > lenMask {
		n = lenMask
	}
	return Value{ptr: unsafe.Pointer(unsafe.SliceData(vs)), num: uint64(KindArray)<<lenBits | n}
}

// I64 returns v's signed integer and true when v is an I64.
func (v Value) I64() (int64, bool) {
	if v.ptr != unsafe.Pointer(&scalarTag[KindI64]) {
		return 0, false
	}
	return int64(v.num), true
}

// U64 returns v's unsigned integer and true when v is a U64.
func (v Value) U64() (uint64, bool) {
	if v.ptr != unsafe.Pointer(&scalarTag[KindU64]) {
		return 0, false
	}
	return v.num, true
}

// F64 returns v's float and true when v is an F64.
func (v Value) F64() (float64, bool) {
	if v.ptr != unsafe.Pointer(&scalarTag[KindF64]) {
		return 0, false
	}
	return math.Float64frombits(v.num), true
}

// Bool returns v's boolean and true when v is a Bool.
func (v Value) Bool() (bool, bool) {
	if v.ptr != unsafe.Pointer(&scalarTag[KindBool]) {
		return false, false
	}
	return v.num != 0, true
}

// Str returns v's string and true when v is a String. (String is the
// human-readable form of any Value, as for fmt.Stringer.)
func (v Value) Str() (string, bool) {
	if v.Kind() != KindString {
		return "", false
	}
	return unsafe.String((*byte)(v.ptr), int(v.num&lenMask)), true
}

// Bytes returns v's byte slice and true when v is Bytes. The slice shares
// memory with the Value: do not modify it.
func (v Value) Bytes() ([]byte, bool) {
	if v.Kind() != KindBytes {
		return nil, false
	}
	return unsafe.Slice((*byte)(v.ptr), int(v.num&lenMask)), true
}

// Array returns v's elements and true when v is an Array. The slice shares
// memory with the Value: do not modify it.
func (v Value) Array() ([]Value, bool) {
	if v.Kind() != KindArray {
		return nil, false
	}
	return unsafe.Slice((*Value)(v.ptr), int(v.num&lenMask)), true
}

// IsNull reports whether v is Null.
func (v Value) IsNull() bool { return v.ptr == nil && v.num == 0 }

// Len returns the length of a String, Bytes or Array value and 0 otherwise.
func (v Value) Len() int {
	switch v.Kind() {
	case KindString, KindBytes, KindArray:
		return int(v.num & lenMask)
	}
	return 0
}
