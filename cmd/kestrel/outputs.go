package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/sink"
)

// outputsFile is the small config file of -outputs:
//
//	{
//	  "outputs": [
//	    {"name": "console", "type": "stdout"},
//	    {"name": "archive", "type": "file", "path": "alerts.jsonl", "max_bytes": 104857600, "max_backups": 5, "sync": "interval"},
//	    {"name": "soc", "type": "webhook", "url": "https://soc.example/alerts", "bearer_token_env": "SOC_TOKEN",
//	     "tls": {"ca_file": "ca.pem", "cert_file": "client.pem", "key_file": "client.key"}},
//	    {"name": "splunk", "type": "splunk_hec", "url": "https://splunk:8088", "token_env": "HEC_TOKEN", "index": "security"},
//	    {"name": "es", "type": "elasticsearch", "url": "https://es:9200", "index": "kestrel-alerts", "api_key_env": "ES_KEY"},
//	    {"name": "syslog", "type": "syslog", "network": "tcp", "address": "siem:6514", "facility": "auth"}
//	  ],
//	  "routes": [{"min_severity": "high", "tags": ["network"], "outputs": ["console"], "continue": true}],
//	  "default": ["archive"],
//	  "dedup": {"window": "5m", "fields": ["process.entity_id"]}
//	}
//
// Secrets are named by environment variable (the *_env keys), never
// written in the file. Without -outputs, alerts go to stdout as JSON lines.
type outputsFile struct {
	Outputs []outputSpec `json:"outputs"`
	Routes  []routeSpec  `json:"routes"`
	Default []string     `json:"default"`
	Dedup   *struct {
		Window     string   `json:"window"`
		Fields     []string `json:"fields"`
		MaxEntries int      `json:"max_entries"`
	} `json:"dedup"`
}

// outputSpec is one output; which keys apply depends on its type.
type outputSpec struct {
	Name string `json:"name"`
	// Type is stdout, file, webhook, splunk_hec, elasticsearch or syslog.
	Type string `json:"type"`
	// Queue is the output's queue in alerts (0: the sink's default).
	Queue int `json:"queue"`

	// file: appended to, created 0600, rotated past max_bytes.
	Path         string `json:"path"`
	MaxBytes     int64  `json:"max_bytes"`
	MaxBackups   int    `json:"max_backups"`
	Sync         string `json:"sync"` // always, interval (default) or never
	SyncInterval string `json:"sync_interval"`

	// webhook, splunk_hec, elasticsearch.
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Timeout        string            `json:"timeout"`
	BearerTokenEnv string            `json:"bearer_token_env"` // webhook
	TokenEnv       string            `json:"token_env"`        // splunk_hec
	Host           string            `json:"host"`             // splunk_hec
	Source         string            `json:"source"`           // splunk_hec
	SourceType     string            `json:"sourcetype"`       // splunk_hec
	Index          string            `json:"index"`            // splunk_hec, elasticsearch
	Pipeline       string            `json:"pipeline"`         // elasticsearch
	Username       string            `json:"username"`         // elasticsearch
	PasswordEnv    string            `json:"password_env"`     // elasticsearch
	APIKeyEnv      string            `json:"api_key_env"`      // elasticsearch

	// syslog.
	Network  string `json:"network"` // udp, tcp or tls
	Address  string `json:"address"`
	Facility string `json:"facility"`
	AppName  string `json:"app_name"`

	TLS *tlsSpec `json:"tls"`
}

type tlsSpec struct {
	CAFile             string `json:"ca_file"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	ServerName         string `json:"server_name"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
}

type routeSpec struct {
	RuleID      string   `json:"rule_id"`
	MinSeverity string   `json:"min_severity"`
	Tags        []string `json:"tags"`
	Outputs     []string `json:"outputs"`
	Continue    bool     `json:"continue"`
}

