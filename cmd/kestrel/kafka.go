package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/node"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// wantsKafka reports whether "kestrel run" was given -brokers (or the
// deprecated -kafka-brokers): then it is a detection node reading a topic
// instead of a replay of a log file.
func wantsKafka(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		return strings.HasPrefix(a, "-") && (name == "brokers" || name == "kafka-brokers")
	})
}

// runKafka is "kestrel run -brokers ...": a detection node in the topic's
// consumer group. With -rules, the events go through the rule packages and
// the alerts to stdout or the -outputs file, and to the Kafka topic
// -alert-topic names; without, every event is printed as a JSON line. It
// runs until interrupted (or -max-events events were handled), then stops
// fetching, drains, commits and prints a summary.
func runKafka(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("kestrel run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNodeFlags(fs, "rule packages directory; without it, events are printed as JSON lines")
	cf := addConnFlags(fs)
	alertTopic := fs.String("alert-topic", "", "also produce every alert to this Kafka topic, keyed by alert_id")
	group := fs.String("group", kafka.DefaultGroup, "consumer group of the detection nodes")
	dlq := fs.String("dlq-topic", "", "dead-letter topic for undecodable records (default TOPIC"+kafka.DeadLetterSuffix+"; - for none)")
	queue := fs.Int("queue-size", engine.DefaultQueueSize, "events each bus partition holds")
	start := fs.String("start", "earliest", "where a partition without a committed offset starts: earliest or latest")
	maxEvents := fs.Int64("max-events", 0, "stop after this many events were handled (0: run until interrupted)")
	commit := fs.Duration("commit-interval", kafka.DefaultCommitInterval, "how often handled offsets are committed")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kestrel run: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() != 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	logger, ok := nf.checkedLogger("run", stderr)
	if !ok {
		return exitUsage
	}
	cfg, err := cf.config(lookupEnv, logger)
	if err != nil {
		return usage("%v", err)
	}
	cfg.Group, cfg.DeadLetterTopic, cfg.CommitInterval = *group, *dlq, *commit
	switch *start {
	case "earliest":
		cfg.StartOffset = kafka.StartEarliest
	case "latest":
		cfg.StartOffset = kafka.StartLatest
	default:
		return usage("-start must be earliest or latest, not %q", *start)
	}
	if *maxEvents < 0 {
		return usage("-max-events must be >= 0")
	}
	if err := cfg.Validate(); err != nil {
		return usage("%v", err)
	}

	ncfg := node.Config{
		RulesDir: *nf.rulesDir, SchemaPath: *nf.schemaPath, Stdout: stdout, Logger: logger,
		Bus: engine.Config{Partitions: *nf.partitions, QueueSize: *queue},
	}
	var printer *eventPrinter
	if *nf.rulesDir == "" {
		printer = &eventPrinter{w: stdout}
		ncfg.Handler = printer.handle
	} else {
		// A live node retries its outputs without bound (the zero Retry).
		scfg, err := sink.LoadConfig(*nf.outPath, sink.LoadOptions{Stdout: stdout})
		if err != nil {
			fmt.Fprintf(stderr, "kestrel: outputs: %v\n", err)
			return exitFail
		}
		if *alertTopic != "" {
			kc := cfg
			kc.AlertTopic = *alertTopic
			dest, err := kafka.NewAlertDestination(kc)
			if err != nil {
				_ = scfg.CloseDestinations()
				fmt.Fprintf(stderr, "kestrel: alert topic: %v\n", err)
				return exitFail
			}
			scfg.Destinations = append(scfg.Destinations, sink.DestinationConfig{Dest: dest, Overflow: sink.OverflowBlock})
		}
		ncfg.Sink = scfg
	}
	n, ok := nf.startNode(ncfg, defaultKafkaLateness, stderr)
	if !ok {
		return exitFail
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *maxEvents > 0 { // stops the node once that many events were handled
		handled := func() uint64 { return n.Stats().Detect.Events }
		if printer != nil {
			handled = printer.count.Load
		}
		go func() {
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					if handled() >= uint64(*maxEvents) {
						cancel()
						return
					}
				}
			}
		}()
	}
	src := &node.KafkaSource{Config: cfg}
	runErr := runNode(runCtx, n, src, *nf.listen, logger, stderr)
	code := finishCode(stderr, runErr)
	if printer != nil && printer.err != nil {
		fmt.Fprintf(stderr, "kestrel run: %v\n", printer.err)
		code = exitFail
	}
	if !*nf.quiet {
		st := n.Stats()
		ks := src.Stats()
		handled := st.Detect.Events
		if printer != nil {
			handled = printer.count.Load()
		}
		fmt.Fprintf(stderr, "kestrel run: %d events handled from %d records of %s (group %s)\n",
			handled, ks.Records, cfg.Topic, cfg.Group)
		fmt.Fprintf(stderr, "  poison %d (dead-lettered %d, skipped %d), bus refusals %d, pauses %d, commits %d (%d failed), rebalances: %d partitions assigned, %d revoked, %d lost\n",
			ks.Poison, ks.DeadLettered, ks.DeadLetterFailed, ks.BusRefusals, ks.Pauses, ks.Commits,
			ks.CommitFailures, ks.Assigned, ks.Revoked, ks.Lost)
		interrupted(ctx, stderr, fmt.Sprintf("after %d records; handled offsets committed (%d commits, %d abandoned to the next owner)",
			ks.Records, ks.Commits, ks.Abandoned))
		if printer == nil {
			summary(stderr, st)
		}
	}
	return code
}

// eventPrinter is the handler of a node without rules: every event as a
// JSON line, written by one worker at a time.
type eventPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	err   error
	count atomic.Uint64 // events handled; publishes only itself
}

func (p *eventPrinter) handle(_ int, batch []*schema.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = p.buf[:0]
	for _, ev := range batch {
		p.buf = append(ev.AppendJSON(p.buf), '\n')
	}
	if p.err == nil {
		if _, err := p.w.Write(p.buf); err != nil {
			p.err = fmt.Errorf("writing events: %w", err)
		}
	}
	p.count.Add(uint64(len(batch)))
}

// lookupEnv is the environment the commands read; tests replace it.
var lookupEnv = os.LookupEnv
