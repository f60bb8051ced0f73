package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	dto "github.com/prometheus/client_model/go"
)

// TestBinarySchemaReload: SIGHUP with -schema reads the schema file again.
// A compatible change (a new field) is applied and the rules recompiled
// (a rule added with it loads); a breaking one (a field removed) is
// refused, naming the rule that tests the field, and the node runs on.
// Every event is still handled.
func TestBinarySchemaReload(t *testing.T) {
	t.Parallel()
	log := pacedLog(t, 6000, 30*time.Second)
	dir := t.TempDir()
	schemaPath := writeSchema(t, dir, "schema.json", func(*schema.File) {})
	rules := filepath.Join(dir, "rules")
	if err := os.CopyFS(filepath.Join(rules, "curl_pipe_shell"), os.DirFS(filepath.Join(exampleRules, "curl_pipe_shell"))); err != nil {
		t.Fatal(err)
	}
	addRule := func(name, eql string) {
		if err := os.MkdirAll(filepath.Join(rules, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(rules, name, "manifest.json"), `{"rule_id": "`+name+`-1", "rule_name": "`+name+`", "severity": "low"}`)
		writeFile(t, filepath.Join(rules, name, "rule.eql"), eql)
	}
	// The schema file numbers fields by position, so only the last can go:
	// a rule reads it, so that removing it is refused and names the rule.
	def := schema.ECSFile()
	last := def.Fields[len(def.Fields)-1].Path
	addRule("outcome", `any where `+last+` != null`)
	p := start(t, "run", "-rules", rules, "-schema", schemaPath, "-log", log, "-speed", "1", "-partitions", "2")
	p.waitReady(t)

	v2 := schema.ECSFile().Version + 1
	writeSchema(t, dir, "schema.json", func(sf *schema.File) {
		sf.Version = v2
		sf.Fields = append(sf.Fields, schema.FileField{Path: "vendor.acme.score", Type: "F64"})
	})
	addRule("score", `process where vendor.acme.score > 0.5`)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitMetric(t, "kestrel_schema_reloads_total", 1)
	// The rules reload after the schema is counted: wait for both, as a
	// scrape between the two may see the new schema with the old rules.
	mf := p.waitMetric(t, "kestrel_rule_reloads_total", 1)
	if v, ok := metricValue(mf, "kestrel_schema_info", "version", strconv.Itoa(int(v2))); !ok || v != 1 {
		t.Fatalf("schema version %d not in /metrics\n%s", v2, p.stderr.String())
	}
	if sum(mf, "kestrel_rule_reloads_total") != 1 || len(mf["kestrel_rule_alerts_total"].GetMetric()) != 3 {
		t.Fatalf("rules not reloaded with the schema\n%s", p.stderr.String())
	}

	writeSchema(t, dir, "schema.json", func(sf *schema.File) {
		sf.Version = v2 + 1
		sf.Fields = slices.DeleteFunc(sf.Fields, func(f schema.FileField) bool { return f.Path == last })
	})
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	mf = p.waitMetric(t, "kestrel_schema_reloads_total", 2)
	if v, _ := metricValue(mf, "kestrel_schema_reloads_total", "result", "refused"); v != 1 {
		t.Fatalf("refusal not counted\n%s", p.stderr.String())
	}
	if code := p.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderr.String())
	}
	se := p.stderr.String()
	for _, want := range []string{
		"schema reload refused, old schema kept",
		"breaking: field removed: " + last,
		"rule outcome-1 references " + last + ": field removed",
		"schema: evolved 1 times (now version " + strconv.Itoa(int(v2)) + "), 1 changes refused",
		"drops: events 0 (bus full), alerts 0",
	} {
		if !strings.Contains(se, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(se)
	}
}

// TestBinaryProfileLabels: a CPU profile taken from /debug/pprof/profile
// of a running node holds samples of the detection workers labelled with
// their partition, which `go tool pprof -tags` lists.
func TestBinaryProfileLabels(t *testing.T) {
	t.Parallel()
	// A CPU profile samples at 100 Hz: at this rate the workers use a few
	// percent of a core, so a 2 s profile holds a handful of their samples
	// and, now and then, none. Take up to four while the log lasts, until
	// one has a labelled sample: the labels are what is tested, not the
	// workers' share of the CPU.
	log := pacedLog(t, 240000, 12*time.Second)
	p := start(t, "run", "-rules", exampleRules, "-log", log, "-speed", "1", "-partitions", "2", "-q")
	p.waitReady(t)
	seen := map[string]int64{}
	samples := 0
	for try := 0; try < 4 && len(seen) == 0; try++ {
		code, body := p.get("/debug/pprof/profile?seconds=2")
		if code != 200 {
			t.Fatalf("profile: %d", code)
		}
		prof, err := profile.Parse(bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		samples += len(prof.Sample)
		for _, s := range prof.Sample {
			for _, v := range s.Label["partition"] {
				seen[v] += s.Value[0]
			}
		}
	}
	if code := p.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderr.String())
	}
	if len(seen) == 0 {
		t.Fatalf("no sample with a partition label among %d in four profiles", samples)
	}
	for v := range seen {
		if v != "0" && v != "1" {
			t.Errorf("partition label %q", v)
		}
	}
}

// metricValue returns the value of the first series of name whose labels
// include the pairs given.
func metricValue(mf map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
next:
	for _, m := range mf[name].GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue(), true
	}
	return 0, false
}

