package sink

import (
	"cmp"
	"context"
	"fmt"
)

// WebhookConfig configures a WebhookDestination. Only URL is required.
type WebhookConfig struct {
	// Name identifies the destination. "": "webhook".
	Name string
	HTTPConfig
	// BearerToken, or the environment variable named by BearerTokenEnv
	// (read once, by NewWebhookDestination; it must be set and non-empty),
	// is sent as "Authorization: Bearer <token>". Both empty: no
	// Authorization header.
	BearerToken    string
	BearerTokenEnv string
}

// Validate reports the first problem in c, or nil. It does not read the
// environment.
func (c *WebhookConfig) Validate() error {
	return c.HTTPConfig.validate("webhook " + c.name())
}

func (c *WebhookConfig) name() string { return cmp.Or(c.Name, "webhook") }

// WebhookDestination POSTs each batch as a JSON array of alerts
// (Content-Type: application/json), split into several requests where it
// would pass MaxBodyBytes.
//
// A 2xx reply delivers the request's alerts. 429, 5xx and network errors
// are transient: the alerts are retried with backoff (honouring
// Retry-After). Any other status rejects them for good (counted as
// rejected, the status logged once).
type WebhookDestination struct {
	h *httpDest
}

// NewWebhookDestination validates cfg, reads the bearer token and builds
// the HTTP client (loading TLS certificates).
func NewWebhookDestination(cfg WebhookConfig) (*WebhookDestination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tok, err := secret(cfg.BearerToken, cfg.BearerTokenEnv, "webhook "+cfg.name()+": BearerTokenEnv")
	if err != nil {
		return nil, err
	}
	auth := ""
	if tok != "" {
		auth = "Bearer " + tok
	}
	h, err := newHTTPDest(cfg.name(), &cfg.HTTPConfig, "application/json", auth)
	if err != nil {
		return nil, err
	}
	return &WebhookDestination{h: h}, nil
}

// Name returns WebhookConfig.Name, or "webhook".
func (d *WebhookDestination) Name() string { return d.h.name }

var webhookFraming = framing{open: "[", sep: ",", close: "]", item: func(dst []byte, a *Alert) []byte { return a.AppendJSON(dst) }}

// Send POSTs batch as JSON arrays.
func (d *WebhookDestination) Send(ctx context.Context, batch []*Alert) error {
	return d.h.sendWhole(ctx, batch, webhookFraming)
}

// Close closes idle connections.
func (d *WebhookDestination) Close() error { return d.h.close() }

// Format writes "webhook", the name and the URL with its password redacted, for
// every verb: the destination's fields hold secrets (the URL's password,
// the Authorization header) that must not reach a log.
func (d *WebhookDestination) Format(f fmt.State, _ rune) {
	if d == nil {
		formatDest(f, "webhook", nil)
		return
	}
	formatDest(f, "webhook", d.h)
}
