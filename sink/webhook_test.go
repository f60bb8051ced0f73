package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type recorded struct {
	path, query string
	header      http.Header
	body        []byte
}

// recorder is a local HTTP server that records every request and answers
// what reply says (status, body; Retry-After set when retryAfter != "").
type recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []recorded
	reply func(n int, body []byte) (status int, retryAfter, resp string)
}

func newRecorder(t *testing.T, tc *tls.Config, reply func(n int, body []byte) (int, string, string)) *recorder {
	t.Helper()
	r := &recorder{reply: reply}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs = append(r.reqs, recorded{req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
		r.mu.Unlock()
		status, after, resp := http.StatusOK, "", ""
		if r.reply != nil {
			status, after, resp = r.reply(n, body)
		}
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
	}))
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake failures are expected in some tests
	if tc != nil {
		r.srv.TLS = tc
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// webhookIDs decodes a webhook body and returns its alert ids.
func webhookIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var alerts []Alert
	if err := json.Unmarshal(body, &alerts); err != nil {
		t.Fatalf("body is not a JSON array of alerts: %v\n%s", err, body)
	}
	ids := make([]string, len(alerts))
	for i := range alerts {
		ids[i] = alerts[i].ID
	}
	return ids
}

func newWebhook(t *testing.T, cfg WebhookConfig) *WebhookDestination {
	t.Helper()
	d, err := NewWebhookDestination(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWebhookBatchesAndHeaders(t *testing.T) {
	rec := newRecorder(t, nil, nil)
	t.Setenv("KESTREL_TEST_TOKEN", "s3cret")
	d := newWebhook(t, WebhookConfig{Name: "hook", HTTPConfig: HTTPConfig{URL: rec.srv.URL + "/alerts",
		Headers: map[string]string{"X-Tenant": "blue", "Content-Type": "text/plain"}}, BearerTokenEnv: "KESTREL_TEST_TOKEN"})
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Batch: BatchConfig{MaxCount: 10, MaxWait: time.Hour}}}})
	const n = 25
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	var sizes []int
	var ids []string
	for _, r := range reqs {
		got := webhookIDs(t, r.body)
		sizes = append(sizes, len(got))
		ids = append(ids, got...)
		if r.path != "/alerts" || r.header.Get("Authorization") != "Bearer s3cret" ||
			r.header.Get("X-Tenant") != "blue" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %v", r.path, r.header)
		}
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("batch sizes %v, want [10 10 5]", sizes)
	}
	for i := range n {
		if ids[i] != testAlert(i).ID {
			t.Fatalf("alert %d missing or out of order", i)
		}
	}
	if s := o.Stats().Destinations[0]; s.Delivered != n || s.Name != "hook" {
		t.Errorf("stats %+v", s)
	}
}

// TestWebhookMaxBodyBytes: bodies are split to fit exactly, and an alert
// that cannot fit alone is rejected, not retried.
func TestWebhookMaxBodyBytes(t *testing.T) {
	rec := newRecorder(t, nil, nil)
	one := len(testAlert(6).AppendJSON(nil)) // the longest of the batch
	limit := 3*one + 4                       // "[" + 3 alerts + 2 commas + "]"
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL, MaxBodyBytes: limit}})
	defer d.Close()
	var batch []*Alert
	for i := range 7 {
		batch = append(batch, testAlert(i))
	}
	big := testAlert(100)
	big.Message = strings.Repeat("x", limit)
	batch = append(batch[:4], append([]*Alert{big}, batch[4:]...)...) // big at index 4
	err := d.Send(context.Background(), batch)
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Retry) != 0 || len(pe.Rejected) != 1 || pe.Rejected[0].Index != 4 {
		t.Fatalf("Send = %v", err)
	}
	var sizes []int
	for _, r := range rec.requests() {
		if len(r.body) > limit {
			t.Errorf("body of %d bytes over the %d limit", len(r.body), limit)
		}
		sizes = append(sizes, len(webhookIDs(t, r.body)))
	}
	if !slices.Equal(sizes, []int{3, 1, 3}) {
		t.Errorf("request sizes %v, want [3 1 3]", sizes)
	}
	// Alone, the oversized alert is a permanent rejection.
	if err := d.Send(context.Background(), []*Alert{big}); !IsPermanent(err) {
		t.Errorf("Send(big) = %v", err)
	}
}

