package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// ConfigFileError is a problem in an outputs file (ReadConfig, LoadConfig):
// the file, where in it, and what is wrong. It matches ErrInvalidConfig
// (errors.Is) and unwraps to its cause.
type ConfigFileError struct {
	// File is the file's name as ReadConfig was given it.
	File string
	// Line and Col locate a JSON error, 1-based (Col counts characters);
	// 0 when the file is valid JSON and the problem is in a member.
	Line, Col int
	// Member is the member at fault, such as "outputs[1]" or
	// "dedup.window"; empty for a JSON error.
	Member string
	// Err is what is wrong.
	Err error
}

// Error returns "file:line:col: member: cause", without the parts that
// are unknown.
func (e *ConfigFileError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col)
	}
	if e.Member != "" {
		s += ": " + e.Member
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidConfig and the cause.
func (e *ConfigFileError) Unwrap() []error { return []error{ErrInvalidConfig, e.Err} }

// jsonFileError is err, from decoding data, as a *ConfigFileError that
// says where: encoding/json's syntax and type errors carry an offset.
func jsonFileError(file string, data []byte, err error) *ConfigFileError {
	e := &ConfigFileError{File: file, Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		e.at(data, se.Offset)
	case errors.As(err, &te):
		e.Member, e.Err = te.Field, fmt.Errorf("a JSON %s where %s goes", te.Value, te.Type)
		e.at(data, te.Offset)
	}
	return e
}

// at sets e's line and column from a 1-based offset into data (encoding/json
// counts the offending byte itself).
func (e *ConfigFileError) at(data []byte, off int64) {
	if off > 0 && off <= int64(len(data)) {
		b := data[:off-1]
		last := bytes.LastIndexByte(b, '\n')
		e.Line, e.Col = 1+bytes.Count(b, []byte{'\n'}), len([]rune(string(b[last+1:])))+1
	}
}

// outputsFile is the small config file read by LoadConfig (the -outputs file of
// cmd/kestrel):
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
//	  "dedup": {"window": "5m", "fields": ["process.entity_id"]},
//	  "alert_fields": "flat"
//	}
//
// Secrets are named by environment variable (the *_env keys), never
// written in the file. "retry" at the top level, or in one output, bounds
// its retries: {"max_attempts": 3, "initial": "100ms", "max": "1s",
// "max_elapsed": "1m"}; without it LoadOptions.Retry applies.
type outputsFile struct {
	Outputs []outputSpec `json:"outputs"`
	Retry   *retrySpec   `json:"retry"`
	Routes  []routeSpec  `json:"routes"`
	Default []string     `json:"default"`
	// Fields is how alerts' fields are written: "tagged" (default) or
	// "flat" (ECS-flat plain values); see Config.Fields.
	Fields string `json:"alert_fields"`
	Dedup  *struct {
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

	Retry *retrySpec `json:"retry"`
}

// retrySpec is RetryConfig in the file; durations as time.ParseDuration
// reads them.
type retrySpec struct {
	MaxAttempts int    `json:"max_attempts"`
	Initial     string `json:"initial"`
	Max         string `json:"max"`
	MaxElapsed  string `json:"max_elapsed"`
}

func (r *retrySpec) config(def RetryConfig) (RetryConfig, error) {
	if r == nil {
		return def, nil
	}
	c := RetryConfig{MaxAttempts: r.MaxAttempts}
	if r.MaxAttempts < 0 {
		return c, fmt.Errorf("max_attempts %d < 0", r.MaxAttempts)
	}
	for _, d := range []struct {
		name, s string
		dst     *time.Duration
	}{{"initial", r.Initial, &c.Initial}, {"max", r.Max, &c.Max}, {"max_elapsed", r.MaxElapsed, &c.MaxElapsed}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v < 0 {
			return c, fmt.Errorf("retry.%s: %q is not a duration >= 0", d.name, d.s)
		}
		*d.dst = v
	}
	return c, nil
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

// LoadOptions are what LoadConfig needs besides the file.
type LoadOptions struct {
	// Stdout is where "stdout" outputs write; nil: os.Stdout.
	Stdout io.Writer
	// Retry is the retry policy of the outputs the file gives none. Its
	// zero value retries without bound (a long-running node must not give
	// alerts up while a SIEM restarts); a replay, which should end, bounds
	// it.
	Retry RetryConfig
}

// LoadConfig reads the outputs file at path (see ReadConfig). path ""
// means no file: alerts go to Stdout as JSON lines.
func LoadConfig(path string, opts LoadOptions) (Config, error) {
	if path == "" {
		return ReadConfig(nil, "", opts)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ReadConfig(bytes.NewReader(data), path, opts)
}

// ReadConfig builds a Config from an outputs file read from r (name is for
// errors), opening its destinations; a nil r means stdout alone. Every
// destination blocks (briefly) rather than drops when its queue is full,
// and Emit waits for room, so alerts are not lost to a slow output. On
// error nothing stays open; on success the destinations belong to the
// Output made from the Config (or to CloseDestinations). Its errors are
// *ConfigFileError: the file and line of a JSON error, the member of any
// other ("outputs[1] (webhook)", "dedup.window").
func ReadConfig(r io.Reader, name string, opts LoadOptions) (Config, error) {
	stdout := opts.Stdout
	if stdout == nil {
		stdout = os.Stdout
	}
	path := name
	cfg := Config{Queue: 1 << 14, EmitTimeout: 5 * time.Second}
	spec := outputsFile{Outputs: []outputSpec{{Name: "stdout", Type: "stdout"}}}
	bad := func(member string, err error) error { return &ConfigFileError{File: path, Member: member, Err: err} }
	if r != nil {
		data, err := io.ReadAll(r)
		if err != nil {
			return cfg, bad("", err)
		}
		spec = outputsFile{}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			return cfg, jsonFileError(path, data, err)
		}
		if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
			e := &ConfigFileError{File: path, Err: errors.New("more after the file's object")}
			e.at(data, int64(len(data)-len(rest))+1)
			return cfg, e
		}
		if len(spec.Outputs) == 0 {
			return cfg, bad("outputs", errors.New("no outputs"))
		}
	}
	form, err := ParseFieldsForm(spec.Fields)
	if err != nil {
		return cfg, bad("alert_fields", err)
	}
	cfg.Fields = form
	defRetry, err := spec.Retry.config(opts.Retry)
	if err != nil {
		return cfg, bad("retry", err)
	}
	var opened []Destination
	fail := func(err error) (Config, error) {
		for _, d := range opened {
			_ = d.Close()
		}
		return cfg, err
	}
	for i, o := range spec.Outputs {
		d, err := destination(o, stdout)
		if err != nil {
			return fail(bad("outputs["+strconv.Itoa(i)+"] ("+o.Type+")", err))
		}
		opened = append(opened, d)
		retry, err := o.Retry.config(defRetry)
		if err != nil {
			return fail(bad("outputs["+strconv.Itoa(i)+"] ("+o.Type+").retry", err))
		}
		cfg.Destinations = append(cfg.Destinations, DestinationConfig{
			Name: d.Name(), Dest: d, Queue: o.Queue, Overflow: OverflowBlock, BlockTimeout: 5 * time.Second,
			Batch: BatchConfig{MaxCount: 256}, Retry: retry,
		})
	}
	for i, r := range spec.Routes {
		rt := Route{RuleID: r.RuleID, Tags: r.Tags, Destinations: r.Outputs, Continue: r.Continue}
		if r.MinSeverity != "" {
			s, err := schema.ParseSeverity(r.MinSeverity)
			if err != nil {
				return fail(bad("routes["+strconv.Itoa(i)+"].min_severity", err))
			}
			rt.MinSeverity = s
		}
		cfg.Routes = append(cfg.Routes, rt)
	}
	cfg.Default = spec.Default
	if dd := spec.Dedup; dd != nil {
		w, err := time.ParseDuration(dd.Window)
		if err != nil {
			return fail(bad("dedup.window", err))
		}
		cfg.Dedup = DedupConfig{Window: w, Fields: dd.Fields, MaxEntries: dd.MaxEntries}
	}
	if err := cfg.Validate(); err != nil {
		return fail(bad("", err))
	}
	return cfg, nil
}

// destination builds the sink destination an output names.
func destination(o outputSpec, stdout io.Writer) (Destination, error) {
	var timeout time.Duration
	if o.Timeout != "" {
		d, err := time.ParseDuration(o.Timeout)
		if err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
		timeout = d
	}
	var tlsCfg TLSConfig
	if t := o.TLS; t != nil {
		tlsCfg = TLSConfig{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
			ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	httpCfg := HTTPConfig{URL: o.URL, Headers: o.Headers, Timeout: timeout, TLS: tlsCfg}
	switch strings.ToLower(o.Type) {
	case "stdout":
		name := o.Name
		if name == "" {
			name = "stdout"
		}
		return NewWriterDestination(name, stdout), nil
	case "file":
		if o.Path == "" {
			return nil, errors.New("a file output needs a path")
		}
		fc := FileConfig{Name: o.Name, Path: o.Path, MaxBytes: o.MaxBytes, MaxBackups: o.MaxBackups}
		if fc.Name == "" {
			fc.Name = o.Path
		}
		switch strings.ToLower(o.Sync) {
		case "", "interval":
			fc.Sync = SyncInterval
		case "always":
			fc.Sync = SyncAlways
		case "never":
			fc.Sync = SyncNever
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
		return NewFileDestination(fc)
	case "webhook":
		return NewWebhookDestination(WebhookConfig{Name: o.Name, HTTPConfig: httpCfg, BearerTokenEnv: o.BearerTokenEnv})
	case "splunk_hec", "hec", "splunk":
		return NewHECDestination(HECConfig{Name: o.Name, HTTPConfig: httpCfg, TokenEnv: o.TokenEnv,
			Host: o.Host, Source: o.Source, SourceType: o.SourceType, Index: o.Index})
	case "elasticsearch":
		return NewElasticsearchDestination(ElasticsearchConfig{Name: o.Name, HTTPConfig: httpCfg, Index: o.Index,
			Pipeline: o.Pipeline, Username: o.Username, PasswordEnv: o.PasswordEnv, APIKeyEnv: o.APIKeyEnv})
	case "syslog":
		return NewSyslogDestination(SyslogConfig{Name: o.Name, Network: o.Network, Address: o.Address,
			Facility: o.Facility, AppName: o.AppName, Timeout: timeout, TLS: tlsCfg})
	}
	return nil, fmt.Errorf("unknown type %q (stdout, file, webhook, splunk_hec, elasticsearch or syslog)", o.Type)
}

// CloseDestinations closes the destinations of a Config that never became
// an Output (an Output closes its own), and returns their errors joined.
func (c *Config) CloseDestinations() error {
	var errs []error
	for _, d := range c.Destinations {
		if d.Dest != nil {
			errs = append(errs, d.Dest.Close())
		}
	}
	return errors.Join(errs...)
}
