package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of HTTPConfig.
const (
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultMaxBodyBytes = 1_000_000 // Splunk HEC's historical max_content_length
)

// HTTPConfig is what the HTTP destinations (webhook, Splunk HEC,
// Elasticsearch) share. Only URL is required.
type HTTPConfig struct {
	// URL is where requests go (http or https).
	URL string
	// Headers are added to every request. They cannot replace
	// Content-Type or the destination's Authorization.
	Headers map[string]string
	// Timeout bounds each request, connection and reading the reply
	// included. 0: 10 s.
	Timeout time.Duration
	// MaxBodyBytes bounds each request's body exactly: a batch that does
	// not fit is sent as several requests, and a single alert that does
	// not fit alone is rejected. 0: 1,000,000.
	MaxBodyBytes int
	// TLS configures https. Ignored when Client is set.
	TLS TLSConfig
	// Client sends the requests. nil: a client of the destination's own,
	// built from TLS, that does not follow redirects (a 3xx is rejected).
	Client *http.Client
}

func (c *HTTPConfig) validate(what string) error {
	if c.URL == "" {
		return configErr("%s: no URL", what)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error repeats the URL, password and all: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return configErr("%s: URL: %v", what, err)
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return configErr("%s: URL %q: scheme must be http or https", what, shown)
	case u.Host == "":
		return configErr("%s: URL %q has no host", what, shown)
	case !validPort(u.Port(), true):
		return configErr("%s: URL %q: port out of range 1-65535", what, shown)
	case c.Timeout < 0:
		return configErr("%s: Timeout %v is negative", what, c.Timeout)
	case c.MaxBodyBytes < 0:
		return configErr("%s: MaxBodyBytes %d is negative", what, c.MaxBodyBytes)
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) {
			return configErr("%s: header name %q is invalid", what, k)
		}
		if !validHeaderValue(v) {
			return configErr("%s: header %q: value holds a control character", what, k)
		}
	}
	return nil
}

// validPort reports whether p is a port number in 1-65535; "" passes
// (the scheme's default) and, with numeric false, so does a service name.
func validPort(p string, numeric bool) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return !numeric && p[0] != '-' && p[0] != '+'
	}
	return n >= 1 && n <= 65535
}

// redactURL returns raw with the password of its user:pass@ part replaced
// by "xxxxx", for messages and %v; an unparsable URL is not shown at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// formatDest writes "kind name url" with the URL's password redacted: the
// Format of every HTTP destination, so that %v (and %+v, %#v) of one
// shows neither a URL password nor a header holding a token.
func formatDest(f fmt.State, kind string, h *httpDest) {
	if h == nil {
		fmt.Fprintf(f, "%s(nil)", kind)
		return
	}
	fmt.Fprintf(f, "%s %q %s", kind, h.name, redactURL(h.url))
}

// validHeaderName reports whether k is an HTTP field name: a token of
// RFC 9110 section 5.6.2. net/http refuses any other name on every
// request, so accepting one here would fail every request, forever.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters (CR and LF above all), which
// would fail every request rather than the configuration.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// secret returns the inline value, or the environment variable env when
// it is named; a named variable that is empty or unset is an error.
func secret(inline, env, what string) (string, error) {
	if env == "" {
		if !validHeaderValue(inline) {
			return "", configErr("%s: the inline secret holds a control character", what)
		}
		return inline, nil
	}
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", configErr("%s: environment variable %s is empty or unset", what, env)
	}
	if !validHeaderValue(v) {
		return "", configErr("%s: environment variable %s holds a control character", what, env)
	}
	return v, nil
}

// httpDest is the plumbing of the HTTP destinations: one client, fixed
// headers, requests split to fit MaxBodyBytes, replies classified.
type httpDest struct {
	name    string
	url     string
	client  *http.Client
	own     *http.Transport // set when the client is ours: idle connections closed in Close
	header  http.Header
	timeout time.Duration
	maxBody int
	body    []byte // request scratch, reused across batches
}

func newHTTPDest(name string, c *HTTPConfig, contentType, auth string) (*httpDest, error) {
	h := &httpDest{
		name:    name,
		url:     c.URL,
		client:  c.Client,
		header:  make(http.Header, len(c.Headers)+2),
		timeout: c.Timeout,
		maxBody: c.MaxBodyBytes,
	}
	if h.timeout == 0 {
		h.timeout = DefaultHTTPTimeout
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	for k, v := range c.Headers {
		h.header.Set(k, v)
	}
	h.header.Set("Content-Type", contentType)
	if auth != "" {
		h.header.Set("Authorization", auth)
	}
	if h.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 2 // one worker sends one request at a time
		if !c.TLS.isZero() {
			tc, err := c.TLS.Build()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			tr.TLSClientConfig = tc
		}
		h.own = tr
		h.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return h, nil
}

// close closes the idle connections of a transport h made itself; it
// returns nil, the error of the destinations' Close.
func (h *httpDest) close() error {
	if h.own != nil {
		h.own.CloseIdleConnections()
	}
	return nil
}

// reply is the classified answer to one request.
type reply struct {
	status  int    // 0 when the request failed before a status
	body    []byte // up to the limit asked for
	readErr error  // reading body failed: it may be cut short
	err     error  // transient (network, 429, 5xx), possibly a *RetryAfterError; nil otherwise
}

// post sends body to u and reads up to limit bytes of the reply.
func (h *httpDest) post(ctx context.Context, u string, body []byte, limit int64) reply {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		// Only the configuration can make a request unbuildable.
		return reply{err: &PermanentError{Reason: "invalid request", Err: fmt.Errorf("sink: %s: %w", h.name, err)}}
	}
	req.Header = h.header.Clone()
	resp, err := h.client.Do(req)
	if err != nil {
		return reply{err: classifyNetErr(fmt.Errorf("sink: %s: %w", h.name, err))}
	}
	defer resp.Body.Close()
	rb, rerr := io.ReadAll(io.LimitReader(resp.Body, limit))
	// Drain a little more so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	r := reply{status: resp.StatusCode, body: rb, readErr: rerr}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		r.err = fmt.Errorf("sink: %s: HTTP %d: %s", h.name, resp.StatusCode, snippet(rb))
		if after, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			r.err = &RetryAfterError{After: after, Err: r.err}
		}
	}
	return r
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<31)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// snippet returns the start of a reply body for error messages.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// rejectedStatus is the stable rejection reason of a whole request.
func rejectedStatus(status int) string {
	return "HTTP " + strconv.Itoa(status)
}

