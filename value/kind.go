package value

import "strconv"

// Kind is the variant a Value holds. The zero Kind is KindNull, so the zero
// Value is Null.
type Kind uint8

// The kinds, in the order of the Rust original's enum.
const (
	KindNull Kind = iota
	KindI64
	KindU64
	KindF64
	KindBool
	KindString
	KindBytes
	KindArray
	numKinds
)

var kindNames = [numKinds]string{"Null", "I64", "U64", "F64", "Bool", "String", "Bytes", "Array"}

// String returns the kind's name as the JSON wire form spells it ("I64",
// "String", ...), or "Kind(n)" for a value outside the enum.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}
