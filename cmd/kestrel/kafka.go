package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// runForward is "kestrel forward": replay a log into a Kafka topic (see
// kafka.ForwardMain for its flags).
func runForward(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return kafka.ForwardMain(ctx, args, stdout, stderr)
}

// wantsKafka reports whether "kestrel run" was given -kafka-brokers: then it
// is a detection node reading a topic instead of a replay of a log file.
func wantsKafka(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		return strings.HasPrefix(a, "-") && name == "kafka-brokers"
	})
}

// runKafka is "kestrel run -kafka-brokers ...": a detection node in the
// topic's consumer group. With -rules, the events go through the rule
// packages and the alerts to stdout or the -outputs file, and to the Kafka
// topic -alert-topic names; without, every event is printed as a JSON line.
func runKafka(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var rulesDir, outPath, schemaPath, alertTopic *string
	cmd := kafka.RunCommand{
		Flags: func(fs *flag.FlagSet) {
			rulesDir = fs.String("rules", "", "rule packages directory; without it, events are printed as JSON lines")
			outPath = fs.String("outputs", "", "outputs config file (JSON); default: alerts as JSON lines on stdout")
			schemaPath = fs.String("schema", "", "schema file (JSON, see kestrel schema); default: the built-in schema")
			alertTopic = fs.String("alert-topic", "", "also produce every alert to this Kafka topic, keyed by alert_id")
		},
	}
	cmd.Handler = func(ctx context.Context, env kafka.RunEnv) (engine.Handler, func(context.Context) error, error) {
		if *rulesDir == "" {
			return printEvents(env.Stdout)
		}
		reg, err := registry(*schemaPath)
		if err != nil {
			return nil, nil, err
		}
		set, ok := loadRules(*rulesDir, reg, env.Stderr)
		if !ok {
			return nil, nil, fmt.Errorf("rules in %s did not load", *rulesDir)
		}
		if len(set.Packages) == 0 {
			return nil, nil, fmt.Errorf("no runnable rules in %s", *rulesDir)
		}
		scfg, err := outputs(*outPath, env.Stdout)
		if err != nil {
			return nil, nil, fmt.Errorf("outputs: %w", err)
		}
		if *alertTopic != "" {
			kc := env.Kafka
			kc.AlertTopic = *alertTopic
			dest, err := kafka.NewAlertDestination(kc)
			if err != nil {
				closeDestinations(scfg)
				return nil, nil, fmt.Errorf("alert topic: %w", err)
			}
			scfg.Destinations = append(scfg.Destinations, sink.DestinationConfig{Dest: dest, Overflow: sink.OverflowBlock})
		}
		scfg.Logger = env.Logger
		out, err := sink.New(scfg)
		if err != nil {
			closeDestinations(scfg)
			return nil, nil, fmt.Errorf("outputs: %w", err)
		}
		n := env.Bus.Partitions()
		det, err := detect.New(detect.Config{Rules: set.Packages, Output: out, Partitions: n, Logger: env.Logger,
			EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, n) }})
		if err == nil && n > 1 {
			err = env.Bus.SetRoute(det.Route) // alerts must not depend on -partitions
		}
		if err != nil {
			_ = out.Close(ctx)
			return nil, nil, err
		}
		stop := func(ctx context.Context) error {
			err := out.Close(ctx)
			st := det.Stats()
			fmt.Fprintf(env.Stderr, "kestrel: %d events detected on, %d alerts, %d alerts refused by the outputs\n", st.Events, st.Alerts, st.AlertsDropped)
			if st.AlertsDropped > 0 {
				err = errors.Join(err, fmt.Errorf("%d alerts not delivered", st.AlertsDropped))
			}
			return err
		}
		return det.Handle, stop, nil
	}
	return cmd.Main(ctx, args, stdout, stderr)
}

// printEvents is the handler of a node without rules: every event as a JSON
// line, written by one worker at a time.
func printEvents(w io.Writer) (engine.Handler, func(context.Context) error, error) {
	var mu sync.Mutex
	var buf []byte
	var werr error
	h := func(_ int, batch []*schema.Event) {
		mu.Lock()
		defer mu.Unlock()
		buf = buf[:0]
		for _, ev := range batch {
			buf = append(ev.AppendJSON(buf), '\n')
		}
		if _, err := w.Write(buf); err != nil && werr == nil {
			werr = err
		}
	}
	stop := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return werr
	}
	return h, stop, nil
}
