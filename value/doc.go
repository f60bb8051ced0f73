// Package value holds Value, Kestrel's compact tagged union for event field
// values: Null, I64, U64, F64, Bool, String, Bytes and Array.
//
// A Value is 16 bytes and is passed by value. Building or reading a scalar
// allocates nothing, and String, Bytes and Array values reference the memory
// they were built from instead of copying it (see StringValue, BytesValue and
// ArrayValue for who owns that memory).
//
// The JSON form is the externally tagged enum written by the Rust original
// (serde's default), so logs it wrote read unchanged:
//
//	{"I64":-5}  {"U64":18446744073709551615}  {"F64":1.5}  {"Bool":true}
//	{"String":"/bin/ls"}  {"Bytes":[104,105]}  {"Array":[{"I64":1},"Null"]}  "Null"
//
// Integers round-trip exactly over the whole 64-bit range; they are never
// parsed through float64.
package value
