//go:build linux

package sensor_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sensor"
	"github.com/kestrel-sec/kestrel/value"
)

// seen is an event as the test checks it: type name and fields by path.
type seen struct {
	typ    string
	entity schema.EntityKey
	f      map[string]string
}

// collector keeps the events of the test process and its children.
type collector struct {
	reg  *schema.Registry
	self string
	mu   sync.Mutex
	evs  []seen
}

func (c *collector) handle(_ int, batch []*schema.Event) {
	for _, ev := range batch {
		pp, _ := ev.Get(c.id("process.parent.pid"))
		pid, _ := ev.Get(c.id("process.pid"))
		if pp.String() != c.self && pid.String() != c.self {
			continue
		}
		s := seen{entity: ev.Entity, f: map[string]string{}}
		s.typ, _ = c.reg.EventTypeName(ev.Type)
		for _, fd := range ev.Fields() {
			def, _ := c.reg.Field(fd.ID)
			s.f[def.Path] = joined(fd.Value)
		}
		c.mu.Lock()
		c.evs = append(c.evs, s)
		c.mu.Unlock()
	}
}

func (c *collector) id(p string) schema.FieldID { id, _ := c.reg.FieldID(p); return id }

// find returns the first event of type typ for pid that passes ok.
func (c *collector) find(typ string, pid int, ok func(seen) bool) (seen, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.evs {
		if s.typ == typ && s.f["process.pid"] == strconv.Itoa(pid) && (ok == nil || ok(s)) {
			return s, true
		}
	}
	return seen{}, false
}

func (c *collector) wait(t *testing.T, typ string, pid int, ok func(seen) bool) seen {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s, found := c.find(typ, pid, ok); found {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("no %s event for pid %d; saw %d events: %v", typ, pid, len(c.evs), c.evs)
	return seen{}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the live sensor needs root (or CAP_BPF+CAP_PERFMON): skipped")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("the kernel has no BTF (/sys/kernel/btf/vmlinux): skipped")
	}
}

// testLog writes the sensor's log lines into the test's.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type memRecorder struct {
	mu  sync.Mutex
	evs []schema.Event
}

func (r *memRecorder) Write(ev *schema.Event) error {
	var cp schema.Event
	cp.CopyFrom(ev)
	r.mu.Lock()
	r.evs = append(r.evs, cp)
	r.mu.Unlock()
	return nil
}

