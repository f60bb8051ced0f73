package sink

// This file uses unsafe to build alerts whose strings live in a byte
// buffer the test overwrites when the alert is recycled, as a producer's
// slab does (detect's alertSlab): a destination that read an alert after
// its release would read the poison.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// poisonAlert is an alert with the memory its fields reference.
type poisonAlert struct {
	a      Alert
	buf    []byte
	ids    [2]uint64
	fields [2]AlertField
}

// poisoner builds alerts and, when one comes back, overwrites it and
// every byte it referenced.
type poisoner struct {
	mu       sync.Mutex
	recycled map[*Alert]bool
	errs     []string
}

func (p *poisoner) alert(i int, rule string, entity uint64) *poisonAlert {
	pa := &poisonAlert{}
	pa.ids = [2]uint64{uint64(2 * i), uint64(2*i + 1)}
	pa.buf = make([]byte, 0, 256)
	str := func(s string) string {
		start := len(pa.buf)
		pa.buf = append(pa.buf, s...)
		return unsafe.String(&pa.buf[start], len(s))
	}
	pa.fields = [2]AlertField{
		{Path: "process.command_line", Value: value.StringValue(str("curl http://x | sh -c " + strconv.Itoa(i)))},
		{Path: "process.pid", Value: value.I64Value(int64(1000 + i))},
	}
	pa.a = Alert{
		ID:       str(NewAlertID(rule, pa.ids[:])),
		RuleID:   rule,
		RuleName: "Download piped into a shell",
		Severity: schema.SeverityHigh,
		Tags:     []string{"execution"},
		TsMono:   schema.TimestampMono(1_000_000_000 + i),
		TsWall:   schema.TimestampWall(1_767_225_600_000_000_000 + int64(i)*1000),
		Entity:   schema.EntityKeyFrom64(entity),
		EventIDs: pa.ids[:],
		Message:  str("curl piped into bash, pid " + strconv.Itoa(1000+i)),
		Fields:   pa.fields[:],
	}
	pa.a.SetRecycler(p)
	return pa
}

// Recycle poisons a: its fields, and the bytes and ids its strings and
// slices point to. These are plain writes, so under -race any read of a
// that does not happen before its release is reported.
func (p *poisoner) Recycle(a *Alert) {
	pa := (*poisonAlert)(unsafe.Pointer(a))
	p.mu.Lock()
	if p.recycled[a] {
		p.errs = append(p.errs, "recycled twice: "+strconv.Itoa(int(pa.ids[0])))
	}
	p.recycled[a] = true
	p.mu.Unlock()
	for i := range pa.buf {
		pa.buf[i] = 'X'
	}
	pa.ids = [2]uint64{0xdead, 0xdead}
	pa.fields[1].Value = value.StringValue("POISON")
	a.ID, a.RuleName, a.Message, a.Tags = "POISON", "POISON", "POISON", []string{"POISON"}
	a.Severity, a.Entity = schema.SeverityLow, schema.EntityKeyFrom64(0xdead)
}

// checkDest is a Destination that checks every alert it is given is one
// of the expected ones, unpoisoned, and fails some items with a
// PartialError (retried or rejected) on its first attempt at a batch.
type checkDest struct {
	name  string
	want  map[string]bool // expected JSON lines
	mu    sync.Mutex
	bad   []string
	calls int
}

func (d *checkDest) Name() string { return d.name }
func (d *checkDest) Close() error { return nil }
func (d *checkDest) Send(_ context.Context, batch []*Alert) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range batch {
		if j := string(a.AppendJSON(nil)); !d.want[j] {
			d.bad = append(d.bad, j)
		}
	}
	d.calls++
	if d.calls%2 == 1 && len(batch) > 2 {
		return &PartialError{Retry: []int{0}, Rejected: []Rejection{{Index: 1, Reason: "test"}}}
	}
	return nil
}

// tcpCollector reads a whole TCP stream into a buffer and closes the
// connection at EOF (syslog's Close waits for that).
func tcpCollector(t *testing.T) (addr string, out *lockedBuffer) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out = &lockedBuffer{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(out, bufio.NewReader(c))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), out
}

