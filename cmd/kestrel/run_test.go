package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// kestrel runs the command with args and returns its exit status, stdout
// and stderr.
func kestrel(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, false)
	return code, out.String(), errb.String()
}

// sortedLines returns the non-empty lines of s in order.
func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// TestRunExample is the end-to-end test: the command replays the example's
// recorded attack through its rules, at 1, 2 and 4 partitions and from the
// JSON, zstd and binary forms of the log, and writes exactly the golden
// alerts (sorted: partitions interleave their alerts).
func TestRunExample(t *testing.T) {
	code, stdout, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-partitions", "1", "-q")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got := sortedLines(stdout)
	if *update {
		if err := os.WriteFile(exampleGolden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gb, err := os.ReadFile(exampleGolden)
	if err != nil {
		t.Fatal(err)
	}
	want := sortedLines(string(gb))
	if !slices.Equal(got, want) {
		t.Fatalf("alerts differ from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", exampleGolden,
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every line is an alert sink reads back, of the rules expected.
	var ids []string
	for _, l := range got {
		var a sink.Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if a.ID != sink.NewAlertID(a.RuleID, a.EventIDs) {
			t.Fatalf("alert id of %s", l)
		}
		ids = append(ids, a.RuleID)
	}
	slices.Sort(ids)
	if strings.Join(ids, ",") != "credaccess-001,curlpipe-001,exfil-001,lateral-001,privesc-001,revshell-001" {
		t.Fatalf("rules fired: %v", ids)
	}

	dir := t.TempDir()
	logs := []string{exampleLog, filepath.Join(dir, "attack.kbin"), filepath.Join(dir, "attack.jsonl.zst")}
	evs := scenario()
	writeLog(t, logs[1], evs)
	writeLog(t, logs[2], evs)
	for _, log := range logs {
		for _, parts := range []string{"2", "4"} {
			code, stdout, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", log, "-partitions", parts, "-q")
			if code != exitOK {
				t.Fatalf("%s at %s partitions: exit %d\n%s", log, parts, code, stderr)
			}
			if g := sortedLines(stdout); !slices.Equal(g, want) {
				t.Fatalf("%s at %s partitions: alerts differ\n%s", log, parts, strings.Join(g, "\n"))
			}
		}
	}
}

func TestRunSummary(t *testing.T) {
	code, _, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-speed", "0")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"attack.jsonl: 27 events in",
		"events/s)",
		"alerts: 6",
		"revshell-001    1  Reverse Shell Detection",
		"ransomware-001  0",
		"outputs: stdout 6 delivered",
		"drops: events 0 (bus full), alerts 0 (output refused), 0 unrouted",
		"evictions: expired 2, terminated 0, capacity 0",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	for _, noise := range []string{"unsupported", "ignored"} { // the quick start is clean
		if strings.Contains(stderr, noise) {
			t.Errorf("quick start says %q:\n%s", noise, stderr)
		}
	}
}

func TestRunOutputsFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "alerts.jsonl")
	cfg := filepath.Join(dir, "outputs.json")
	writeFile(t, cfg, `{"outputs": [{"name": "console", "type": "stdout"}, {"name": "archive", "type": "file", "path": "`+file+`"}],
 "routes": [{"min_severity": "critical", "outputs": ["console"], "continue": true}],
 "default": ["archive"]}`)
	code, stdout, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-outputs", cfg, "-q")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// The critical alert (the reverse shell) matches the route and goes to
	// the console; the others match no route and go to the default.
	if lines := sortedLines(stdout); len(lines) != 1 || !strings.Contains(lines[0], `"revshell-001"`) {
		t.Fatalf("console: %q", lines)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sortedLines(string(b))); n != 5 || strings.Contains(string(b), `"revshell-001"`) {
		t.Fatalf("archive holds %d alerts:\n%s", n, b)
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("alerts file mode %v", st.Mode())
	}

	for _, bad := range []string{`{"outputs": []}`, `{"outputs": [{"type": "carrier-pigeon"}]}`, `{"outputs": [{"type": "file"}]}`,
		`{"outputs": [{"type": "stdout"}], "routes": [{"min_severity": "dire", "outputs": ["stdout"]}]}`,
		`{"outputs": [{"type": "stdout"}], "dedup": {"window": "soon"}}`, `{"nope": 1}`} {
		writeFile(t, cfg, bad)
		if code, _, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-outputs", cfg, "-q"); code != exitFail ||
			!strings.Contains(stderr, "outputs") {
			t.Errorf("%s: exit %d, %s", bad, code, stderr)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	// A rule with an error: the run stops before replaying, pointing at it.
	bad := filepath.Join(dir, "rules", "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bad, "manifest.json"), `{"metadata": {"rule_id": "b", "rule_name": "B", "severity": "low"}}`)
	writeFile(t, filepath.Join(bad, "rule.eql"), "-- broken\nprocess where\n  process.exe == \"x\"\n")
	code, _, stderr := kestrel(t, "run", "-rules", filepath.Join(dir, "rules"), "-log", exampleLog)
	if code != exitFail || !strings.Contains(stderr, filepath.Join(bad, "rule.eql")+":3:3: unknown field process.exe") {
		t.Fatalf("bad rule: exit %d\n%s", code, stderr)
	}

	// A log with a bad line: strict mode stops and names it; lenient
	// counts it.
	evs := scenario()
	logPath := filepath.Join(dir, "bad.jsonl")
	var buf bytes.Buffer
	for i := range evs {
		buf.Write(evs[i].AppendJSON(nil))
		buf.WriteByte('\n')
		if i == 3 {
			buf.WriteString("{not json\n")
		}
	}
	writeFile(t, logPath, buf.String())
	code, _, stderr = kestrel(t, "run", "-rules", exampleRules, "-log", logPath, "-q")
	if code != exitFail || !strings.Contains(stderr, logPath+":5:") {
		t.Fatalf("strict: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", logPath, "-lenient")
	if code != exitOK || !strings.Contains(stderr, "1 bad records") || len(sortedLines(stdout)) != 6 {
		t.Fatalf("lenient: exit %d\n%s", code, stderr)
	}
	// Lenient over a log of nothing but bad records decodes nothing: that
	// is a failure, not an empty success.
	allBad := filepath.Join(dir, "allbad.jsonl")
	writeFile(t, allBad, "{not json\n[1,2\n")
	code, _, stderr = kestrel(t, "run", "-rules", exampleRules, "-log", allBad, "-lenient", "-q")
	if code != exitFail || !strings.Contains(stderr, "-lenient: no event decoded from "+allBad) {
		t.Fatalf("lenient, nothing decoded: exit %d\n%s", code, stderr)
	}
	code, _, stderr = kestrel(t, "run", "-rules", exampleRules, "-log", filepath.Join(dir, "missing.jsonl"), "-q")
	if code != exitFail || !strings.Contains(stderr, "missing.jsonl") {
		t.Fatalf("missing log: exit %d\n%s", code, stderr)
	}

	for _, args := range [][]string{
		{}, {"frobnicate"}, {"run"}, {"run", "-rules", exampleRules}, {"run", "-log", exampleLog},
		{"run", "-rules", exampleRules, "-log", exampleLog, "-speed", "-1"},
		{"run", "-rules", exampleRules, "-log", exampleLog, "-partitions", "0"},
		{"run", "-rules", exampleRules, "-log", exampleLog, "extra"},
		{"run", "-nope"}, {"validate"}, {"rules", "a", "b"}, {"schema", "x"},
	} {
		if code, _, _ := kestrel(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, _ := kestrel(t, "help"); code != exitOK || !strings.Contains(out, "kestrel run") {
		t.Fatalf("help: %d %s", code, out)
	}
}

func TestValidateAndRules(t *testing.T) {
	code, stdout, stderr := kestrel(t, "validate", "-strict", exampleRules)
	if code != exitOK || !strings.Contains(stdout, "ok revshell-001 (sequence of 2 events by process.entity_id within 10s)") ||
		!strings.Contains(stdout, "ok credaccess-001 (event rule on file)") || !strings.Contains(stdout, "7 rules valid\n") ||
		strings.Contains(stderr, "unsupported") || strings.Contains(stderr, "ignored") {
		t.Fatalf("validate: %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = kestrel(t, "rules", exampleRules)
	if code != exitOK || !strings.Contains(stdout, "curlpipe-001") || !strings.Contains(stdout, "T1105,T1059.004") ||
		!strings.Contains(stdout, "JOIN KEY") || !strings.Contains(stdout, "process.parent.entity_id  by join key") {
		t.Fatalf("rules: %d\n%s", code, stdout)
	}
	// The unsupported examples: a Lua-only package and a Lua twin beside
	// rule.eql. validate reports both and passes; -strict fails on them.
	unsupported := filepath.Join(filepath.Dir(exampleRules), "unsupported")
	code, stdout, stderr = kestrel(t, "validate", unsupported)
	if code != exitOK || !strings.Contains(stdout, "1 rules valid, 1 unsupported") ||
		!strings.Contains(stderr, "unsupported: "+filepath.Join(unsupported, "lua_example_rule")+": rule lua-example-001: predicate.lua") ||
		!strings.Contains(stderr, "predicate.lua ignored: rule revshell-001") {
		t.Fatalf("validate unsupported: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr = kestrel(t, "validate", "-strict", unsupported); code != exitFail || !strings.Contains(stderr, "-strict: 1 unsupported packages, 1 ignored rule files") {
		t.Fatalf("validate -strict unsupported: %d\n%s", code, stderr)
	}
	if code, stdout, _ = kestrel(t, "rules", unsupported); code != exitOK || !strings.Contains(stdout, "unsupported (Lua: predicate.lua)") {
		t.Fatalf("rules unsupported: %d\n%s", code, stdout)
	}
	// validate points at every broken package.
	dir := t.TempDir()
	for name, eql := range map[string]string{"a": "process where process.pid == \"x\"", "b": "sequence [process where true]"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(p, "manifest.json"), `{"metadata": {"rule_id": "`+name+`", "rule_name": "n", "severity": "low"}}`)
		writeFile(t, filepath.Join(p, "rule.eql"), eql)
	}
	code, _, stderr = kestrel(t, "validate", dir)
	if code != exitFail || !strings.Contains(stderr, filepath.Join(dir, "a", "rule.eql")+":1:30:") ||
		!strings.Contains(stderr, filepath.Join(dir, "b", "rule.eql")+":1:10:") {
		t.Fatalf("validate broken: %d\n%s", code, stderr)
	}
	// A schema file replaces the default one.
	sf := filepath.Join(dir, "schema.json")
	writeFile(t, sf, `{"fields": [{"path": "process.name", "type": "String"}], "event_types": [{"name": "process_exec"}]}`)
	if code, _, stderr := kestrel(t, "validate", "-schema", sf, exampleRules); code != exitFail || !strings.Contains(stderr, "unknown field") {
		t.Fatalf("validate with a small schema: %d\n%s", code, stderr)
	}
	writeFile(t, sf, `{"fields": 5}`)
	if code, _, stderr := kestrel(t, "rules", "-schema", sf, exampleRules); code != exitFail || !strings.Contains(stderr, "schema.json") {
		t.Fatalf("bad schema: %d\n%s", code, stderr)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, stdout, _ := kestrel(t, "schema")
	if code != exitOK {
		t.Fatal(code)
	}
	reg, err := rule.ReadSchema("stdout", strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if reg.NumFields() != rule.DefaultRegistry().NumFields() {
		t.Fatal("schema output does not round-trip")
	}
	// The default schema starts with replay's demo schema, ID for ID, so
	// generated demo logs run through rules unchanged.
	demo := demo.Registry()
	for _, f := range demo.Fields() {
		a, _ := demo.FieldID(f.Path)
		b, ok := reg.FieldID(f.Path)
		if !ok || a != b {
			t.Errorf("%s: demo id %d, default id %d", f.Path, a, b)
		}
	}
	for id := schema.EventTypeID(1); ; id++ {
		name, ok := demo.EventTypeName(id)
		if !ok {
			break
		}
		if got, _ := reg.EventTypeID(name); got != id {
			t.Errorf("event type %s: demo id %d, default id %d", name, id, got)
		}
	}
}

// TestRunOutputsNetwork sends the example's alerts to a webhook, a Splunk
// HEC collector and an Elasticsearch _bulk endpoint (local HTTP servers)
// and a syslog listener, all named in one outputs file.
func TestRunOutputsNetwork(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]string{}
	auth := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.URL.Path] += string(b)
		auth[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			// One "created" item per action line.
			n := strings.Count(string(b), `{"create"`)
			items := strings.TrimSuffix(strings.Repeat(`{"create":{"status":201}},`, n), ",")
			fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, items)
			return
		}
		fmt.Fprint(w, `{"text":"Success","code":0}`)
	}))
	defer srv.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	t.Setenv("KESTREL_TEST_HOOK", "hook-secret")
	t.Setenv("KESTREL_TEST_HEC", "hec-secret")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "outputs.json")
	writeFile(t, cfg, `{"outputs": [
 {"name": "soc", "type": "webhook", "url": "`+srv.URL+`/hook", "bearer_token_env": "KESTREL_TEST_HOOK"},
 {"name": "splunk", "type": "splunk_hec", "url": "`+srv.URL+`/services/collector/event", "token_env": "KESTREL_TEST_HEC"},
 {"name": "es", "type": "elasticsearch", "url": "`+srv.URL+`/es"},
 {"name": "syslog", "type": "syslog", "network": "udp", "address": "`+udp.LocalAddr().String()+`"}]}`)
	code, _, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-outputs", cfg, "-q")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Count(bodies["/hook"], `"alert_id"`); got != 6 || auth["/hook"] != "Bearer hook-secret" {
		t.Errorf("webhook got %d alerts, auth %q", got, auth["/hook"])
	}
	if got := strings.Count(bodies["/services/collector/event"], `"event":`); got != 6 || auth["/services/collector/event"] != "Splunk hec-secret" {
		t.Errorf("HEC got %d events, auth %q", got, auth["/services/collector/event"])
	}
	if got := strings.Count(bodies["/es/_bulk"], `{"create"`); got != 6 {
		t.Errorf("Elasticsearch got %d create actions:\n%s", got, bodies["/es/_bulk"])
	}
	_ = udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, _, err := udp.ReadFrom(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "<") {
		t.Errorf("syslog: %q, %v", buf[:n], err)
	}

	for _, bad := range []string{
		`{"outputs": [{"type": "webhook"}]}`,
		`{"outputs": [{"type": "file", "path": "x", "sync": "sometimes"}]}`,
		`{"outputs": [{"type": "webhook", "url": "http://x", "timeout": "soon"}]}`,
		`{"outputs": [{"type": "splunk_hec", "url": "http://x", "token_env": "KESTREL_TEST_UNSET_VARIABLE"}]}`,
	} {
		writeFile(t, cfg, bad)
		if code, _, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-outputs", cfg, "-q"); code != exitFail ||
			!strings.Contains(stderr, "outputs[0]") {
			t.Errorf("%s: exit %d, %s", bad, code, stderr)
		}
	}
}