// live starts a sensor into a bus whose handler is a collector, and stops
// both when the test ends, checking that Run returned nil. It also checks,
// at the end, that the stats add up and that the recording holds every
// event published.
func live(t *testing.T) (*sensor.Sensor, *collector) {
	t.Helper()
	needRoot(t)
	reg := rule.DefaultRegistry()
	col := &collector{reg: reg, self: strconv.Itoa(os.Getpid())}
	bus, err := engine.New(engine.Config{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(col.handle); err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	s, err := sensor.New(sensor.Config{Bus: bus, Registry: reg, Record: rec, Logger: slog.New(slog.NewTextHandler(testLog{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		_ = bus.Shutdown(context.Background())
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := bus.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		st := s.Stats()
		if st.Read == 0 || st.Read != st.Published+st.BusDropped+st.DecodeErrors+st.Skipped || st.DecodeErrors != 0 {
			t.Errorf("stats do not add up: %+v", st)
		}
		rec.mu.Lock()
		nrec := len(rec.evs)
		rec.mu.Unlock()
		if uint64(nrec) != st.Published {
			t.Errorf("recorded %d events, published %d", nrec, st.Published)
		}
	})
	// This machine kind has tracefs and the syscalls' tracepoints: the
	// file and accept programs must attach (the tests check them).
	if st := s.Stats(); !st.FilesOn || !st.AcceptOn || !st.NetworkOn || st.ProcsSeeded == 0 {
		t.Fatalf("programs off: %+v", st)
	}
	return s, col
}

// TestLive runs real commands under the sensor and checks their events:
// fork, exec with its arguments, exit with its code, a file created by a
// script, its TCP connect to a loopback listener and the listener's
// accept.
func TestLive(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found (the script uses /dev/tcp)")
	}
	_, col := live(t)

	// /bin/true with arguments.
	cmd := exec.Command("/bin/true", "alpha", "beta")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	fork := col.wait(t, "process_fork", pid, nil)
	ex := col.wait(t, "process_exec", pid, nil)
	if ex.f["process.executable"] != "/bin/true" || ex.f["process.name"] != "true" ||
		ex.f["process.args"] != "/bin/true alpha beta" || ex.f["process.args_count"] != "3" {
		t.Errorf("exec event: %v", ex.f)
	}
	if ex.entity != fork.entity || ex.f["process.entity_id"] != fork.f["process.entity_id"] || ex.entity.Lo != uint64(pid) {
		t.Errorf("fork and exec entities differ: %v %v / %v %v", fork.entity, fork.f["process.entity_id"], ex.entity, ex.f["process.entity_id"])
	}
	if ex.f["user.id"] != "0" || ex.f["process.parent.entity_id"] == "" {
		t.Errorf("exec event: %v", ex.f)
	}
	exit := col.wait(t, "process_exit", pid, nil)
	if exit.f["process.exit_code"] != "0" || exit.f["process.executable"] != "/bin/true" || exit.entity != ex.entity {
		t.Errorf("exit event: %v", exit.f)
	}

	// A script that creates a file, connects to a listener and exits 3.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	script := filepath.Join(dir, "probe.sh")
	out := filepath.Join(dir, "out.txt")
	body := "#!" + bash + "\necho hi > \"$1\"\nexec 3<>/dev/tcp/127.0.0.1/$2\nexit 3\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(script, out, strconv.Itoa(port))
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("script: %v", err)
	}
	pid = cmd.Process.Pid
	ex = col.wait(t, "process_exec", pid, nil)
	if ex.f["process.executable"] != script || ex.f["process.args"] != bash+" "+script+" "+out+" "+strconv.Itoa(port) {
		t.Errorf("script exec event: %v", ex.f)
	}
	fe := col.wait(t, "file_create", pid, func(s seen) bool { return s.f["file.path"] == out })
	if fe.f["file.name"] != "out.txt" || fe.f["file.directory"] != dir || fe.entity != ex.entity ||
		fe.f["event.action"] != "creation" {
		t.Errorf("file event: %v", fe.f)
	}
	ne := col.wait(t, "network_connect", pid, nil)
	if ne.f["destination.ip"] != "127.0.0.1" || ne.f["destination.port"] != strconv.Itoa(port) ||
		ne.f["source.ip"] != "127.0.0.1" || ne.f["source.port"] == "0" || ne.f["event.outcome"] != "success" || ne.entity != ex.entity {
		t.Errorf("connect event: %v", ne.f)
	}
	// The listener's accept, in this process: the same connection seen
	// from the other end.
	ae := col.wait(t, "network_accept", os.Getpid(), func(s seen) bool { return s.f["destination.port"] == ne.f["source.port"] })
	if ae.f["source.port"] != strconv.Itoa(port) || ae.f["source.ip"] != "127.0.0.1" || ae.f["destination.ip"] != "127.0.0.1" ||
		ae.f["network.direction"] != "inbound" || ae.f["event.action"] != "accept" || ae.f["event.outcome"] != "success" ||
		ae.f["network.transport"] != "tcp" || ae.f["network.dest_port"] != ne.f["source.port"] {
		t.Errorf("accept event: %v", ae.f)
	}
	exit = col.wait(t, "process_exit", pid, nil)
	if exit.f["process.exit_code"] != "3" {
		t.Errorf("script exit event: %v", exit.f)
	}

}

// TestNewConfig checks Validate's errors.
func TestNewConfig(t *testing.T) {
	if _, err := sensor.New(sensor.Config{}); !errors.Is(err, sensor.ErrConfig) {
		t.Errorf("empty config: %v", err)
	}
}

// joined is a field's value as the live tests compare it: an Array's
// elements joined by spaces (process.args, as the command line), else its
// text.
func joined(v value.Value) string {
	a, ok := v.Array()
	if !ok {
		return v.String()
	}
	parts := make([]string, len(a))
	for i, e := range a {
		parts[i] = e.String()
	}
	return strings.Join(parts, " ")
}
