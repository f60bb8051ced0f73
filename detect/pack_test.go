package detect

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// packLog is a crafted log for the realistic pack in ../rule/testdata/pack
// (written as the original writes its rules): for each rule one attack that
// fires and near misses that must not. Entities are numbered by rule
// (1xx reverse shell, 2xx ransomware, ...); process.entity_id is "p" and
// the entity.
func packLog() []ev {
	const s = time.Second
	id := uint64(1000)
	var out []ev
	add := func(typ string, at time.Duration, ent uint64, kv ...any) uint64 {
		id++
		kv = append([]any{"process.entity_id", "p" + itoa(ent)}, kv...)
		out = append(out, ev{id, typ, at, ent, kv})
		return id
	}
	t := 100 * s
	// Reverse shell: outbound to a listener port, then a shell.
	add("network_connect", t, 100, "network.direction", "outbound", "network.dest_port", uint64(4444))
	add("process_exec", t+2*s, 100, "process.executable", "/bin/bash")
	add("network_connect", t, 101, "network.direction", "inbound", "network.dest_port", uint64(4444))
	add("process_exec", t+2*s, 101, "process.executable", "/bin/bash")
	add("network_connect", t, 102, "network.direction", "outbound", "network.dest_port", uint64(5555))
	add("process_exec", t+10*s+1, 102, "process.executable", "/bin/sh") // 1ns past maxspan
	add("network_connect", t, 103, "network.direction", "outbound", "network.dest_port", uint64(8080))
	add("process_exec", t+s, 103, "process.executable", "/bin/bash")
	add("network_connect", t, 104, "network.direction", "outbound", "network.dest_port", uint64(65535))
	add("process_exec", t+s, 104, "process.executable", "/usr/bin/python3")
	// Ransomware: a document, then its encrypted copy.
	t = 200 * s
	add("file_open", t, 200, "file.path", "/home/u/report.docx", "file.name", "report.docx")
	add("file_write", t+s, 200, "file.path", "/home/u/report.docx.LOCKED", "file.name", "report.docx.LOCKED")
	add("file_open", t, 201, "file.path", "/home/u/notes.txt", "file.name", "notes.txt")
	add("file_write", t+s, 201, "file.path", "/home/u/notes.txt.locked", "file.name", "notes.txt.locked")
	add("file_open", t, 202, "file.path", "/home/u/q3.xlsx", "file.name", "q3.xlsx")
	add("file_write", t+6*s, 202, "file.path", "/home/u/q3.xlsx.crypto", "file.name", "q3.xlsx.crypto")
	add("file_open", t, 203, "file.path", "/home/u/a.pdf", "file.name", "a.pdf")
	add("file_write", t+s, 203, "file.path", "/home/u/a.pdf.bak", "file.name", "a.pdf.bak")
	// Credential access: single events.
	t = 300 * s
	add("file_open", t, 300, "file.path", "/etc/shadow")
	add("file_open", t, 301, "file.path", "/home/alice/.ssh/id_ed25519")
	add("file_open", t, 302, "file.path", "/etc/hosts")
	add("process_exec", t, 303, "process.name", "mimikatz") // a process event: the rule reads file events
	add("file_open", t, 304, "file.path", "/tmp/dump", "process.name", "mimikatz")
	add("file_open", t, 305, "file.path", "/home/alice/.ssh/known_hosts")
	// Lateral movement: ssh to user@host, then port 22.
	t = 400 * s
	add("process_exec", t, 400, "process.executable", "/usr/bin/ssh", "process.args", "-p 22 alice@10.0.0.5")
	add("network_connect", t+s, 400, "network.dest_port", uint64(22))
	add("process_exec", t, 401, "process.executable", "/usr/bin/ssh", "process.args", "-V")
	add("network_connect", t+s, 401, "network.dest_port", uint64(22))
	add("process_exec", t, 402, "process.executable", "/usr/bin/scp", "process.args", "f bob@h:/tmp")
	add("network_connect", t+s, 402, "network.dest_port", uint64(443))
	add("process_exec", t, 403, "process.executable", "/usr/bin/rsync", "process.args", "a carol@h:")
	add("network_connect", t+61*s, 403, "network.dest_port", uint64(22))
	// Privilege escalation: sudo, then a sensitive file.
	t = 500 * s
	add("process_exec", t, 500, "process.executable", "/usr/bin/sudo")
	add("file_open", t+s, 500, "file.path", "/etc/sudoers")
	add("process_exec", t, 501, "process.executable", "/usr/bin/sudo")
	add("file_open", t+s, 501, "file.path", "/etc/hosts")
	add("process_exec", t, 502, "process.executable", "/bin/ls")
	add("file_open", t+s, 502, "file.path", "/etc/sudoers")
	// Exfiltration: an archive of databases, then an upload.
	t = 600 * s
	add("process_exec", t, 600, "process.name", "tar", "process.args", "czf /tmp/x.tgz /var/db/customers.sql")
	add("network_connect", t+s, 600, "network.direction", "outbound", "network.dest_host", "bkt.s3.amazonaws.com", "network.dest_port", uint64(8443))
	add("process_exec", t, 601, "process.name", "tar", "process.args", "czf x.tgz photos/")
	add("network_connect", t+s, 601, "network.direction", "outbound", "network.dest_port", uint64(443))
	add("process_exec", t, 602, "process.name", "zip", "process.args", "-r out.zip dump.db")
	add("network_connect", t+s, 602, "network.direction", "inbound", "network.dest_port", uint64(443))
	add("process_exec", t, 603, "process.name", "7z", "process.args", "a x.7z report.pdf")
	add("network_connect", t+5*time.Minute+s, 603, "network.direction", "outbound", "network.dest_port", uint64(443))
	slices.SortStableFunc(out, func(a, b ev) int { return int(a.at - b.at) })
	return out
}

func itoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; u > 0; u /= 10 {
		i--
		b[i] = byte('0' + u%10)
	}
	return string(b[i:])
}

// packWant is every alert of packLog, as rule:ids, sorted.
var packWant = []string{
	"credaccess-001:1019", "credaccess-001:1020", "credaccess-001:1023",
	"exfil-001:1039,1040",
	"lateral-001:1025,1026",
	"privesc-001:1033,1034",
	"ransomware-001:1011,1012",
	"revshell-001:1001,1002",
}

func loadPack(t testing.TB) []*rule.Package {
	t.Helper()
	set, err := rule.LoadDir("../rule/testdata/pack", rule.LoadOptions{Registry: testReg})
	if err != nil {
		t.Fatal(err)
	}
	return set.Packages
}

func TestPack(t *testing.T) {
	d, c := run(t, Config{Rules: loadPack(t)}, packLog())
	got := c.ids()
	slices.Sort(got)
	if !slices.Equal(got, packWant) {
		t.Fatalf("alerts\n%q\nwant\n%q", got, packWant)
	}
	s := d.Stats()
	if s.Alerts != uint64(len(packWant)) || s.Events != uint64(len(packLog())) {
		t.Fatalf("stats %+v", s)
	}
	// 102 (revshell), 202 (ransomware), 403 (lateral), 603 (exfil)
	// failed maxspan: their partial matches count as expired, as do the
	// near misses still pending when event time moved past their maxspan.
	if s.Evicted.Expired == 0 || s.Evicted.Capacity != 0 {
		t.Fatalf("evictions %+v", s.Evicted)
	}
}

// TestDeterminism runs the pack's log with noise through a bus at 1, 2
// and 4 partitions: the alerts are the same set every time, and the same
// as a single-threaded run.
func TestDeterminism(t *testing.T) {
	rules := loadPack(t)
	var evs []schema.Event
	n := 5000
	if testing.Short() || raceEnabled {
		n = 1000
	}
	// Noise from the demo generator (it reads /etc/shadow now and then,
	// which the credential rule rightly flags), numbered apart.
	for i, e := range demo.GenerateEvents(7, n, testReg) {
		e.ID = 1_000_000 + uint64(i)
		evs = append(evs, e)
	}
	for _, e := range packLog() {
		evs = append(evs, e.build(t))
	}
	// The reference: one detector fed directly, in log order.
	ref := &capture{}
	dref, err := New(Config{Output: ref, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		dref.Handle(0, []*schema.Event{&evs[i]})
	}
	first := ref.ids()
	slices.Sort(first)
	for _, w := range packWant {
		if _, found := slices.BinarySearch(first, w); !found {
			t.Fatalf("reference run lacks %s", w)
		}
	}
	for _, parts := range []int{1, 2, 4} {
		c := &capture{}
		d, err := New(Config{Partitions: parts, Output: c, Rules: rules,
			EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, parts) }})
		if err != nil {
			t.Fatal(err)
		}
		bus, err := engine.New(engine.Config{Partitions: parts, QueueSize: 1024, Route: d.Route})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.Run(d.Handle); err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if err := bus.Publish(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := bus.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		got := c.ids()
		slices.Sort(got)
		if !slices.Equal(got, first) {
			t.Fatalf("%d partitions: %d alerts %q\nwant %d: %q", parts, len(got), got, len(first), first)
		}
		if s := d.Stats(); s.Events != uint64(len(evs)) {
			t.Fatalf("%d partitions: %d events handled, want %d", parts, s.Events, len(evs))
		}
	}
}
