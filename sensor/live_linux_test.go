//go:build linux

package sensor_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLiveAccept connects to a loopback listener of this process, over
// IPv4 and IPv6, and checks that the accept event is the connect event
// seen from the other end: same 4-tuple, local and remote swapped.
func TestLiveAccept(t *testing.T) {
	_, col := live(t)
	self := os.Getpid()
	for _, c := range []struct{ network, addr, ip string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"tcp6", "[::1]:0", "::1"},
	} {
		ln, err := net.Listen(c.network, c.addr)
		if err != nil {
			t.Logf("%s: no listener (%v): not checked", c.network, err)
			continue
		}
		accepted := make(chan error, 1)
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				_ = conn.Close()
			}
			accepted <- err
		}()
		conn, err := net.Dial(c.network, ln.Addr().String())
		if err != nil {
			_ = ln.Close()
			t.Fatal(err)
		}
		if err := <-accepted; err != nil {
			t.Fatal(err)
		}
		lport := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		cport := strconv.Itoa(conn.LocalAddr().(*net.TCPAddr).Port)
		_ = conn.Close()
		_ = ln.Close()

		ne := col.wait(t, "network_connect", self, func(s seen) bool { return s.f["source.port"] == cport })
		ae := col.wait(t, "network_accept", self, func(s seen) bool { return s.f["destination.port"] == cport })
		want := map[string]string{
			"source.ip": c.ip, "source.port": lport, "destination.ip": c.ip, "destination.port": cport,
			"network.direction": "inbound", "network.transport": "tcp", "event.action": "accept", "event.category": "network", "event.type": "start",
			"event.outcome": "success", "process.pid": strconv.Itoa(self),
		}
		for k, v := range want {
			if ae.f[k] != v {
				t.Errorf("%s accept: %s = %q, want %q (%v)", c.network, k, ae.f[k], v, ae.f)
			}
		}
		if ne.f["destination.port"] != lport || ne.f["network.direction"] != "outbound" {
			t.Errorf("%s connect: %v", c.network, ne.f)
		}
		if ae.entity != ne.entity || ae.f["process.entity_id"] == "" {
			t.Errorf("%s: accept and connect are both this process: %v / %v", c.network, ae.entity, ne.entity)
		}
	}
}

