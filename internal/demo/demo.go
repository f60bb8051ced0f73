// Package demo generates Kestrel's demo workload: a small schema (Registry,
// the first sixteen fields of the Kestrel default schema and three event
// types) and reproducible, realistic sensor events over it
// (GenerateEvents), for tests, examples, the benchmark harness and the
// kestrel command. It is not API: embedders bring their own events.
package demo

import (
	"math/rand/v2"
	"strconv"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// demoFields is the demo schema's fields: the first sixteen of the original
// Kestrel default schema (schema.KestrelFile), which owns them, shared by
// GenerateEvents, the benchmark harness and the kestrel command's examples.
var demoFields = func() []schema.FieldDef {
	f := schema.KestrelFile()
	out := make([]schema.FieldDef, 16)
	for i := range out {
		t, _ := schema.LookupType(f.Fields[i].Type) // built-in names: TestRegistry
		out[i] = schema.FieldDef{Path: f.Fields[i].Path, DataType: t, Description: f.Fields[i].Description}
	}
	return out
}()

// The demo event type names, registered in this order (IDs 1, 2, 3).
const (
	Exec    = "process_exec"
	Open    = "file_open"
	Connect = "network_connect"
)

// Registry returns a new Registry holding the demo schema: the field
// paths process.pid, process.parent.pid, process.executable, process.name,
// process.command_line, process.args_count, user.name, user.id, file.path,
// file.flags, source.ip, source.port, destination.ip, destination.port,
// network.transport and host.name (IDs 1 to 16 in that order), and the
// event types process_exec, file_open and network_connect (IDs 1 to 3).
func Registry() *schema.Registry {
	reg := schema.NewRegistry()
	// The demo schema is static and valid, so registering it into an empty
	// registry cannot fail (TestRegistry checks every ID).
	_, _ = reg.RegisterFields(demoFields...)
	for _, name := range demoTypes {
		_, _ = reg.RegisterEventType(name)
	}
	return reg
}

var demoTypes = [...]string{Exec, Open, Connect}

var (
	genBinaries = []string{"/usr/bin/curl", "/usr/bin/wget", "/bin/bash", "/usr/bin/python3", "/usr/sbin/sshd",
		"/usr/bin/ssh", "/usr/bin/sudo", "/bin/ls", "/usr/bin/cat", "/usr/bin/nc", "/usr/bin/git", "/usr/lib/systemd/systemd"}
	genArgs = []string{"-fsSL", "--output", "/tmp/payload.sh", "-c", "https://example.com/install.sh",
		"--retry", "3", "-o", "StrictHostKeyChecking=no", "--quiet", "/etc/passwd", "-la", "/var/log/auth.log",
		"--user-agent", "Mozilla/5.0", "origin", "main", "-m", "http.server", "8080"}
	genUsers = []string{"root", "alice", "bob", "www-data", "postgres", "nobody", "deploy"}
	genFiles = []string{"/etc/passwd", "/etc/shadow", "/var/log/auth.log", "/home/alice/.ssh/id_ed25519",
		"/tmp/payload.sh", "/proc/self/maps", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.preload",
		"/var/lib/postgresql/data/pg_hba.conf", "/root/.bash_history"}
	genHosts = []string{"web-01", "web-02", "db-01", "build-07"}
)

// GenerateEvents returns n realistic sensor events, the same for the same
// seed: process_exec, file_open and network_connect events with 6 to 10
// fields (pids, executables such as /usr/bin/curl, command lines of 40 to
// 120 bytes, user names, IPs and ports) from about 64 processes, so that
// entity keys spread over partitions. Timestamps rise by 1 to 100 µs per
// event from 1s.
//
// reg should hold the demo schema (Registry); nil means a fresh
// Registry. Fields and event types are looked up in reg by path and
// name; any that reg lacks take the ID Registry gives them, and then the
// events are built without checking them against reg. user.id is a U64,
// or its decimal string where reg declares the field String, as ECS does.
// Strings share a few
// backing arrays; treat the events as read-only.
func GenerateEvents(seed int64, n int, reg *schema.Registry) []schema.Event {
	if reg == nil {
		reg = Registry()
	}
	n = max(n, 0)
	complete := true
	id := func(path string) schema.FieldID {
		if f, ok := reg.FieldID(path); ok {
			return f
		}
		complete = false
		for i, d := range demoFields {
			if d.Path == path {
				return schema.FieldID(i + 1)
			}
		}
		return 0 // not reached: every path asked for is a demo path
	}
	typ := func(name string) schema.EventTypeID {
		if t, ok := reg.EventTypeID(name); ok {
			return t
		}
		complete = false
		for i, d := range demoTypes {
			if d == name {
				return schema.EventTypeID(i + 1)
			}
		}
		return 0
	}
	var (
		fPid, fPPid, fExe, fName, fCmd = id("process.pid"), id("process.parent.pid"), id("process.executable"), id("process.name"), id("process.command_line")
		fArgc, fUser, fUID, fPath      = id("process.args_count"), id("user.name"), id("user.id"), id("file.path")
		fFlags, fSIP, fSPort, fDIP     = id("file.flags"), id("source.ip"), id("source.port"), id("destination.ip")
		fDPort, fTrans, fHost          = id("destination.port"), id("network.transport"), id("host.name")
		tExec, tOpen, tConn            = typ(Exec), typ(Open), typ(Connect)
	)
	// ECS declares user.id a keyword: under a registry that says so the
	// generator writes the uid as its decimal string.
	uidString := false
	if reg != nil {
		if d, ok := reg.Field(fUID); ok && d.DataType.Base() == schema.TypeString {
			uidString = true
		}
	}
	if !complete {
		reg = nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b657374726c))

	type proc struct {
		pid, ppid int64
		exe, name string
		cmd       string
		argc      uint64
		user      string
		uid       value.Value
		host      string
		key       schema.EntityKey
	}
	newProc := func() proc {
		exe := genBinaries[rng.IntN(len(genBinaries))]
		name := exe[lastSlash(exe)+1:]
		cmd := exe
		argc := uint64(1)
		target := 40 + rng.IntN(81)
		for len(cmd) < target {
			cmd += " " + genArgs[rng.IntN(len(genArgs))]
			argc++
		}
		if len(cmd) > 120 {
			cmd = cmd[:120]
		}
		u := rng.IntN(len(genUsers))
		pid := int64(1000 + rng.IntN(60000))
		uid := value.U64Value(uint64(u * 1000))
		if uidString {
			uid = value.StringValue(strconv.Itoa(u * 1000))
		}
		return proc{
			pid: pid, ppid: int64(1 + rng.IntN(int(pid)-1)), exe: exe, name: name, cmd: cmd, argc: argc,
			user: genUsers[u], uid: uid, host: genHosts[rng.IntN(len(genHosts))],
			key: schema.EntityKey{Hi: rng.Uint64() >> 32, Lo: rng.Uint64()},
		}
	}
	procs := make([]proc, 64)
	for i := range procs {
		procs[i] = newProc()
	}
	ips := make([]string, 32)
	for i := range ips {
		ips[i] = "10." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(1+rng.IntN(254))
	}

	out := make([]schema.Event, n)
	b := schema.NewBuilder(reg)
	mono := uint64(1_000_000_000)
	const wallBase = 1_700_000_000_000_000_000
	for i := range out {
		mono += 1000 + uint64(rng.IntN(99_000))
		pi := rng.IntN(len(procs))
		b.Reset().ID(uint64(i + 1)).Mono(schema.TimestampMono(mono)).Wall(schema.TimestampWall(wallBase + mono))
		switch r := rng.IntN(10); {
		case r < 3: // a new process: exec
			procs[pi] = newProc()
			p := &procs[pi]
			b.Type(tExec).Entity(p.key).
				Field(fPid, value.I64Value(p.pid)).Field(fPPid, value.I64Value(p.ppid)).
				Field(fExe, value.StringValue(p.exe)).Field(fName, value.StringValue(p.name)).
				Field(fCmd, value.StringValue(p.cmd)).Field(fArgc, value.U64Value(p.argc)).
				Field(fUser, value.StringValue(p.user)).Field(fUID, p.uid).
				Field(fHost, value.StringValue(p.host))
			if rng.IntN(2) == 0 {
				b.Field(fTrans, value.NullValue()) // sensors leave unknowns Null
			}
		case r < 7:
			p := &procs[pi]
			b.Type(tOpen).Entity(p.key).
				Field(fPid, value.I64Value(p.pid)).Field(fExe, value.StringValue(p.exe)).
				Field(fUser, value.StringValue(p.user)).Field(fPath, value.StringValue(genFiles[rng.IntN(len(genFiles))])).
				Field(fFlags, value.U64Value(uint64(rng.IntN(4))|0o100000)).Field(fHost, value.StringValue(p.host))
			if rng.IntN(3) == 0 {
				b.Field(fUID, p.uid)
			}
		default:
			p := &procs[pi]
			trans := "tcp"
			if rng.IntN(5) == 0 {
				trans = "udp"
			}
			b.Type(tConn).Entity(p.key).
				Field(fPid, value.I64Value(p.pid)).Field(fExe, value.StringValue(p.exe)).
				Field(fSIP, value.StringValue(ips[rng.IntN(4)])).Field(fSPort, value.U64Value(uint64(32768+rng.IntN(28000)))).
				Field(fDIP, value.StringValue(ips[rng.IntN(len(ips))])).Field(fDPort, value.U64Value([]uint64{22, 53, 80, 443, 5432, 8080}[rng.IntN(6)])).
				Field(fTrans, value.StringValue(trans)).Field(fUser, value.StringValue(p.user)).
				Field(fHost, value.StringValue(p.host))
		}
		if b.BuildInto(&out[i]) != nil {
			// Not reached: every event built here has a type, distinct
			// fields, and values of the demo schema's types.
			return out[:i]
		}
	}
	return out
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}