// TestBinaryReadyz: a Kafka node whose brokers are not up yet is alive
// (/healthz 200) but not ready (/readyz 503); once the cluster comes up and
// the group hands it partitions, /readyz turns 200; SIGTERM then stops it
// cleanly.
func TestBinaryReadyz(t *testing.T) {
	t.Parallel()
	brokerAddr := freeAddr(t)
	_, portStr, _ := strings.Cut(brokerAddr, ":")
	port, _ := strconv.Atoi(portStr)
	p := start(t, "run", "-brokers", brokerAddr, "-topic", "events", "-group", "readyz", "-dlq-topic", "-",
		"-rules", exampleRules, "-commit-interval", "50ms")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := p.get("/healthz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never alive\n%s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 5 {
		if code, _ := p.get("/readyz"); code != 503 {
			t.Fatalf("/readyz %d with no broker up\n%s", code, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.AllowAutoTopicCreation(), kfake.SeedTopics(2, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.waitReady(t)
	if code := p.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("exit %d\n%s", code, p.stderr.String())
	}
}

// checkSummary compares a stopped node's summary (printed from
// node.Stats) with the /metrics scraped from it once its input was idle:
// events, records, alerts in all and by rule, outputs' deliveries and
// drops must agree.
func checkSummary(t *testing.T, mf map[string]*dto.MetricFamily, summary string) {
	t.Helper()
	want := func(s string) {
		t.Helper()
		if !strings.Contains(summary, s) {
			t.Errorf("summary lacks %q (from /metrics)\n%s", s, summary)
		}
	}
	n := func(name string) int { return int(sum(mf, name)) }
	want(strconv.Itoa(n("kestrel_detect_events_total")) + " events handled from " + strconv.Itoa(n("kestrel_kafka_records_total")) + " records")
	want("  alerts: " + strconv.Itoa(n("kestrel_rule_alerts_total")) + "\n")
	for _, m := range mf["kestrel_rule_alerts_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "rule" {
				want("    " + l.GetValue() + "  ")
				line := summary[strings.Index(summary, "    "+l.GetValue()+"  "):]
				line = line[:strings.IndexByte(line, '\n')]
				if f := strings.Fields(line); len(f) < 2 || f[1] != strconv.Itoa(int(m.GetCounter().GetValue())) {
					t.Errorf("rule %s: summary %q, /metrics %v", l.GetValue(), line, m.GetCounter().GetValue())
				}
			}
		}
	}
	want("stdout " + strconv.Itoa(n("kestrel_output_delivered_total")) + " delivered")
	want("drops: events " + strconv.Itoa(n("kestrel_bus_dropped_total")+n("kestrel_bus_timed_out_total")) + " (bus full), alerts " +
		strconv.Itoa(n("kestrel_rule_alerts_refused_total")) + " (output refused), " + strconv.Itoa(n("kestrel_sink_unrouted_total")) + " unrouted")
}

// handledEvents reads "N events handled" from a Kafka node's summary.
func handledEvents(t *testing.T, summary string) int {
	t.Helper()
	i := strings.Index(summary, "kestrel run: ")
	if i < 0 {
		t.Fatalf("no summary:\n%s", summary)
	}
	var n int
	if _, err := fmt.Sscanf(summary[i:], "kestrel run: %d events handled", &n); err != nil {
		t.Fatalf("summary: %v\n%s", err, summary)
	}
	return n
}

// TestBinaryKafkaSIGTERMMidway: a node of a consumer group sent SIGTERM
// while it consumes a topic commits exactly what it handled: the next
// member of the group handles the rest, and the two together handle every
// event of the topic once.
func TestBinaryKafkaSIGTERMMidway(t *testing.T) {
	t.Parallel()
	const total = 30000
	c := newCluster(t, 1, 4, "events")
	brokers := strings.Join(c.ListenAddrs(), ",")
	log := filepath.Join(t.TempDir(), "big.kbin")
	writeLog(t, log, demo.GenerateEvents(5, total, rule.DefaultRegistry()))
	if code, _, se := kestrel(t, "forward", "-log", log, "-brokers", brokers, "-topic", "events", "-q"); code != exitOK {
		t.Fatalf("forward: exit %d\n%s", code, se)
	}
	args := []string{"run", "-brokers", brokers, "-topic", "events", "-group", "midway", "-dlq-topic", "-",
		"-rules", exampleRules, "-commit-interval", "50ms", "-partitions", "2", "-queue-size", "256"}
	a := start(t, args...)
	a.waitReady(t)
	a.waitMetric(t, "kestrel_detect_events_total", 500)
	if code := a.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("first member: exit %d\n%s", code, a.stderr.String())
	}
	first := handledEvents(t, a.stderr.String())
	if first == total {
		t.Logf("the first member handled the whole topic before SIGTERM arrived")
	}
	b := start(t, args...)
	b.waitReady(t)
	b.waitMetric(t, "kestrel_detect_events_total", float64(total-first))
	time.Sleep(200 * time.Millisecond) // anything beyond the rest would show now
	if code := b.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("second member: exit %d\n%s", code, b.stderr.String())
	}
	second := handledEvents(t, b.stderr.String())
	t.Logf("first member %d events, second %d", first, second)
	if first+second != total {
		t.Fatalf("%d + %d events handled, want %d once each\nfirst:\n%s\nsecond:\n%s", first, second, total, a.stderr.String(), b.stderr.String())
	}
}
