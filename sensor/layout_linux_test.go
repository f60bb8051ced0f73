//go:build linux

package sensor

import (
	"testing"
	"unsafe"
)

// TestLayout holds record.go's offsets to the C layouts, as bpf2go
// generated them from the object's BTF.
func TestLayout(t *testing.T) {
	f := func(name string, got uintptr, want int) {
		t.Helper()
		if int(got) != want {
			t.Errorf("%s: C has %d, record.go %d", name, got, want)
		}
	}
	var h kestrelHdr
	f("hdr size", unsafe.Sizeof(h), hdrSize)
	f("hdr.ts", unsafe.Offsetof(h.Ts), 16)
	f("hdr.start", unsafe.Offsetof(h.Start), 24)
	f("hdr.pstart", unsafe.Offsetof(h.Pstart), 32)
	f("hdr.uid", unsafe.Offsetof(h.Uid), 40)
	f("hdr.gid", unsafe.Offsetof(h.Gid), 48)
	f("hdr.comm", unsafe.Offsetof(h.Comm), offComm)
	var e kestrelExecEvent
	f("exec size", unsafe.Sizeof(e), execSize)
	f("exec.argc", unsafe.Offsetof(e.Argc), offArgc)
	f("exec.args_len", unsafe.Offsetof(e.ArgsLen), offArgsLen)
	f("exec.cwd_off", unsafe.Offsetof(e.CwdOff), offCwdOff)
	f("exec.flags", unsafe.Offsetof(e.Flags), offExecFlags)
	f("exec.cwd", unsafe.Offsetof(e.Cwd), offCwd)
	f("exec.cwd size", unsafe.Sizeof(e.Cwd), cwdSize)
	f("exec.filename", unsafe.Offsetof(e.Filename), offFilename)
	f("exec.args", unsafe.Offsetof(e.Args), offArgs)
	f("exec.filename size", unsafe.Sizeof(e.Filename), filenameSize)
	f("exec.args size", unsafe.Sizeof(e.Args), argsSize)
	var x kestrelExitEvent
	f("exit size", unsafe.Sizeof(x), exitSize)
	f("exit.code", unsafe.Offsetof(x.Code), offExitCode)
	var fe kestrelFileEvent
	f("file size", unsafe.Sizeof(fe), fileSize)
	f("file.flags", unsafe.Offsetof(fe.Flags), offFlags)
	f("file.path", unsafe.Offsetof(fe.Path), offPath)
	f("file.path2", unsafe.Offsetof(fe.Path2), offPath2)
	f("file.path size", unsafe.Sizeof(fe.Path), pathSize)
	var n kestrelNetEvent
	f("net size", unsafe.Sizeof(n), netSize)
	f("net.family", unsafe.Offsetof(n.Family), offFamily)
	f("net.sport", unsafe.Offsetof(n.Sport), offSport)
	f("net.dport", unsafe.Offsetof(n.Dport), offDport)
	f("net.ok", unsafe.Offsetof(n.Ok), offOK)
	f("net.saddr", unsafe.Offsetof(n.Saddr), offSaddr)
	f("net.daddr", unsafe.Offsetof(n.Daddr), offDaddr)
}

func TestParseStat(t *testing.T) {
	f := func(in string, ppid uint32, start uint64, ok bool) {
		t.Helper()
		p, s, k := parseStat([]byte(in))
		if p != ppid || s != start || k != ok {
			t.Errorf("parseStat(%q) = %d, %d, %v; want %d, %d, %v", in, p, s, k, ppid, start, ok)
		}
	}
	f("42 (sh) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1000 100 18446744073709551615", 7, 12345, true)
	f("42 (a) b (c) S 9 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 1000", 9, 777, true)
	f("42 (sh) S 7", 0, 0, false)
	f("garbage", 0, 0, false)
	f("", 0, 0, false)
}