// outcome gathers the fate of a batch's items over its requests.
type outcome struct {
	retry    []int
	rejected []Rejection
	err      error // the first transient error
}

func (o *outcome) retryRange(lo, hi int, err error) {
	for i := lo; i < hi; i++ {
		o.retry = append(o.retry, i)
	}
	if o.err == nil {
		o.err = err
	}
}

func (o *outcome) rejectRange(lo, hi int, reason, detail string) {
	for i := lo; i < hi; i++ {
		o.rejected = append(o.rejected, Rejection{Index: i, Reason: reason, Detail: detail})
	}
}

// result turns the outcome of n items into Send's error.
func (o *outcome) result(n int) error {
	switch {
	case len(o.retry) == 0 && len(o.rejected) == 0:
		return nil
	case len(o.retry) == n:
		return o.err
	case len(o.rejected) == n && sameReason(o.rejected):
		r := o.rejected[0]
		return &PermanentError{Reason: r.Reason, Err: errors.New(r.Detail)}
	}
	return &PartialError{Retry: o.retry, Rejected: o.rejected, Err: o.err}
}

func sameReason(rs []Rejection) bool {
	for _, r := range rs[1:] {
		if r.Reason != rs[0].Reason {
			return false
		}
	}
	return true
}

// framing says how a request body is built from alerts.
type framing struct {
	open, sep, close string
	item             func(dst []byte, a *Alert) []byte
}

// sendChunks encodes batch into bodies of at most maxBody bytes, each of
// contiguous items [lo, hi), and hands each to send, which records the
// items' fate in out and reports whether to go on. After a request that
// asks for a retry (the far side is struggling) the remaining items are
// marked for retry unsent.
func (h *httpDest) sendChunks(ctx context.Context, batch []*Alert, f framing, out *outcome,
	send func(ctx context.Context, body []byte, lo, hi int, out *outcome) bool) {
	body := append(h.body[:0], f.open...)
	lo := 0
	flush := func(hi int) bool {
		body = append(body, f.close...)
		ok := send(ctx, body, lo, hi, out)
		body = append(body[:0], f.open...)
		lo = hi
		return ok
	}
	// tooBig rejects item i when it cannot fit a body alone.
	tooBig := func(i int) {
		out.rejected = append(out.rejected, Rejection{Index: i, Reason: "alert larger than MaxBodyBytes",
			Detail: "alert " + batch[i].ID + " does not fit " + strconv.Itoa(h.maxBody) + " bytes"})
		body = append(body[:0], f.open...)
		lo = i + 1
	}
	for i, a := range batch {
		mark := len(body)
		if i > lo {
			body = append(body, f.sep...)
		}
		body = f.item(body, a)
		if len(body)+len(f.close) <= h.maxBody {
			continue
		}
		if i == lo {
			tooBig(i)
			continue
		}
		body = body[:mark]
		if !flush(i) {
			out.retryRange(i, len(batch), nil)
			h.keep(body)
			return
		}
		body = f.item(body, a)
		if len(body)+len(f.close) > h.maxBody {
			tooBig(i)
		}
	}
	if lo < len(batch) {
		flush(len(batch))
	}
	h.keep(body)
}

// sendWhole sends batch in bodies framed by f, each delivered or refused
// whole by its reply (wholeReply): the webhook's and HEC's Send.
func (h *httpDest) sendWhole(ctx context.Context, batch []*Alert, f framing) error {
	var out outcome
	h.sendChunks(ctx, batch, f, &out, func(ctx context.Context, body []byte, lo, hi int, out *outcome) bool {
		return wholeReply(h.post(ctx, h.url, body, 1024), lo, hi, out)
	})
	return out.result(len(batch))
}

func (h *httpDest) keep(b []byte) {
	if cap(b) <= maxKeptBuf {
		h.body = b[:0]
	} else {
		h.body = nil
	}
}

// wholeReply records a reply that speaks for every item of [lo, hi):
// delivered, retried or rejected. It reports whether to send the rest.
func wholeReply(r reply, lo, hi int, out *outcome) bool {
	var perm *PermanentError
	switch {
	case errors.As(r.err, &perm):
		// Retrying cannot help (a certificate that does not verify):
		// reject these items for good.
		out.rejectRange(lo, hi, perm.Reason, r.err.Error())
		return true
	case r.err != nil:
		out.retryRange(lo, hi, r.err)
		return false
	case r.status >= 200 && r.status < 300:
		return true
	default:
		out.rejectRange(lo, hi, rejectedStatus(r.status), snippet(r.body))
		return true
	}
}
