package sensor

import (
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// execRecord returns a synthetic exec record of pid, child of ppid, run
// from /home/user.
func execRecord(pid, ppid uint32, exe string, args ...string) []byte {
	rec := make([]byte, execSize)
	le.PutUint32(rec[0:], kindExec)
	le.PutUint32(rec[4:], pid)
	le.PutUint32(rec[8:], pid)
	le.PutUint32(rec[12:], ppid)
	le.PutUint64(rec[16:], 5e9)
	le.PutUint64(rec[24:], 3e9)
	le.PutUint64(rec[32:], 1e9)
	copy(rec[offFilename:], exe)
	setCwd(rec, "/home/user", false)
	n := 0
	for _, a := range args {
		n += copy(rec[offArgs+n:], a) + 1
	}
	le.PutUint32(rec[offArgc:], uint32(len(args)))
	le.PutUint32(rec[offArgsLen:], uint32(n))
	return rec
}

// setCwd writes dir at the end of rec's cwd, as the kernel program does.
func setCwd(rec []byte, dir string, truncated bool) {
	off := cwdSize - len(dir)
	copy(rec[offCwd+off:], dir)
	le.PutUint32(rec[offCwdOff:], uint32(off))
	fl := le.Uint32(rec[offExecFlags:]) &^ execCwdTruncated
	if truncated {
		fl |= execCwdTruncated
	}
	le.PutUint32(rec[offExecFlags:], fl)
}

func newTestBuilder() *builder {
	b := &builder{procs: newProcTable(4)}
	b.f, b.t = resolve(rule.DefaultRegistry())
	return b
}

func TestBuildExec(t *testing.T) {
	b := newTestBuilder()
	b.procs.put(10, proc{ppid: 1, start: 100, exe: "/bin/sh", name: "sh"})
	rec := execRecord(20, 10, "/usr/bin/id", "id", "-u")
	h := parseHdr(rec)
	b.update(h, rec)
	var ev schema.Event
	b.fill(&ev, h, b.eventType(h, rec), rec)
	want := map[string]string{
		"process.pid": "20", "process.parent.pid": "10", "process.executable": "/usr/bin/id",
		"process.name": "id", "process.args": "id|-u", "process.command_line": "id -u",
		"process.args_count": "2", "process.entity_id": "20-300", "process.parent.entity_id": "10-100",
		"process.parent.executable": "/bin/sh", "process.parent.name": "sh", "event.action": "exec",
		"process.working_directory": "/home/user", "event.category": "process", "event.type": "start",
	}
	reg := rule.DefaultRegistry()
	for p, w := range want {
		id, _ := reg.FieldID(p)
		if v, ok := ev.Get(id); !ok || v.String() != w && elements(v, "|") != w {
			t.Errorf("%s = %v, want %s", p, v, w)
		}
	}
	if v, _ := ev.Get(b.f.args); !isArray(v) {
		t.Errorf("process.args = %v, want an Array (ECS declares it Array<String>)", v)
	}

	// A directory the kernel program could not read whole: its end, marked.
	setCwd(rec, "/deep/er", true)
	ev.Reset()
	b.fill(&ev, h, b.eventType(h, rec), rec)
	id, _ := reg.FieldID("process.working_directory")
	if v, _ := ev.Get(id); v.String() != ".../deep/er" {
		t.Errorf("truncated working directory %v, want .../deep/er", v)
	}
	if k := entityKey(20, 3e9); k != (schema.EntityKey{Hi: 300, Lo: 20}) {
		t.Errorf("entity key %v", k)
	}
}

// TestArenaStringsStay checks that a string handed out is never written
// again, across chunk changes.
func TestArenaStringsStay(t *testing.T) {
	var a arena
	var kept []string
	for i := range 5000 {
		s := a.string([]byte{byte('a' + i%26), byte('a' + i/26%26), 'x', 'y'})
		kept = append(kept, s)
	}
	for i, s := range kept {
		if s != string([]byte{byte('a' + i%26), byte('a' + i/26%26), 'x', 'y'}) {
			t.Fatalf("string %d changed to %q", i, s)
		}
	}
}

func TestBuildAllocs(t *testing.T) {
	b := newTestBuilder()
	rec := execRecord(20, 10, "/usr/bin/id", "id", "-u")
	h := parseHdr(rec)
	var ev schema.Event
	typ := b.eventType(h, rec)
	for range 10 { // warm: intern table, spill capacity
		ev.Reset()
		b.update(h, rec)
		b.fill(&ev, h, typ, rec)
	}
	n := testing.AllocsPerRun(1000, func() {
		ev.Reset()
		b.update(h, rec)
		b.fill(&ev, h, typ, rec)
		b.after(h)
	})
	if n > 0.05 { // a 64 KiB chunk every few hundred events
		t.Errorf("%.3f allocations per exec event", n)
	}
}

// BenchmarkFill is the user-space cost of one exec event: decode, process
// table, strings into the arena, fields into the event.
func BenchmarkFill(b *testing.B) {
	bd := newTestBuilder()
	rec := execRecord(20, 10, "/usr/bin/id", "id", "-u")
	h := parseHdr(rec)
	typ := bd.eventType(h, rec)
	var ev schema.Event
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		bd.update(h, rec)
		bd.fill(&ev, h, typ, rec)
		bd.after(h)
	}
}

