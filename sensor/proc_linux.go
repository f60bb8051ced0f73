//go:build linux

package sensor

import (
	"bytes"
	"os"
	"strconv"
)

// seedProcs fills t from /proc (root): each process's parent, start time
// and executable, so that events of processes that predate the sensor have
// their parent's fields. It returns how many it read; unreadable entries
// (a process that exited meanwhile, a kernel thread's missing exe) are
// skipped or kept without an executable.
func seedProcs(t *procTable, root string) int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	n := 0
	buf := make([]byte, 0, 1024)
	for _, e := range ents {
		if len(t.m) >= t.max {
			break
		}
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		dir := root + "/" + e.Name()
		ppid, start, ok := readStat(dir+"/stat", buf)
		if !ok {
			continue
		}
		p := proc{ppid: ppid, start: start}
		if exe, err := os.Readlink(dir + "/exe"); err == nil {
			p.exe = t.intern.get([]byte(exe))
			p.name = t.intern.get(baseName([]byte(exe)))
		}
		t.put(uint32(pid), p)
		n++
	}
	return n
}

// readStat returns the ppid (field 4) and starttime (field 22, clock
// ticks) of a /proc/PID/stat file. The command name (field 2) may hold
// spaces and parentheses: the fields after it start after its last ')'.
func readStat(path string, buf []byte) (ppid uint32, start uint64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	n, _ := f.Read(buf[:cap(buf)])
	_ = f.Close()
	return parseStat(buf[:n])
}

func parseStat(b []byte) (ppid uint32, start uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	fs := bytes.Fields(b[i+1:]) // fs[0] is field 3 (state)
	if len(fs) < 20 {
		return 0, 0, false
	}
	p, err1 := strconv.ParseUint(string(fs[1]), 10, 32)
	s, err2 := strconv.ParseUint(string(fs[19]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(p), s, true
}
