// Package pb is the Go code protoc-gen-go generates from
// protoevent/event.proto: message types for code that wants the protobuf
// runtime (reflection, protojson, gRPC). Kestrel itself encodes with the
// hand-written codec of package protoevent, which writes the same bytes
// without allocating; a test keeps the two in agreement.
//
// Regenerate with `go generate ./protoevent` where protoc is installed.
package pb