// fileRecord returns a synthetic open record of pid with flags.
func fileRecord(pid uint32, path string, flags uint32) []byte {
	rec := make([]byte, fileSize)
	le.PutUint32(rec[0:], kindOpen)
	le.PutUint32(rec[4:], pid)
	le.PutUint32(rec[8:], pid)
	le.PutUint64(rec[16:], 5e9)
	le.PutUint32(rec[offFlags:], flags)
	copy(rec[offPath:], path)
	return rec
}

// TestBuildOpen: an open with O_CREAT is a file_create whose action is
// "creation"; without, a file_open, "open".
func TestBuildOpen(t *testing.T) {
	b := newTestBuilder()
	reg := rule.DefaultRegistry()
	action, _ := reg.FieldID("event.action")
	f := func(flags uint32, typ, act string) {
		t.Helper()
		rec := fileRecord(7, "/tmp/x", flags)
		h := parseHdr(rec)
		var ev schema.Event
		b.fill(&ev, h, b.eventType(h, rec), rec)
		if name, _ := reg.EventTypeName(ev.Type); name != typ {
			t.Errorf("flags %#o: type %s, want %s", flags, name, typ)
		}
		if v, _ := ev.Get(action); v.String() != act {
			t.Errorf("flags %#o: action %v, want %s", flags, v, act)
		}
	}
	f(0, "file_open", "open")
	f(0o2000000, "file_open", "open") // O_CLOEXEC
	f(oCreat|0o1, "file_create", "creation")
}

// FuzzFill feeds the decoder records of every kind with any content, as
// the reader hands them over (of the kind's size at least): it must not
// panic, whatever the lengths and offsets inside claim. The record is data
// over zeros, its kind forced to kind.
func FuzzFill(f *testing.F) {
	f.Add(uint8(kindExec), execRecord(20, 10, "/usr/bin/id", "id", "-u"))
	f.Add(uint8(kindOpen), fileRecord(7, "/tmp/x", oCreat))
	b := newTestBuilder()
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		n := recordSize(uint32(kind))
		if n == 0 {
			return
		}
		rec := make([]byte, max(n, len(data)))
		copy(rec, data)
		le.PutUint32(rec, uint32(kind))
		h := parseHdr(rec)
		b.update(h, rec)
		var ev schema.Event
		if typ := b.eventType(h, rec); typ != 0 {
			b.fill(&ev, h, typ, rec)
		}
		b.after(h)
	})
}