// TestWebhookRecoversAfter500: a server failing for a while loses nothing
// that fitted in the queue, and nothing is rejected.
func TestWebhookRecoversAfter500(t *testing.T) {
	rec := newRecorder(t, nil, func(n int, _ []byte) (int, string, string) {
		if n < 6 {
			return http.StatusInternalServerError, "", "overloaded"
		}
		return http.StatusOK, "", ""
	})
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}})
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Queue: 200, Retry: fastRetry}}})
	const n = 100
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	delivered := map[string]bool{}
	for k, r := range rec.requests() {
		if k >= 6 {
			for _, id := range webhookIDs(t, r.body) {
				delivered[id] = true
			}
		}
	}
	for i := range n {
		if !delivered[testAlert(i).ID] {
			t.Fatalf("alert %d lost", i)
		}
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != n || s.Dropped != 0 || s.Rejected != 0 || s.Retried == 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestWebhook4xxNotRetried(t *testing.T) {
	rec := newRecorder(t, nil, func(int, []byte) (int, string, string) {
		return http.StatusBadRequest, "", `{"error":"schema"}`
	})
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}})
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Retry: fastRetry, Batch: BatchConfig{MaxCount: 1}}}})
	for i := range 3 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.requests()); got != 3 {
		t.Errorf("%d requests, want 3 (no retries)", got)
	}
	if s := o.Stats().Destinations[0]; s.Rejected != 3 || s.Retried != 0 {
		t.Errorf("stats %+v", s)
	}
	err := d.Send(context.Background(), []*Alert{testAlert(0)})
	var pe *PermanentError
	if !errors.As(err, &pe) || pe.Reason != "HTTP 400" || !strings.Contains(err.Error(), "schema") {
		t.Errorf("Send = %v", err)
	}
}

func TestWebhook429RetryAfter(t *testing.T) {
	rec := newRecorder(t, nil, func(n int, _ []byte) (int, string, string) {
		if n == 0 {
			return http.StatusTooManyRequests, "0", "slow down"
		}
		return http.StatusNoContent, "", ""
	})
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}})
	defer d.Close()
	err := d.Send(context.Background(), []*Alert{testAlert(0)})
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.After != 0 || IsPermanent(err) {
		t.Fatalf("Send = %v", err)
	}
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err != nil {
		t.Fatal(err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(in string, want time.Duration, wantOK bool) {
		t.Helper()
		got, ok := parseRetryAfter(in, now)
		if got != want || ok != wantOK {
			t.Errorf("%q: %v %v, want %v %v", in, got, ok, want, wantOK)
		}
	}
	f("", 0, false)
	f("3", 3*time.Second, true)
	f("-1", 0, false)
	f("soon", 0, false)
	f("Thu, 01 Jan 2026 00:00:10 GMT", 10*time.Second, true)
	f("Wed, 31 Dec 2025 00:00:00 GMT", 0, true)
}

func TestWebhookNetworkErrorIsTransient(t *testing.T) {
	rec := newRecorder(t, nil, nil)
	url := rec.srv.URL
	rec.srv.Close()
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: url, Timeout: time.Second}})
	defer d.Close()
	err := d.Send(context.Background(), []*Alert{testAlert(0), testAlert(1)})
	var pe *PartialError
	if err == nil || IsPermanent(err) || errors.As(err, &pe) {
		t.Errorf("Send to a closed server = %v, want a plain transient error", err)
	}
}

func TestWebhookRedirectRejected(t *testing.T) {
	rec := newRecorder(t, nil, func(int, []byte) (int, string, string) { return http.StatusFound, "", "" })
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}})
	defer d.Close()
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); !IsPermanent(err) {
		t.Errorf("Send = %v", err)
	}
}

