package sensor

import (
	"bytes"
	"encoding/binary"
)

// Record kinds and layouts, as bpf/sensor.c writes them (little-endian;
// layout_linux_test.go checks the offsets against bpf2go's Go types).
const (
	kindExec    = 1
	kindFork    = 2
	kindExit    = 3
	kindOpen    = 4
	kindUnlink  = 5
	kindRename  = 6
	kindConnect = 7
	kindAccept  = 8

	hdrSize       = 72
	offArgc       = 72
	offArgsLen    = 76
	offCwdOff     = 80
	offExecFlags  = 84
	offFilename   = 88
	filenameSize  = 256
	offCwd        = 344
	cwdSize       = 1024
	offArgs       = 1368
	argsSize      = 4096
	execSize      = 5464
	offExitCode   = 72
	exitSize      = 80
	offFlags      = 72
	offPath       = 80
	pathSize      = 256
	offPath2      = 336
	fileSize      = 592
	offFamily     = 72
	offSport      = 74
	offDport      = 76
	offOK         = 78
	offSaddr      = 80
	offDaddr      = 96
	netSize       = 112
	userHZ        = 100 // /proc's clock ticks per second (USER_HZ)
	nsPerTick     = 1e9 / userHZ
	afInet        = 2
	oCreat        = 0o100
	commSize      = 16
	offComm       = 56
	minRecordSize = hdrSize

	// exec_event.flags
	execArgsTruncated = 1 // the argument area was longer than argsSize
	execCwdTruncated  = 2 // the directory's path was longer than cwdSize or 64 components
)

// hdr is a record's common header.
type hdr struct {
	kind, pid, tid, ppid uint32
	ts, start, pstart    uint64
	uid, euid, gid       uint32
}

var le = binary.LittleEndian

func parseHdr(b []byte) hdr {
	return hdr{
		kind: le.Uint32(b[0:]), pid: le.Uint32(b[4:]), tid: le.Uint32(b[8:]), ppid: le.Uint32(b[12:]),
		ts: le.Uint64(b[16:]), start: le.Uint64(b[24:]), pstart: le.Uint64(b[32:]),
		uid: le.Uint32(b[40:]), euid: le.Uint32(b[44:]), gid: le.Uint32(b[48:]),
	}
}

// recordSize returns the size a record of kind must have, 0 for an unknown
// kind.
func recordSize(kind uint32) int {
	switch kind {
	case kindExec:
		return execSize
	case kindFork:
		return hdrSize
	case kindExit:
		return exitSize
	case kindOpen, kindUnlink, kindRename:
		return fileSize
	case kindConnect, kindAccept:
		return netSize
	}
	return 0
}

// cstr returns b up to its first NUL.
func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// baseName returns the part of path after its last slash.
func baseName(path []byte) []byte {
	if i := bytes.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