// TestLiveCwd runs /bin/true from known directories: a temporary one, the
// root, mount points, and one whose path is longer than the kernel program reads, which
// comes out truncated, marked, and counted.
func TestLiveCwd(t *testing.T) {
	s, col := live(t)
	run := func(dir string) int {
		t.Helper()
		cmd := exec.Command("/bin/true")
		cmd.Dir = dir
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		return cmd.Process.Pid
	}
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ex := col.wait(t, "process_exec", run(tmp), nil); ex.f["process.working_directory"] != tmp {
		t.Errorf("working directory %q, want %q", ex.f["process.working_directory"], tmp)
	}
	// The root, and directories across mounts (/proc, and tracefs on
	// sysfs, which the sensor mounts when it is not).
	for _, dir := range []string{"/", "/proc", "/sys/kernel/tracing"} {
		if ex := col.wait(t, "process_exec", run(dir), nil); ex.f["process.working_directory"] != dir {
			t.Errorf("working directory %q, want %s", ex.f["process.working_directory"], dir)
		}
	}

	// Six components of 200 bytes: more than the 1 KiB read.
	deep := tmp
	for i := range 6 {
		deep = filepath.Join(deep, strings.Repeat(string(rune('a'+i)), 200))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().CwdTruncated
	ex := col.wait(t, "process_exec", run(deep), nil)
	wd := ex.f["process.working_directory"]
	if !strings.HasPrefix(wd, ".../") || !strings.HasSuffix(deep, wd[3:]) || len(wd) > 3+1024 || len(wd) < 3+5*201 {
		t.Errorf("deep working directory %q (%d bytes): want .../ and the end of %s", wd, len(wd), deep)
	}
	if s.Stats().CwdTruncated <= before {
		t.Errorf("CwdTruncated did not count the deep directory: %+v", s.Stats())
	}
}

// TestLiveArgs runs /bin/true with an argument list longer than the old
// 1 KiB cap (read whole) and one longer than the 4 KiB read (truncated,
// counted, args_count still whole).
func TestLiveArgs(t *testing.T) {
	s, col := live(t)
	run := func(args []string) seen {
		t.Helper()
		cmd := exec.Command("/bin/true", args...)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		return col.wait(t, "process_exec", cmd.Process.Pid, nil)
	}
	mid := make([]string, 30) // 30 * 101 bytes
	for i := range mid {
		mid[i] = strings.Repeat(string(rune('a'+i%26)), 100)
	}
	before := s.Stats().ArgsTruncated
	ex := run(mid)
	if want := "/bin/true " + strings.Join(mid, " "); ex.f["process.args"] != want || ex.f["process.command_line"] != want {
		t.Errorf("args of %d bytes: got %d bytes", len(want), len(ex.f["process.args"]))
	}
	if s.Stats().ArgsTruncated != before {
		t.Errorf("ArgsTruncated counted a whole argument list: %+v", s.Stats())
	}

	long := make([]string, 60) // 60 * 101 bytes
	for i := range long {
		long[i] = strings.Repeat(string(rune('a'+i%26)), 100)
	}
	ex = run(long)
	full := "/bin/true " + strings.Join(long, " ")
	got := ex.f["process.args"]
	if len(got) != 4096 || !strings.HasPrefix(full, got) || ex.f["process.args_count"] != "61" {
		t.Errorf("long args: %d bytes (want the first 4096 of %d), args_count %s", len(got), len(full), ex.f["process.args_count"])
	}
	if s.Stats().ArgsTruncated != before+1 {
		t.Errorf("ArgsTruncated = %d, want %d", s.Stats().ArgsTruncated, before+1)
	}
}

// TestLiveFiles makes the file system calls the sensor covers, from this
// process, and checks each event: open with and without O_CREAT, openat2,
// creat (where the architecture has it), unlink and rename.
func TestLiveFiles(t *testing.T) {
	_, col := live(t)
	self := os.Getpid()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	file := func(typ, p string) seen {
		t.Helper()
		return col.wait(t, typ, self, func(s seen) bool { return s.f["file.path"] == p })
	}
	check := func(what string, s seen, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if s.f[k] != v {
				t.Errorf("%s: %s = %q, want %q (%v)", what, k, s.f[k], v, s.f)
			}
		}
	}

	f, err := os.OpenFile(path("made"), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	ev := file("file_create", path("made"))
	check("open O_CREAT", ev, map[string]string{"event.action": "creation", "file.name": "made", "file.directory": dir, "event.category": "file", "event.type": "creation"})
	if fl, _ := strconv.ParseUint(ev.f["file.flags"], 10, 32); fl&unix.O_CREAT == 0 || fl&unix.O_EXCL == 0 {
		t.Errorf("open O_CREAT: flags %s", ev.f["file.flags"])
	}

	f, err = os.Open(path("made"))
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	check("open", file("file_open", path("made")), map[string]string{"event.action": "open", "event.type": "access"})

	fd, err := unix.Openat2(unix.AT_FDCWD, path("made2"), &unix.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_CLOEXEC, Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.Close(fd)
	ev = file("file_create", path("made2"))
	check("openat2", ev, map[string]string{"event.action": "creation", "file.name": "made2"})
	if fl, _ := strconv.ParseUint(ev.f["file.flags"], 10, 32); fl&unix.O_CREAT == 0 || fl&unix.O_CLOEXEC == 0 {
		t.Errorf("openat2: flags %s", ev.f["file.flags"])
	}

	if ok, err := creat(path("made3"), 0o600); err != nil {
		t.Fatal(err)
	} else if ok {
		check("creat", file("file_create", path("made3")), map[string]string{"event.action": "creation", "file.name": "made3"})
	} else {
		t.Log("no creat system call on this architecture: not checked")
	}

	if err := os.Rename(path("made2"), path("moved")); err != nil {
		t.Fatal(err)
	}
	check("rename", file("file_rename", path("made2")), map[string]string{"event.action": "rename", "file.target_path": path("moved"), "event.type": "change"})

	if err := os.Remove(path("moved")); err != nil {
		t.Fatal(err)
	}
	check("unlink", file("file_delete", path("moved")), map[string]string{"event.action": "unlink", "file.name": "moved", "event.category": "file", "event.type": "deletion"})
}
