// Package valuejson holds the JSON plumbing Kestrel's own codecs share and
// embedders must not depend on: the string Arena decoders copy into, the
// JSON string quoting every writer uses (AppendQuoted), the strict syntax
// check value's and schema's decoders run before sonic reads a line
// (Validate, with Snippet for its messages), and a handle on package
// value's streaming Builder (NewBuilder), which schema's event decoder
// forwards the callbacks of one embedded Value to.
//
// It imports nothing of Kestrel's public packages (only internal/
// unsafeconv): package value imports it (for the Arena, AppendQuoted and
// Validate) and registers its builder here at init, so the builder stays
// unexported in value while schema can still drive it.
package valuejson
