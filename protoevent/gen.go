package protoevent

// pb/event.pb.go is generated from event.proto and committed, so building
// needs no protoc. Where protoc is installed, go generate rebuilds it with
// the protoc-gen-go of the google.golang.org/protobuf version in go.mod
// (installed into GOBIN, which must be on PATH).
//go:generate go install google.golang.org/protobuf/cmd/protoc-gen-go
//go:generate protoc -I .. --go_out=.. --go_opt=module=github.com/kestrel-sec/kestrel protoevent/event.proto