func TestWebhookTLS(t *testing.T) {
	pki := newTestPKI(t)
	rec := newRecorder(t, pki.serverTLS(false), nil)
	send := func(tc TLSConfig) error {
		d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL, TLS: tc, Timeout: 5 * time.Second}})
		defer d.Close()
		return d.Send(context.Background(), []*Alert{testAlert(0)})
	}
	if err := send(TLSConfig{CAPEM: pki.caPEM}); err != nil {
		t.Errorf("with the CA: %v", err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := send(TLSConfig{CAFile: caFile}); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	// Verification is on by default: the system roots do not know our CA.
	// Retrying cannot fix a certificate: the failure is permanent.
	err := send(TLSConfig{})
	if !IsPermanent(err) {
		t.Errorf("without the CA: %v, want a permanent verification error", err)
	}
	if err := send(TLSConfig{InsecureSkipVerify: true}); err != nil {
		t.Errorf("verification off: %v", err)
	}
	if err := send(TLSConfig{CAPEM: pki.caPEM, ServerName: "elsewhere.example"}); !IsPermanent(err) {
		t.Errorf("wrong ServerName: %v, want a permanent error", err)
	}
}

func TestWebhookMTLS(t *testing.T) {
	pki := newTestPKI(t)
	rec := newRecorder(t, pki.serverTLS(true), nil)
	send := func(tc TLSConfig) error {
		d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL, TLS: tc, Timeout: 5 * time.Second}})
		defer d.Close()
		return d.Send(context.Background(), []*Alert{testAlert(0)})
	}
	if err := send(TLSConfig{CAPEM: pki.caPEM, CertPEM: pki.clientPEM, KeyPEM: pki.clientKey}); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(cf, pki.clientPEM, 0o600)
	_ = os.WriteFile(kf, pki.clientKey, 0o600)
	if err := send(TLSConfig{CAPEM: pki.caPEM, CertFile: cf, KeyFile: kf}); err != nil {
		t.Errorf("with client certificate files: %v", err)
	}
	if err := send(TLSConfig{CAPEM: pki.caPEM}); !IsPermanent(err) {
		t.Errorf("without a client certificate: %v, want a permanent error", err)
	}
	if got := len(rec.requests()); got != 2 {
		t.Errorf("%d requests reached the handler, want 2", got)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	pki := newTestPKI(t)
	for name, c := range map[string]TLSConfig{
		"bad CA":       {CAPEM: []byte("not pem")},
		"missing CA":   {CAFile: filepath.Join(t.TempDir(), "none.pem")},
		"cert, no key": {CertPEM: pki.clientPEM},
		"key, no cert": {KeyPEM: pki.clientKey},
		"mismatched":   {CertPEM: pki.clientPEM, KeyPEM: pki.caPEM},
		"missing cert": {CertFile: "/nonexistent/c.pem", KeyPEM: pki.clientKey},
	} {
		if _, err := c.Build(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := NewWebhookDestination(WebhookConfig{HTTPConfig: HTTPConfig{URL: "https://x", TLS: c}}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: webhook: %v", name, err)
		}
	}
}

func TestWebhookConfigErrors(t *testing.T) {
	t.Setenv("KESTREL_EMPTY", "")
	for name, c := range map[string]WebhookConfig{
		"no URL":     {},
		"bad scheme": {HTTPConfig: HTTPConfig{URL: "ftp://x"}},
		"no host":    {HTTPConfig: HTTPConfig{URL: "http://"}},
		"bad URL":    {HTTPConfig: HTTPConfig{URL: "http://a b/%"}},
		"timeout":    {HTTPConfig: HTTPConfig{URL: "http://x", Timeout: -1}},
		"max body":   {HTTPConfig: HTTPConfig{URL: "http://x", MaxBodyBytes: -1}},
		"header":     {HTTPConfig: HTTPConfig{URL: "http://x", Headers: map[string]string{"a b": "c"}}},
		"header (":   {HTTPConfig: HTTPConfig{URL: "http://x", Headers: map[string]string{"X-Bad(": "c"}}},
		"header é":   {HTTPConfig: HTTPConfig{URL: "http://x", Headers: map[string]string{"X-\u00e9": "c"}}},
		"empty env":  {HTTPConfig: HTTPConfig{URL: "http://x"}, BearerTokenEnv: "KESTREL_EMPTY"},
		"unset env":  {HTTPConfig: HTTPConfig{URL: "http://x"}, BearerTokenEnv: "KESTREL_SURELY_UNSET_VARIABLE"},
	} {
		if _, err := NewWebhookDestination(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	t.Setenv("KESTREL_CRLF", "tok\r\nX-Evil: 1")
	t.Setenv("KESTREL_SPACED", " tok\n")
	for name, c := range map[string]WebhookConfig{
		"header value": {HTTPConfig: HTTPConfig{URL: "http://x", Headers: map[string]string{"X-A": "a\r\nX-B: b"}}},
		"token":        {HTTPConfig: HTTPConfig{URL: "http://x"}, BearerTokenEnv: "KESTREL_CRLF"},
	} {
		if _, err := NewWebhookDestination(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A trailing newline from a secrets file is trimmed.
	if _, err := NewWebhookDestination(WebhookConfig{HTTPConfig: HTTPConfig{URL: "http://x"}, BearerTokenEnv: "KESTREL_SPACED"}); err != nil {
		t.Error(err)
	}
}

// TestCertificateFailureRejectedOnce: through an Output, a certificate the
// client cannot verify rejects the batch at once (no retries), and the
// reason is logged once however many batches fail.
func TestCertificateFailureRejectedOnce(t *testing.T) {
	pki := newTestPKI(t)
	rec := newRecorder(t, pki.serverTLS(false), nil)
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL, Timeout: 5 * time.Second}})
	var logBuf lockedBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	o := newOutput(t, Config{Logger: log, Destinations: []DestinationConfig{{Dest: d, Retry: fastRetry, Batch: BatchConfig{MaxCount: 1}}}})
	for i := range 3 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Rejected != 3 || s.Retried != 0 || s.Dropped != 0 || s.Delivered != 0 {
		t.Errorf("stats %+v, want 3 rejected without a retry", s)
	}
	if n := strings.Count(logBuf.String(), "certificate"); n == 0 || strings.Count(logBuf.String(), "rejected") != 1 {
		t.Errorf("want the certificate reason logged once:\n%s", logBuf.String())
	}
}

// TestURLSecretsRedacted: the password of a user:pass@ URL appears in no
// config error, no %v of a destination and no Send error.
func TestURLSecretsRedacted(t *testing.T) {
	const pw = "hunter2"
	for name, u := range map[string]string{
		"scheme":   "ftp://u:" + pw + "@x",
		"no host":  "http://u:" + pw + "@",
		"bad URL":  "http://u:" + pw + "@a b/%",
		"port":     "http://u:" + pw + "@x:70000",
		"port 0":   "http://u:" + pw + "@x:0",
		"bad port": "http://u:" + pw + "@x:12ab",
	} {
		_, err := NewWebhookDestination(WebhookConfig{HTTPConfig: HTTPConfig{URL: u}})
		if !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), pw) {
			t.Errorf("%s: %v", name, err)
		}
	}
	es, err := NewElasticsearchDestination(ElasticsearchConfig{HTTPConfig: HTTPConfig{URL: "http://u:" + pw + "@127.0.0.1:1/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	wh := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: "http://u:" + pw + "@127.0.0.1:1/"}})
	defer wh.Close()
	hec, err := NewHECDestination(HECConfig{HTTPConfig: HTTPConfig{URL: "http://u:" + pw + "@127.0.0.1:1/"}, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer hec.Close()
	for _, d := range []Destination{es, wh, hec} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, d); strings.Contains(s, pw) || !strings.Contains(s, "127.0.0.1") {
				t.Errorf("%s %s: %s", d.Name(), verb, s)
			}
		}
		if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("%s Send: %v", d.Name(), err)
		}
	}
}

func TestSyslogPortRange(t *testing.T) {
	for _, a := range []string{"h:70000", "h:0", "h:-1"} {
		if _, err := NewSyslogDestination(SyslogConfig{Address: a}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", a, err)
		}
	}
}

// TestDefaultsRideOutOutage: the defaults hold a 60 s outage at 10k
// alerts/s, plus the one backoff step recovery may take, without a drop
// (the figures sink's doc states).
func TestDefaultsRideOutOutage(t *testing.T) {
	const rate = 10_000
	if DefaultRetryMax > time.Second {
		t.Errorf("DefaultRetryMax %v: recovery may lag the endpoint by that much", DefaultRetryMax)
	}
	if need := rate * (60*time.Second + DefaultRetryMax) / time.Second; DefaultDestQueue < int(need) {
		t.Errorf("DefaultDestQueue %d < %d alerts of a 60 s outage at %d/s", DefaultDestQueue, need, rate)
	}
}

// TestWebhookOutageLosesNothing: an endpoint that answers 500 for a while
// (300 ms, scaled down from a minute) then recovers. With the default
// queue nothing is dropped, the first request after recovery comes within
// one backoff step, and the backlog drains.
func TestWebhookOutageLosesNothing(t *testing.T) {
	var (
		mu        sync.Mutex
		down      = true
		upAt      time.Time
		firstOK   time.Time
		got       = map[string]bool{}
		failedAft int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if firstOK.IsZero() {
			firstOK = time.Now()
		}
		// Pick the ids out without decoding whole alerts (slow under -race).
		if !bytes.HasPrefix(body, []byte("[")) {
			failedAft++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		const key = `"alert_id":"`
		for rest := string(body); ; {
			i := strings.Index(rest, key)
			if i < 0 || len(rest) < i+len(key)+32 {
				break
			}
			rest = rest[i+len(key):]
			got[rest[:32]] = true
		}
	}))
	defer srv.Close()
	d := newWebhook(t, WebhookConfig{HTTPConfig: HTTPConfig{URL: srv.URL}})
	retry := RetryConfig{Initial: time.Millisecond, Max: 20 * time.Millisecond}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Retry: retry}}})
	const during, after = 3000, 2000 // more than the old default queue (1024) in the outage
	emit := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for o.Emit(testAlert(i)) != nil {
				time.Sleep(50 * time.Microsecond) // the emit ring is full: wait for the dispatcher
			}
		}
	}
	emit(0, during)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	down, upAt = false, time.Now()
	mu.Unlock()
	emit(during, during+after)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second) // failsafe
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != during+after || s.Dropped != 0 || s.Rejected != 0 {
		t.Errorf("stats %+v, want all %d delivered", s, during+after)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != during+after || failedAft != 0 {
		t.Errorf("the endpoint received %d distinct alerts (%d bad bodies), want %d", len(got), failedAft, during+after)
	}
	// One backoff step is at most retry.Max; the second is a failsafe
	// against a loaded machine, not a speed claim.
	if lag := firstOK.Sub(upAt); lag > retry.Max+time.Second {
		t.Errorf("first delivery %v after recovery, want within one backoff step (%v)", lag, retry.Max)
	}
}
