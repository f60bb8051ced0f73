package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// bulkDocs checks a _bulk body's framing and returns its ids and index.
func bulkDocs(t *testing.T, body []byte) (ids []string, index string) {
	t.Helper()
	ids, index, err := parseBulkBody(body)
	if err != nil {
		t.Fatal(err)
	}
	return ids, index
}

// parseBulkBody is bulkDocs for server handlers, which must not call
// t.Fatal.
func parseBulkBody(body []byte) (ids []string, index string, err error) {
	if !bytes.HasSuffix(body, []byte("\n")) {
		return nil, "", errors.New("_bulk body does not end with a newline")
	}
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	if len(lines)%2 != 0 {
		return nil, "", fmt.Errorf("%d lines: not action/document pairs", len(lines))
	}
	for i := 0; i < len(lines); i += 2 {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(lines[i], &action); err != nil {
			return nil, "", fmt.Errorf("action %q: %w", lines[i], err)
		}
		c, ok := action["create"]
		if !ok || len(action) != 1 {
			return nil, "", fmt.Errorf("action %s is not a create", lines[i])
		}
		var a Alert
		if err := json.Unmarshal(lines[i+1], &a); err != nil {
			return nil, "", fmt.Errorf("document: %w", err)
		}
		if c.ID != a.ID {
			return nil, "", fmt.Errorf("_id %s, alert_id %s", c.ID, a.ID)
		}
		ids = append(ids, c.ID)
		index = c.Index
	}
	return ids, index, nil
}

func TestElasticsearchBulkFormat(t *testing.T) {
	rec := newRecorder(t, nil, func(int, []byte) (int, string, string) {
		return 200, "", `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`
	})
	t.Setenv("KESTREL_ES_PW", "pw")
	d, err := NewElasticsearchDestination(ElasticsearchConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL + "/es/"},
		Index: "alerts-x", Pipeline: "enrich", Username: "kestrel", PasswordEnv: "KESTREL_ES_PW"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Send(context.Background(), []*Alert{testAlert(0), testAlert(1)}); err != nil {
		t.Fatal(err)
	}
	r := rec.requests()[0]
	ids, index := bulkDocs(t, r.body)
	if len(ids) != 2 || ids[0] != testAlert(0).ID || index != "alerts-x" {
		t.Errorf("ids %v index %s", ids, index)
	}
	q, _ := url.ParseQuery(r.query)
	if r.path != "/es/_bulk" || q.Get("pipeline") != "enrich" || !strings.Contains(q.Get("filter_path"), "items.*.status") ||
		r.header.Get("Content-Type") != "application/x-ndjson" || r.header.Get("Authorization") != "Basic a2VzdHJlbDpwdw==" {
		t.Errorf("request %s?%s %v", r.path, r.query, r.header)
	}
	want := `{"create":{"_index":"alerts-x","_id":"` + testAlert(0).ID + `"}}` + "\n" + string(testAlert(0).AppendJSON(nil)) + "\n"
	if !strings.HasPrefix(string(r.body), want) {
		t.Errorf("body:\n%s\nwant prefix:\n%s", r.body, want)
	}
}

// TestElasticsearchPartialFailure: items are read one by one; 429/5xx
// items are retried (and only they), 4xx items rejected, 409 counts as
// delivered (the create already happened).
func TestElasticsearchPartialFailure(t *testing.T) {
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	seen := map[string]int{}
	rec := newRecorder(t, nil, func(n int, body []byte) (int, string, string) {
		<-mu
		defer func() { mu <- struct{}{} }()
		ids, _, err := parseBulkBody(body)
		if err != nil {
			t.Error(err)
			return 400, "", err.Error()
		}
		var items []string
		for _, id := range ids {
			seen[id]++
			status := 201
			if n == 0 {
				switch id {
				case testAlert(1).ID:
					status = 429
				case testAlert(2).ID:
					status = 400
				case testAlert(3).ID:
					status = 409
				case testAlert(4).ID:
					status = 503
				}
			}
			item := fmt.Sprintf(`{"create":{"_index":"i","_id":%q,"status":%d`, id, status)
			if status >= 400 {
				item += fmt.Sprintf(`,"error":{"type":"t%d","reason":"reason %d for %s"}`, status, status, id)
			}
			items = append(items, item+"}}")
		}
		return 200, "", `{"took":3,"errors":true,"items":[` + strings.Join(items, ",") + `]}`
	})
	d, err := NewElasticsearchDestination(ElasticsearchConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Retry: fastRetry, Batch: BatchConfig{MaxCount: 5, MaxWait: 1 << 62}}}})
	for i := range 5 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != 4 || s.Rejected != 1 || s.Retried != 2 {
		t.Errorf("stats %+v", s)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if ids, _ := bulkDocs(t, reqs[1].body); len(ids) != 2 || ids[0] != testAlert(1).ID || ids[1] != testAlert(4).ID {
		t.Errorf("retried %v, want alerts 1 and 4", ids)
	}
	if reqs[0].header.Get("Authorization") != "ApiKey k" {
		t.Errorf("auth %q", reqs[0].header.Get("Authorization"))
	}
}