// TestRecyclePoisoned runs alerts with a Recycler through every
// destination of the package at once (shared alerts), with dedup
// suppressing some, a route narrowing others, a destination that fails
// items and retries them, and one whose queue overflows; the Recycler
// poisons each alert it gets back. Every destination must still write
// exactly the alerts as they were, each alert must come back exactly
// once, and -race must see no read of an alert after its release.
func TestRecyclePoisoned(t *testing.T) {
	p := &poisoner{recycled: map[*Alert]bool{}}
	const n = 400
	var alerts []*poisonAlert
	want := map[string]bool{}    // every alert's JSON, as emitted
	passing := map[string]bool{} // those dedup lets through
	narrow := map[string]bool{}  // rule "narrow": to writer and file only
	for i := range n {
		base := i
		if i%10 == 9 {
			base = i - 1 // a repeat of the alert before, within the window: suppressed
		}
		rule, entity := "wide", uint64(base)
		if base%7 == 0 {
			rule = "narrow"
		}
		pa := p.alert(i, rule, entity)
		alerts = append(alerts, pa)
		j := string(pa.a.AppendJSON(nil))
		want[j] = true
		if i%10 != 9 {
			passing[j] = true
			if rule == "narrow" {
				narrow[j] = true
			}
		}
	}

	var lw lockedBuffer
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	file, err := NewFileDestination(FileConfig{Name: "file", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	bulkItems := func(body []byte) string {
		k := bytes.Count(body, []byte("\n")) / 2
		items := make([]string, k)
		for i := range items {
			items[i] = `{"create":{"status":201}}`
		}
		return `{"errors":false,"items":[` + strings.Join(items, ",") + `]}`
	}
	web := newRecorder(t, nil, nil)
	hec := newRecorder(t, nil, func(int, []byte) (int, string, string) { return http.StatusOK, "", `{"code":0}` })
	es := newRecorder(t, nil, func(_ int, body []byte) (int, string, string) { return http.StatusOK, "", bulkItems(body) })
	hook, err := NewWebhookDestination(WebhookConfig{HTTPConfig: HTTPConfig{URL: web.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	hecd, err := NewHECDestination(HECConfig{HTTPConfig: HTTPConfig{URL: hec.srv.URL}, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	esd, err := NewElasticsearchDestination(ElasticsearchConfig{HTTPConfig: HTTPConfig{URL: es.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	addr, syslogOut := tcpCollector(t)
	sys, err := NewSyslogDestination(SyslogConfig{Network: "tcp", Address: addr, Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	check := &checkDest{name: "check", want: want}
	slow := &checkDest{name: "slow", want: want}
	batch := BatchConfig{MaxCount: 16}
	o, err := New(Config{
		Destinations: []DestinationConfig{
			{Dest: NewWriterDestination("writer", &lw), Batch: batch},
			{Dest: file, Batch: batch},
			{Dest: hook, Batch: batch},
			{Dest: hecd, Batch: batch},
			{Dest: esd, Batch: batch},
			{Dest: sys, Batch: batch},
			{Dest: check, Batch: batch, Retry: fastRetry},
			{Dest: slow, Queue: 2, Batch: BatchConfig{MaxCount: 1}},
		},
		Routes:  []Route{{RuleID: "narrow", Destinations: []string{"writer", "file"}}},
		Default: []string{"writer", "file", "webhook", "splunk-hec", "elasticsearch", "syslog", "check", "slow"},
		Dedup:   DedupConfig{Window: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pa := range alerts {
		if err := o.Emit(&pa.a); err != nil {
			t.Fatal(err)
		}
	}
	// The bound only turns a hang into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := o.Close(ctx); err != nil && !errors.Is(err, ErrUndelivered) || ctx.Err() != nil {
		t.Fatal(err)
	}
	<-o.Done()
	s := o.Stats()
	checkSettled(t, s)

	p.mu.Lock()
	if len(p.recycled) != n || len(p.errs) > 0 {
		t.Errorf("%d of %d alerts recycled; %v", len(p.recycled), n, p.errs)
	}
	p.mu.Unlock()
	for _, d := range []*checkDest{check, slow} {
		if len(d.bad) > 0 {
			t.Errorf("%s was given %d alerts not as emitted, first %s", d.name, len(d.bad), d.bad[0])
		}
	}
	if s.Destinations[7].Dropped == 0 {
		t.Log("the slow destination dropped nothing this run")
	}

	fileBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bodies := func(r *recorder) string {
		var b strings.Builder
		for _, q := range r.requests() {
			b.Write(q.body)
			b.WriteByte('\n')
		}
		return b.String()
	}
	outputs := map[string]string{
		"writer": lw.String(), "file": string(fileBytes), "webhook": bodies(web),
		"splunk-hec": bodies(hec), "elasticsearch": bodies(es), "syslog": syslogOut.String(),
	}
	for name, out := range outputs {
		got := 0
		for j := range passing {
			c := strings.Count(out, j)
			routed := name == "writer" || name == "file" || !narrow[j]
			switch {
			case routed && c != 1:
				t.Errorf("%s: alert written %d times, want once: %s", name, c, j)
			case !routed && c != 0:
				t.Errorf("%s: narrow alert written: %s", name, j)
			}
			got += c
		}
		if strings.Contains(out, "POISON") || strings.Contains(out, "XXXX") {
			t.Errorf("%s: output holds poison", name)
		}
		if name == "writer" || name == "file" {
			if lines := strings.Count(out, "\n"); lines != got {
				t.Errorf("%s: %d lines, %d expected alerts among them", name, lines, got)
			}
		}
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "recycled %d, slow dropped %d\n", len(p.recycled), s.Destinations[7].Dropped)
	}
}
