//go:build linux

package sensor

// The eBPF programs are compiled by bpf2go into kestrel_bpfel.go and
// kestrel_bpfel.o, both committed so that a build needs no clang. The
// programs read no architecture-specific registers (tp_btf and classic
// tracepoints only), so one little-endian object serves amd64 and arm64.
// They are built with clang 14 (Debian 12's); .ci/run checks they match the
// C when that clang is present.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -tags linux -type hdr -type exec_event -type exit_event -type file_event -type net_event kestrel bpf/sensor.c