func TestElasticsearchUnreadableReplyRetries(t *testing.T) {
	replies := []string{`{"errors":true,"items":[]}`, `<html>proxy</html>`, `{"errors":false}`}
	rec := newRecorder(t, nil, func(n int, _ []byte) (int, string, string) { return 200, "", replies[min(n, 2)] })
	d, err := NewElasticsearchDestination(ElasticsearchConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for k := range 2 {
		err := d.Send(context.Background(), []*Alert{testAlert(0)})
		if !errors.Is(err, ErrBulkReply) || IsPermanent(err) {
			t.Errorf("reply %d: Send = %v", k, err)
		}
	}
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err != nil {
		t.Error(err)
	}
}

func TestElasticsearchRequestStatus(t *testing.T) {
	rec := newRecorder(t, nil, func(n int, _ []byte) (int, string, string) {
		return []int{413, 502}[n%2], "", "no"
	})
	d, err := NewElasticsearchDestination(ElasticsearchConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); !IsPermanent(err) {
		t.Errorf("413: %v", err)
	}
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err == nil || IsPermanent(err) {
		t.Errorf("502: %v", err)
	}
}

func TestElasticsearchConfigErrors(t *testing.T) {
	for name, c := range map[string]ElasticsearchConfig{
		"no URL":     {},
		"both auths": {HTTPConfig: HTTPConfig{URL: "http://x"}, Username: "u", APIKey: "k"},
		"index":      {HTTPConfig: HTTPConfig{URL: "http://x"}, Index: `a"b`},
		"pw env":     {HTTPConfig: HTTPConfig{URL: "http://x"}, Username: "u", PasswordEnv: "KESTREL_SURELY_UNSET_VARIABLE"},
		"key env":    {HTTPConfig: HTTPConfig{URL: "http://x"}, APIKeyEnv: "KESTREL_SURELY_UNSET_VARIABLE"},
	} {
		if _, err := NewElasticsearchDestination(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseBulkReply(t *testing.T) {
	items, ok, err := parseBulkReply([]byte(`{"errors":true,"items":[{"create":{"status":201}},{"index":{"status":400,"error":"bad"}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}}]}`), 3, nil)
	if err != nil || ok {
		t.Fatal(ok, err)
	}
	want := []bulkItem{{Status: 201}, {Status: 400, Type: "error", Reason: "bad"}, {Status: 409, Type: "version_conflict_engine_exception", Reason: "exists"}}
	if fmt.Sprint(items) != fmt.Sprint(want) {
		t.Errorf("items %v", items)
	}
	for _, bad := range []string{
		``, `[]`, `{}`, `{"errors":true}`, `{"errors":true,"items":[{}]}`,
		`{"errors":true,"items":[{"a":{"status":1},"b":{}}]}`, `{"errors":true,"items":[{"a":{"status":0}}]}`,
		`{"errors":true,"items":[{"a":{"status":"x"}}]}`, `{"errors":true,"items":[{"a":{"status":400,"error":5}}]}`,
	} {
		if _, _, err := parseBulkReply([]byte(bad), 1, nil); !errors.Is(err, ErrBulkReply) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParseBulkReply: any reply either fails with ErrBulkReply or gives
// exactly one item per action with a plausible status.
func FuzzParseBulkReply(f *testing.F) {
	f.Add([]byte(`{"errors":false}`), 1)
	f.Add([]byte(`{"took":1,"errors":true,"items":[{"create":{"_id":"a","status":201}},{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}]}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":400,"error":"plain"}}]}`), 1)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":500,"error":null}}]}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		items, ok, err := parseBulkReply(body, n, nil)
		if err != nil {
			if !errors.Is(err, ErrBulkReply) {
				t.Fatalf("error %v does not match ErrBulkReply", err)
			}
			return
		}
		if ok {
			if len(items) != 0 {
				t.Fatal("items with errors:false")
			}
			return
		}
		if len(items) != n {
			t.Fatalf("%d items for %d actions", len(items), n)
		}
		for _, it := range items {
			if it.Status < 100 || it.Status > 599 {
				t.Fatalf("status %d", it.Status)
			}
		}
	})
}
