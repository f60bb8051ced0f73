package sink

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
)

// HECPath is the Splunk HTTP Event Collector endpoint a HECConfig.URL
// without a path is completed with.
const HECPath = "/services/collector/event"

// HECConfig configures a HECDestination. URL and a token are required.
type HECConfig struct {
	// Name identifies the destination. "": "splunk-hec".
	Name string
	// HTTPConfig.URL is the collector: "https://splunk:8088" (HECPath is
	// appended when the URL has no path) or the full endpoint URL.
	HTTPConfig
	// Token, or the environment variable named by TokenEnv (read once, by
	// NewHECDestination), is sent as "Authorization: Splunk <token>".
	Token    string
	TokenEnv string
	// Host, Source, SourceType and Index are set on every event when not
	// empty; empty ones are left to the token's defaults (Source and
	// SourceType default to "kestrel" and "kestrel:alert").
	Host, Source, SourceType, Index string
}

// Validate reports the first problem in c, or nil. It does not read the
// environment.
func (c *HECConfig) Validate() error {
	if err := c.HTTPConfig.validate("splunk hec " + c.name()); err != nil {
		return err
	}
	if c.Token == "" && c.TokenEnv == "" {
		return configErr("splunk hec %s: no Token or TokenEnv", c.name())
	}
	return nil
}

func (c *HECConfig) name() string { return cmp.Or(c.Name, "splunk-hec") }

// HECDestination sends alerts to a Splunk HTTP Event Collector: one event
// per alert, the events of a request concatenated (not an array):
//
//	{"time":1767226612.500000,"host":"…","source":"kestrel","sourcetype":"kestrel:alert","index":"…","event":{…alert…}}{"time":…}
//
// time is ts_wall_ns as epoch seconds with six fraction digits (left out
// when ts_wall_ns is 0, so Splunk stamps the arrival). A 2xx reply delivers
// the request; 429, 5xx (503 is HEC's "server busy") and network errors are
// retried; any other status rejects the request's alerts.
type HECDestination struct {
	h       *httpDest
	prefix  []byte // `,"host":…,"index":…,"event":`
	framing framing
}

// NewHECDestination validates cfg, reads the token and builds the client.
func NewHECDestination(cfg HECConfig) (*HECDestination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tok, err := secret(cfg.Token, cfg.TokenEnv, "splunk hec "+cfg.name()+": TokenEnv")
	if err != nil {
		return nil, err
	}
	if u, _ := url.Parse(cfg.URL); u.Path == "" || u.Path == "/" {
		u.Path = HECPath
		cfg.URL = u.String()
	}
	if cfg.Source == "" {
		cfg.Source = "kestrel"
	}
	if cfg.SourceType == "" {
		cfg.SourceType = "kestrel:alert"
	}
	h, err := newHTTPDest(cfg.name(), &cfg.HTTPConfig, "application/json", "Splunk "+tok)
	if err != nil {
		return nil, err
	}
	d := &HECDestination{h: h}
	for _, kv := range [...][2]string{{"host", cfg.Host}, {"source", cfg.Source}, {"sourcetype", cfg.SourceType}, {"index", cfg.Index}} {
		if kv[1] != "" {
			d.prefix = append(d.prefix, ',')
			d.prefix = valuejson.AppendQuoted(d.prefix, kv[0])
			d.prefix = append(d.prefix, ':')
			d.prefix = valuejson.AppendQuoted(d.prefix, kv[1])
		}
	}
	d.prefix = append(d.prefix, `,"event":`...)
	d.framing = framing{item: d.appendEvent}
	return d, nil
}

// appendEvent appends one HEC event.
func (d *HECDestination) appendEvent(dst []byte, a *Alert) []byte {
	if a.TsWall != 0 {
		dst = append(dst, `{"time":`...)
		dst = appendEpochMicros(dst, uint64(a.TsWall))
		dst = append(dst, d.prefix...)
	} else {
		dst = append(dst, '{')
		dst = append(dst, d.prefix[1:]...) // drop the leading comma
	}
	dst = a.AppendJSON(dst)
	return append(dst, '}')
}

// appendEpochMicros writes ns as seconds with six fraction digits, the
// precision a float64 keeps for today's epoch and Splunk's _time holds.
func appendEpochMicros(dst []byte, ns uint64) []byte {
	dst = strconv.AppendUint(dst, ns/1e9, 10)
	us := (ns % 1e9) / 1e3
	var frac [7]byte
	frac[0] = '.'
	for i := 6; i >= 1; i-- {
		frac[i] = byte('0' + us%10)
		us /= 10
	}
	return append(dst, frac[:]...)
}

// Name returns HECConfig.Name, or "splunk-hec".
func (d *HECDestination) Name() string { return d.h.name }

// Send posts batch as concatenated HEC events.
func (d *HECDestination) Send(ctx context.Context, batch []*Alert) error {
	return d.h.sendWhole(ctx, batch, d.framing)
}

// Close closes idle connections.
func (d *HECDestination) Close() error { return d.h.close() }

// Format writes "splunk hec", the name and the URL with its password redacted, for
// every verb: the destination's fields hold secrets (the URL's password,
// the Authorization header) that must not reach a log.
func (d *HECDestination) Format(f fmt.State, _ rune) {
	if d == nil {
		formatDest(f, "splunk hec", nil)
		return
	}
	formatDest(f, "splunk hec", d.h)
}
