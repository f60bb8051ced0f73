package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// An alert as a detection raises it: the id is a hash of the rule and the
// triggering events, the same in every run.
func newAlert(pid int64, eventIDs ...uint64) *sink.Alert {
	return &sink.Alert{
		ID:       sink.NewAlertID("curl-pipe-shell", eventIDs),
		RuleID:   "curl-pipe-shell",
		RuleName: "Download piped into a shell",
		Severity: schema.SeverityHigh,
		Tags:     []string{"execution"},
		TsWall:   1_767_225_600_000_000_000,
		Entity:   schema.EntityKeyFrom64(42),
		EventIDs: eventIDs,
		Message:  "curl piped into bash",
		Fields:   []sink.AlertField{{Path: "process.pid", Value: value.I64Value(pid)}},
	}
}

// Alerts to stdout as JSON lines and to a webhook in batches, with
// repeats of the same rule on the same process suppressed for five
// minutes.
func Example() {
	// A stand-in for the team's alert receiver.
	var (
		mu       sync.Mutex
		received []sink.Alert
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []sink.Alert
		_ = json.NewDecoder(r.Body).Decode(&batch)
		mu.Lock()
		received = append(received, batch...)
		mu.Unlock()
	}))
	defer srv.Close()

	hook, err := sink.NewWebhookDestination(sink.WebhookConfig{
		Name:       "soc",
		HTTPConfig: sink.HTTPConfig{URL: srv.URL, Timeout: 5 * time.Second},
		// BearerTokenEnv: "SOC_WEBHOOK_TOKEN", TLS: sink.TLSConfig{CAFile: "soc-ca.pem"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.New()
	clk.SetMock(0) // deterministic dedup windows for the example
	out, err := sink.New(sink.Config{
		Destinations: []sink.DestinationConfig{
			{Dest: sink.NewWriterDestination("stdout", os.Stdout)},
			{Dest: hook, Batch: sink.BatchConfig{MaxCount: 100, MaxWait: time.Second},
				Retry: sink.RetryConfig{MaxAttempts: 5}},
		},
		Dedup: sink.DedupConfig{Window: 5 * time.Minute, Fields: []string{"process.pid"}},
		Clock: clk,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = out.Emit(newAlert(4242, 1, 2))
	_ = out.Emit(newAlert(4242, 3, 4)) // same rule, entity and pid: suppressed
	if err := out.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	s := out.Stats()
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("suppressed %d; webhook received %d alert(s), %s\n", s.Suppressed, len(received), received[0].ID)
	// Output:
	// {"alert_id":"7642d0ea7f0508e4e99fe17f8511019c","rule_id":"curl-pipe-shell","rule_name":"Download piped into a shell","severity":"high","tags":["execution"],"ts_mono_ns":0,"ts_wall_ns":1767225600000000000,"time":"2026-01-01T00:00:00.000000000Z","entity_key":42,"event_ids":[1,2],"message":"curl piped into bash","fields":{"process.pid":{"I64":4242}}}
	// suppressed 1; webhook received 1 alert(s), 7642d0ea7f0508e4e99fe17f8511019c
}

// Routing: critical alerts page and go on to the other routes; network
// rules go to the SIEM; alerts no route matched go to the archive.
func ExampleRoute() {
	pager := sink.NewWriterDestination("pager", io.Discard)
	siem := sink.NewWriterDestination("siem", io.Discard)
	archive := sink.NewWriterDestination("archive", io.Discard)
	out, err := sink.New(sink.Config{
		Destinations: []sink.DestinationConfig{{Dest: pager}, {Dest: siem}, {Dest: archive}},
		Routes: []sink.Route{
			{MinSeverity: schema.SeverityCritical, Destinations: []string{"pager"}, Continue: true},
			{RuleID: "net-*", Destinations: []string{"siem"}},
		},
		Default: []string{"archive"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = out.Emit(&sink.Alert{RuleID: "net-beacon", Severity: schema.SeverityCritical})
	_ = out.Emit(&sink.Alert{RuleID: "net-scan", Severity: schema.SeverityLow})
	_ = out.Emit(&sink.Alert{RuleID: "cron-edit", Severity: schema.SeverityCritical}) // matched: no default
	_ = out.Emit(&sink.Alert{RuleID: "cron-edit", Severity: schema.SeverityLow})
	_ = out.Close(context.Background())
	for _, d := range out.Stats().Destinations {
		fmt.Println(d.Name, d.Delivered)
	}
	// Output:
	// pager 2
	// siem 2
	// archive 1
}

// Stats balance: per destination, emitted = delivered + rejected +
// dropped + queued.
func ExampleOutput_Stats() {
	out, _ := sink.New(sink.Config{Destinations: []sink.DestinationConfig{
		{Dest: sink.NewWriterDestination("discard", io.Discard)},
	}})
	for i := range 3 {
		_ = out.Emit(newAlert(1, uint64(i)))
	}
	_ = out.Close(context.Background())
	s := out.Stats()
	d := s.Destinations[0]
	fmt.Printf("emitted %d: %s emitted %d, delivered %d, rejected %d, dropped %d, queued %d\n",
		s.Emitted, d.Name, d.Emitted, d.Delivered, d.Rejected, d.Dropped, d.Queued)
	// Output:
	// emitted 3: discard emitted 3, delivered 3, rejected 0, dropped 0, queued 0
}

// A file of JSON lines, rotated at 10 MB with 3 backups, fsynced every
// batch.
func ExampleNewFileDestination() {
	dir, _ := os.MkdirTemp("", "kestrel-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "alerts.jsonl")
	f, err := sink.NewFileDestination(sink.FileConfig{Path: path, MaxBytes: 10 << 20, MaxBackups: 3, Sync: sink.SyncAlways})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := sink.New(sink.Config{Destinations: []sink.DestinationConfig{{Dest: f}}})
	_ = out.Emit(newAlert(7, 9))
	_ = out.Close(context.Background()) // closes the file too
	st, _ := os.Stat(path)
	fmt.Println(st.Mode().Perm(), st.Size() > 0)
	// Output:
	// -rw------- true
}

// Splunk's HTTP Event Collector, with the token from the environment and
// the collector's certificate checked against a private CA.
func ExampleNewHECDestination() {
	_, err := sink.NewHECDestination(sink.HECConfig{
		HTTPConfig: sink.HTTPConfig{URL: "https://splunk.example:8088", TLS: sink.TLSConfig{CAFile: "/etc/kestrel/splunk-ca.pem"}},
		TokenEnv:   "SPLUNK_HEC_TOKEN",
		Index:      "security",
		SourceType: "kestrel:alert",
	})
	fmt.Println(err != nil) // no such CA file or token here
	// Output: true
}

// Elasticsearch's _bulk API with an API key and mutual TLS.
func ExampleNewElasticsearchDestination() {
	es, err := sink.NewElasticsearchDestination(sink.ElasticsearchConfig{
		HTTPConfig: sink.HTTPConfig{URL: "https://es.example:9200"},
		Index:      "kestrel-alerts",
		APIKey:     "base64-id-colon-key", // or APIKeyEnv
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer es.Close()
	fmt.Println(es.Name())
	// Output: elasticsearch
}

// RFC 5424 syslog over TCP with octet counting.
func ExampleNewSyslogDestination() {
	s, err := sink.NewSyslogDestination(sink.SyslogConfig{Network: "tcp", Address: "siem.example:6514", Facility: "authpriv"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close() // it dials on the first Send, so nothing is open yet
	fmt.Println(s.Name())
	// Output: syslog
}

// freeList is a Recycler: alerts the Output is done with come back to it,
// and the producer builds its next alerts in them.
type freeList struct {
	ch   chan *sink.Alert
	back atomic.Int64 // alerts handed back, for the example's output
}

func (f *freeList) Recycle(a *sink.Alert) {
	f.back.Add(1)
	select {
	case f.ch <- a:
	default: // full: leave a to the garbage collector
	}
}

// get returns a recycled alert, or a new one.
func (f *freeList) get() *sink.Alert {
	select {
	case a := <-f.ch:
		return a
	default:
		return new(sink.Alert)
	}
}

// A producer that reuses its alerts sets a Recycler on each; the Output
// hands each alert back once every destination is done with it.
func ExampleRecycler() {
	out, err := sink.New(sink.Config{Destinations: []sink.DestinationConfig{
		{Dest: sink.NewWriterDestination("discard", io.Discard)},
	}})
	if err != nil {
		panic(err)
	}
	free := &freeList{ch: make(chan *sink.Alert, 64)}
	for i := range 3 {
		a := free.get()
		ids := append(a.EventIDs[:0], uint64(i)) // reuse the memory of a recycled alert
		*a = sink.Alert{ID: sink.NewAlertID("demo", ids), RuleID: "demo", EventIDs: ids, Message: "reused"}
		a.SetRecycler(free) // after the assignment, which clears it
		if err := out.Emit(a); err != nil {
			a.Release() // not taken: still ours
		}
	}
	if err := out.Close(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(free.back.Load(), "alerts back") // Close waits until every destination is done
	// Output: 3 alerts back
}
