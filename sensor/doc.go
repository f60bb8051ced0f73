// Package sensor is Kestrel's live Linux sensor: eBPF programs on the
// scheduler's tracepoints (exec, fork, exit), the file syscalls' tracepoints
// (open, openat, openat2, creat, unlink, rename), the TCP state tracepoint
// (outbound connects) and the accept syscalls' exit tracepoints (inbound
// connections) write fixed-size records into a BPF ring buffer; Run reads
// them and builds each event in place in an engine.Bus slot (Bus.Claim,
// Event.Add, Commit), with the default schema's ECS fields.
//
// # Requirements
//
// Linux with BTF (/sys/kernel/btf/vmlinux), run as root or with CAP_BPF and
// CAP_PERFMON. The file and accept tracepoints need tracefs: Run mounts it
// on /sys/kernel/tracing when it is not mounted and it may (CAP_SYS_ADMIN);
// without it the process and connect programs still run and Stats says the
// file and accept programs are off. No program needs kprobes or function
// tracing (fentry/fexit), which some kernels and sandboxes refuse. On
// other systems New returns ErrUnsupported. The eBPF objects are compiled
// by bpf2go and committed (kestrel_bpfel.*): a build needs no clang.
//
// # Events
//
// Each process has a stable identity across pid reuse: its pid and its
// start time in clock ticks since boot (the start_boottime the kernel
// reports in /proc/PID/stat, field 22), so that processes seeded from /proc
// when the sensor starts and processes seen by the kernel programs agree.
// The event's entity key is schema.EntityKey{Hi: startTicks, Lo: pid} and
// process.entity_id is "pid-startTicks". A process table, seeded from /proc
// and bounded by Config.MaxProcesses, fills the parent's fields and the
// executable of fork, file and network events.
//
// What the fields mean, where it is not obvious: process.executable of an
// exec is the path the process passed to execve (absolute in the usual
// case of a shell's PATH search, relative when it was run as ./x);
// process.args and process.command_line are the arguments from the first
// 4 KiB of the new image's argument area, joined by spaces (a longer list
// is cut there and counted in Stats.ArgsTruncated), and
// process.args_count counts them all; process.working_directory is the
// exec's directory, its path built in the kernel program as d_path does
// (up the dentries and across mounts to the process's root), at most
// 1 KiB and 64 components: a longer one keeps its end after "..."
// (".../x/y", never mistaken for an absolute path) and is counted in
// Stats.CwdTruncated; process.exit_code is the exit
// status, or 128 + the signal that killed the process, and is reported
// when its main thread exits; file.path is the path passed to the system
// call (relative to the process's directory when relative), read at the
// call's entry; an open with O_CREAT (and creat) is a file_create event
// with event.action "creation" whether or not the file existed, any other
// open a file_open with "open"; a connect is reported when the handshake
// ends, with event.outcome success or failure and the whole 4-tuple (the
// local port is not chosen before); an accept when accept or accept4
// returns a TCP socket, in the accepting process, with
// network.direction "inbound". In both directions source.* is the local
// end and destination.* the remote one, as the default schema defines
// them. Every event carries ECS event.category and event.type as Elastic
// Defend sets them (process start or end; file creation, deletion,
// change, or access for a plain open; network start), so Elastic rules
// that test them (event.type == "start") match live events.
//
// # Memory
//
// Records are read into one reused ringbuf.Record. A Value of kind String
// references its bytes, and an event's strings must stay valid after
// Commit, for as long as the bus, the detector, its alerts or a subscriber
// hold them, which the sensor cannot know. So strings are never built over
// the record: they are copied into append-only chunks of memory (64 KiB),
// never written again once handed out; a full chunk is left to the garbage
// collector, which frees it when no event or alert still references it.
// Executable paths, which repeat, are interned in a bounded table. In the
// steady state an event costs no allocation of its own: one chunk per few
// hundred events, amortised.
package sensor
