package sink

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
)

// DefaultESIndex is the index of an ElasticsearchConfig with none.
const DefaultESIndex = "kestrel-alerts"

// maxBulkReply bounds the _bulk reply read; with filter_path an item takes
// tens of bytes, so this is far above any reply to a MaxBodyBytes request.
const maxBulkReply = 32 << 20

// ElasticsearchConfig configures an ElasticsearchDestination. Only URL is
// required.
type ElasticsearchConfig struct {
	// Name identifies the destination. "": "elasticsearch".
	Name string
	// HTTPConfig.URL is the cluster's base URL ("https://es:9200");
	// requests go to its path + "/_bulk".
	HTTPConfig
	// Index receives the alerts (an index, alias or data stream). "":
	// "kestrel-alerts".
	Index string
	// Pipeline names an ingest pipeline to run. "": none.
	Pipeline string
	// Basic authentication: Username with Password, or the environment
	// variable named by PasswordEnv (read once, by the constructor).
	Username, Password, PasswordEnv string
	// APIKey, or the environment variable named by APIKeyEnv, is sent as
	// "Authorization: ApiKey <key>" (the base64 "id:key" form Elasticsearch
	// hands out). It excludes Username.
	APIKey, APIKeyEnv string
}

// Validate reports the first problem in c, or nil. It does not read the
// environment.
func (c *ElasticsearchConfig) Validate() error {
	if err := c.HTTPConfig.validate("elasticsearch " + c.name()); err != nil {
		return err
	}
	if c.Username != "" && (c.APIKey != "" || c.APIKeyEnv != "") {
		return configErr("elasticsearch %s: both Username and an API key", c.name())
	}
	if strings.ContainsAny(c.Index, `"\`) {
		return configErr("elasticsearch %s: Index %q holds a quote or backslash", c.name(), c.Index)
	}
	return nil
}

func (c *ElasticsearchConfig) name() string { return cmp.Or(c.Name, "elasticsearch") }

// ElasticsearchDestination indexes alerts with the _bulk API: NDJSON of
// create actions, each with _id = alert_id, so a retried request never
// indexes an alert twice (the second create answers 409, which counts as
// delivered). The body ends with a newline.
//
// A 2xx reply with "errors":false delivers every alert. With "errors":true
// each item is read: 2xx and 409 delivered, 429 and 5xx retried, other
// statuses rejected (the error type logged once, with its reason). A reply
// that cannot be read retries the request, which create makes safe. 429,
// 5xx and network errors on the request retry it; other statuses reject it.
type ElasticsearchDestination struct {
	h      *httpDest
	bulk   string // the _bulk URL
	action []byte // `{"create":{"_index":"…"`
	scr    []bulkItem
}

// NewElasticsearchDestination validates cfg, reads the secrets and builds
// the client.
func NewElasticsearchDestination(cfg ElasticsearchConfig) (*ElasticsearchDestination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cfg.name()
	auth := ""
	key, err := secret(cfg.APIKey, cfg.APIKeyEnv, "elasticsearch "+name+": APIKeyEnv")
	if err != nil {
		return nil, err
	}
	if key != "" {
		auth = "ApiKey " + key
	}
	if cfg.Username != "" {
		pw, err := secret(cfg.Password, cfg.PasswordEnv, "elasticsearch "+name+": PasswordEnv")
		if err != nil {
			return nil, err
		}
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+pw))
	}
	h, err := newHTTPDest(name, &cfg.HTTPConfig, "application/x-ndjson", auth)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
	q := u.Query()
	q.Set("filter_path", "errors,items.*.status,items.*.error.type,items.*.error.reason")
	if cfg.Pipeline != "" {
		q.Set("pipeline", cfg.Pipeline)
	}
	u.RawQuery = q.Encode()
	index := cfg.Index
	if index == "" {
		index = DefaultESIndex
	}
	d := &ElasticsearchDestination{h: h, bulk: u.String()}
	d.action = append(d.action, `{"create":{"_index":`...)
	d.action = valuejson.AppendQuoted(d.action, index)
	return d, nil
}

// Name returns ElasticsearchConfig.Name, or "elasticsearch".
func (d *ElasticsearchDestination) Name() string { return d.h.name }

// appendItem appends one action line and its document.
func (d *ElasticsearchDestination) appendItem(dst []byte, a *Alert) []byte {
	dst = append(dst, d.action...)
	if a.ID != "" {
		dst = append(dst, `,"_id":`...)
		dst = valuejson.AppendQuoted(dst, a.ID)
	}
	dst = append(dst, "}}\n"...)
	dst = a.AppendJSON(dst)
	return append(dst, '\n')
}

// Send posts batch to _bulk and reads the reply item by item.
func (d *ElasticsearchDestination) Send(ctx context.Context, batch []*Alert) error {
	var out outcome
	f := framing{item: d.appendItem}
	d.h.sendChunks(ctx, batch, f, &out, d.sendBulk)
	if len(out.retry) > 0 && out.err == nil {
		out.err = errors.New("sink: " + d.h.name + ": items to retry")
	}
	return out.result(len(batch))
}

func (d *ElasticsearchDestination) sendBulk(ctx context.Context, body []byte, lo, hi int, out *outcome) bool {
	r := d.h.post(ctx, d.bulk, body, maxBulkReply)
	if r.err != nil || r.status < 200 || r.status >= 300 {
		return wholeReply(r, lo, hi, out)
	}
	if r.readErr != nil {
		// Accepted, but the reply was cut: the item statuses are unknown.
		// Retrying is safe, create makes it idempotent.
		out.retryRange(lo, hi, fmt.Errorf("sink: %s: reading _bulk reply: %w", d.h.name, r.readErr))
		return false
	}
	items, allOK, err := parseBulkReply(r.body, hi-lo, d.scr[:0])
	d.scr = items[:0]
	if err != nil {
		out.retryRange(lo, hi, fmt.Errorf("sink: %s: %w", d.h.name, err))
		return false
	}
	if allOK {
		return true
	}
	retried := false
	for k, it := range items {
		i := lo + k
		switch {
		case it.Status >= 200 && it.Status < 300, it.Status == 409:
		case it.Status == 429 || it.Status >= 500:
			out.retry = append(out.retry, i)
			if out.err == nil {
				out.err = fmt.Errorf("sink: %s: item status %d: %s: %s", d.h.name, it.Status, it.Type, it.Reason)
			}
			retried = true
		default:
			out.rejected = append(out.rejected, Rejection{
				Index:  i,
				Reason: strconv.Itoa(it.Status) + " " + it.Type,
				Detail: it.Reason,
			})
		}
	}
	// The cluster pushed back on some items: give it the backoff before
	// the rest of the batch too.
	return !retried
}

// Close closes idle connections.
func (d *ElasticsearchDestination) Close() error { return d.h.close() }

// bulkItem is the outcome of one action of a _bulk request.
type bulkItem struct {
	Status int
	Type   string // error.type
	Reason string // error.reason
}

// ErrBulkReply is matched (errors.Is) by the errors of a _bulk reply that
// cannot be read.
var ErrBulkReply = errors.New("sink: elasticsearch: unreadable _bulk reply")

// parseBulkReply reads the reply to a _bulk request of n actions. allOK is
// true when the reply says "errors":false (items are then not read);
// otherwise it appends exactly n items to dst, in request order.
func parseBulkReply(body []byte, n int, dst []bulkItem) (items []bulkItem, allOK bool, err error) {
	var r struct {
		Errors *bool                        `json:"errors"`
		Items  []map[string]json.RawMessage `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return dst, false, fmt.Errorf("%w: %w", ErrBulkReply, err)
	}
	if r.Errors == nil {
		return dst, false, fmt.Errorf("%w: no \"errors\" field", ErrBulkReply)
	}
	if !*r.Errors {
		return dst, true, nil
	}
	if len(r.Items) != n {
		return dst, false, fmt.Errorf("%w: %d items for %d actions", ErrBulkReply, len(r.Items), n)
	}
	for i, m := range r.Items {
		if len(m) != 1 {
			return dst, false, fmt.Errorf("%w: item %d has %d actions", ErrBulkReply, i, len(m))
		}
		var raw json.RawMessage
		for _, v := range m {
			raw = v
		}
		var it struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return dst, false, fmt.Errorf("%w: item %d: %w", ErrBulkReply, i, err)
		}
		if it.Status < 100 || it.Status > 599 {
			return dst, false, fmt.Errorf("%w: item %d: status %d", ErrBulkReply, i, it.Status)
		}
		bi := bulkItem{Status: it.Status}
		if len(it.Error) > 0 && string(it.Error) != "null" {
			var e struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			}
			if json.Unmarshal(it.Error, &e) != nil {
				// Some versions answer a plain string.
				var s string
				if json.Unmarshal(it.Error, &s) != nil {
					return dst, false, fmt.Errorf("%w: item %d: error is neither object nor string", ErrBulkReply, i)
				}
				e.Reason = s
			}
			bi.Type, bi.Reason = e.Type, e.Reason
		}
		if bi.Type == "" && it.Status >= 300 {
			bi.Type = "error"
		}
		dst = append(dst, bi)
	}
	return dst, false, nil
}

// Format writes "elasticsearch", the name and the URL with its password redacted, for
// every verb: the destination's fields hold secrets (the URL's password,
// the Authorization header) that must not reach a log.
func (d *ElasticsearchDestination) Format(f fmt.State, _ rune) {
	if d == nil {
		formatDest(f, "elasticsearch", nil)
		return
	}
	formatDest(f, "elasticsearch", d.h)
}
