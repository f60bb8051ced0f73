package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kestrel-sec/kestrel/sink"
)

// outputsFile is the small config file of -outputs:
//
//	{
//	  "outputs": [
//	    {"name": "console", "type": "stdout"},
//	    {"name": "archive", "type": "file", "path": "alerts.jsonl"}
//	  ],
//	  "routes": [{"min_severity": "high", "tags": ["network"], "outputs": ["console"], "continue": true}],
//	  "default": ["archive"],
//	  "dedup": {"window": "5m", "fields": ["process.entity_id"]}
//	}
//
// Without -outputs, alerts go to stdout as JSON lines.
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

type outputSpec struct {
	Name string `json:"name"`
	// Type is stdout or file.
	Type string `json:"type"`
	// Path is the file of a file output, appended to (created 0600).
	Path string `json:"path"`
	// Queue is the output's queue in alerts (0: the sink's default).
	Queue int `json:"queue"`
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
		var d sink.Destination
		name := o.Name
		switch strings.ToLower(o.Type) {
		case "stdout":
			if name == "" {
				name = "stdout"
			}
			d = &writerDest{name: name, w: stdout}
		case "file":
			if o.Path == "" {
				return fail(fmt.Errorf("%s: outputs[%d]: a file output needs a path", path, i))
			}
			f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return fail(fmt.Errorf("%s: outputs[%d]: %w", path, i, err))
			}
			if name == "" {
				name = o.Path
			}
			d = &writerDest{name: name, w: f, c: f}
		default:
			return fail(fmt.Errorf("%s: outputs[%d]: unknown type %q (stdout or file)", path, i, o.Type))
		}
		opened = append(opened, d)
		cfg.Destinations = append(cfg.Destinations, sink.DestinationConfig{
			Name: name, Dest: d, Queue: o.Queue, Overflow: sink.OverflowBlock, BlockTimeout: 5 * time.Second,
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

// writerDest writes alerts as JSON lines to a writer, one Write per batch.
type writerDest struct {
	name string
	mu   sync.Mutex // Send and Close come from one goroutine; the lock is for Write's peers on a shared stdout
	w    io.Writer
	c    io.Closer // closed by Close when set (a file)
	buf  []byte
}

func (d *writerDest) Name() string { return d.name }

func (d *writerDest) Send(_ context.Context, batch []*sink.Alert) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = d.buf[:0]
	for _, a := range batch {
		d.buf = a.AppendJSON(d.buf)
		d.buf = append(d.buf, '\n')
	}
	_, err := d.w.Write(d.buf)
	if err != nil && errors.Is(err, os.ErrClosed) {
		return &sink.PermanentError{Reason: "output closed", Err: err}
	}
	return err
}

func (d *writerDest) Close() error {
	if d.c != nil {
		return d.c.Close()
	}
	return nil
}