// outputs builds the sink configuration: from the -outputs file, or stdout
// alone. Replay must not lose alerts to the speed of the machine, so every
// destination blocks (briefly) rather than drops when its queue is full,
// and Emit waits for room.
func outputs(path string, stdout io.Writer) (sink.Config, error) {
	cfg := sink.Config{Queue: 1 << 14, EmitTimeout: 5 * time.Second}
	spec := outputsFile{Outputs: []outputSpec{{Name: "stdout", Type: "stdout"}}}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, err
		}
		spec = outputsFile{}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		if len(spec.Outputs) == 0 {
			return cfg, fmt.Errorf("%s: no outputs", path)
		}
	}
	var opened []sink.Destination
	fail := func(err error) (sink.Config, error) {
		for _, d := range opened {
			_ = d.Close()
		}
		return cfg, err
	}
	for i, o := range spec.Outputs {
		d, err := destination(o, stdout)
		if err != nil {
			return fail(fmt.Errorf("%s: outputs[%d] (%s): %w", path, i, o.Type, err))
		}
		opened = append(opened, d)
		cfg.Destinations = append(cfg.Destinations, sink.DestinationConfig{
			Name: d.Name(), Dest: d, Queue: o.Queue, Overflow: sink.OverflowBlock, BlockTimeout: 5 * time.Second,
			Batch: sink.BatchConfig{MaxCount: 256}, Retry: sink.RetryConfig{MaxAttempts: 3},
		})
	}
	for i, r := range spec.Routes {
		rt := sink.Route{RuleID: r.RuleID, Tags: r.Tags, Destinations: r.Outputs, Continue: r.Continue}
		if r.MinSeverity != "" {
			s, err := sink.ParseSeverity(strings.ToLower(r.MinSeverity))
			if err != nil {
				return fail(fmt.Errorf("%s: routes[%d]: %w", path, i, err))
			}
			rt.MinSeverity = s
		}
		cfg.Routes = append(cfg.Routes, rt)
	}
	cfg.Default = spec.Default
	if dd := spec.Dedup; dd != nil {
		w, err := time.ParseDuration(dd.Window)
		if err != nil {
			return fail(fmt.Errorf("%s: dedup.window: %w", path, err))
		}
		cfg.Dedup = sink.DedupConfig{Window: w, Fields: dd.Fields, MaxEntries: dd.MaxEntries}
	}
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	return cfg, nil
}

// destination builds the sink destination an output names.
func destination(o outputSpec, stdout io.Writer) (sink.Destination, error) {
	var timeout time.Duration
	if o.Timeout != "" {
		d, err := time.ParseDuration(o.Timeout)
		if err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
		timeout = d
	}
	var tlsCfg sink.TLSConfig
	if t := o.TLS; t != nil {
		tlsCfg = sink.TLSConfig{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
			ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	httpCfg := sink.HTTPConfig{URL: o.URL, Headers: o.Headers, Timeout: timeout, TLS: tlsCfg}
	switch strings.ToLower(o.Type) {
	case "stdout":
		name := o.Name
		if name == "" {
			name = "stdout"
		}
		return sink.NewWriterDestination(name, stdout), nil
	case "file":
		if o.Path == "" {
			return nil, errors.New("a file output needs a path")
		}
		fc := sink.FileConfig{Name: o.Name, Path: o.Path, MaxBytes: o.MaxBytes, MaxBackups: o.MaxBackups}
		if fc.Name == "" {
			fc.Name = o.Path
		}
		switch strings.ToLower(o.Sync) {
		case "", "interval":
			fc.Sync = sink.SyncInterval
		case "always":
			fc.Sync = sink.SyncAlways
		case "never":
			fc.Sync = sink.SyncNever
		default:
			return nil, fmt.Errorf("sync %q: always, interval or never", o.Sync)
		}
		if o.SyncInterval != "" {
			d, err := time.ParseDuration(o.SyncInterval)
			if err != nil {
				return nil, fmt.Errorf("sync_interval: %w", err)
			}
			fc.SyncInterval = d
		}
		return sink.NewFileDestination(fc)
	case "webhook":
		return sink.NewWebhookDestination(sink.WebhookConfig{Name: o.Name, HTTPConfig: httpCfg, BearerTokenEnv: o.BearerTokenEnv})
	case "splunk_hec", "hec", "splunk":
		return sink.NewHECDestination(sink.HECConfig{Name: o.Name, HTTPConfig: httpCfg, TokenEnv: o.TokenEnv,
			Host: o.Host, Source: o.Source, SourceType: o.SourceType, Index: o.Index})
	case "elasticsearch":
		return sink.NewElasticsearchDestination(sink.ElasticsearchConfig{Name: o.Name, HTTPConfig: httpCfg, Index: o.Index,
			Pipeline: o.Pipeline, Username: o.Username, PasswordEnv: o.PasswordEnv, APIKeyEnv: o.APIKeyEnv})
	case "syslog":
		return sink.NewSyslogDestination(sink.SyslogConfig{Name: o.Name, Network: o.Network, Address: o.Address,
			Facility: o.Facility, AppName: o.AppName, Timeout: timeout, TLS: tlsCfg})
	}
	return nil, fmt.Errorf("unknown type %q (stdout, file, webhook, splunk_hec, elasticsearch or syslog)", o.Type)
}

// closeDestinations closes the destinations of a configuration that never
// became an Output (an Output closes its own).
func closeDestinations(cfg sink.Config) {
	for _, d := range cfg.Destinations {
		_ = d.Dest.Close()
	}
}
