package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
)

// Exit statuses of ForwardMain and RunCommand.Main, as cmd/kestrel uses
// them.
const (
	ExitOK    = 0 // done, nothing lost
	ExitFail  = 1 // an error, or events not delivered
	ExitUsage = 2 // bad flags
)

// BrokersEnv is the environment variable the commands read the brokers
// from when no flag names them.
const BrokersEnv = "KESTREL_KAFKA_BROKERS"

// commandTimeout bounds the final flush and drain of a command.
const commandTimeout = 30 * time.Second

// connFlags are the connection flags both commands take.
type connFlags struct {
	brokersFlag                                           string
	brokers, clientID, topic                              *string
	tls, tlsInsecure, insecureSASL, verbose               *bool
	tlsCA, tlsCert, tlsKey, tlsServerName                 *string
	saslMechanism, saslUser, saslUserEnv, saslPasswordEnv *string
}

func addConnFlags(fs *flag.FlagSet, brokersFlag string) *connFlags {
	c := &connFlags{brokersFlag: brokersFlag}
	c.brokers = fs.String(brokersFlag, "", "Kafka seed brokers, host:port[,host:port...] (default $"+BrokersEnv+")")
	c.clientID = fs.String("client-id", DefaultClientID, "client id the brokers see")
	c.topic = fs.String("topic", DefaultTopic, "events topic")
	c.tls = fs.Bool("tls", false, "connect with TLS (implied by the other -tls flags)")
	c.tlsCA = fs.String("tls-ca", "", "PEM file of the CAs that sign the brokers' certificates (default: system roots)")
	c.tlsCert = fs.String("tls-cert", "", "PEM client certificate, for mutual TLS")
	c.tlsKey = fs.String("tls-key", "", "PEM client key, for mutual TLS")
	c.tlsServerName = fs.String("tls-server-name", "", "name to check the brokers' certificates against")
	c.tlsInsecure = fs.Bool("tls-insecure", false, "accept any broker certificate (testing only)")
	c.saslMechanism = fs.String("sasl", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	c.saslUser = fs.String("sasl-user", "", "SASL user (default $"+DefaultUserEnv+")")
	c.saslUserEnv = fs.String("sasl-user-env", DefaultUserEnv, "environment variable holding the SASL user when -sasl-user is empty")
	c.saslPasswordEnv = fs.String("sasl-password-env", DefaultPasswordEnv, "environment variable holding the SASL password")
	c.insecureSASL = fs.Bool("kafka-insecure-sasl", false, "allow -sasl PLAIN without TLS (sends the password unencrypted; trusted networks only)")
	c.verbose = fs.Bool("v", false, "log the client's rebalances and connections on stderr")
	return c
}

// config builds the Config the flags describe.
func (c *connFlags) config(lookupEnv func(string) (string, bool), stderr io.Writer) (Config, error) {
	brokers := *c.brokers
	if brokers == "" {
		brokers, _ = lookupEnv(BrokersEnv)
	}
	if brokers == "" {
		return Config{}, fmt.Errorf("-%s (or $%s) is required", c.brokersFlag, BrokersEnv)
	}
	level := slog.LevelWarn
	if *c.verbose {
		level = slog.LevelDebug
	}
	cfg := Config{
		Brokers:      strings.Split(brokers, ","),
		ClientID:     *c.clientID,
		Topic:        *c.topic,
		LookupEnv:    lookupEnv,
		InsecureSASL: *c.insecureSASL,
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *c.tls || *c.tlsCA != "" || *c.tlsCert != "" || *c.tlsKey != "" || *c.tlsServerName != "" || *c.tlsInsecure {
		cfg.TLS = &TLSConfig{CAFile: *c.tlsCA, CertFile: *c.tlsCert, KeyFile: *c.tlsKey,
			ServerName: *c.tlsServerName, InsecureSkipVerify: *c.tlsInsecure}
	}
	if *c.saslMechanism != "" {
		cfg.SASL = &SASLConfig{Mechanism: *c.saslMechanism, User: *c.saslUser,
			UserEnv: *c.saslUserEnv, PasswordEnv: *c.saslPasswordEnv}
	}
	return cfg, nil
}

// ForwardMain is "kestrel forward": it replays a recorded log (any format
// package replay reads) into the events topic through a Forwarder, at the
// recorded pace or as fast as possible, waits until every record is
// acknowledged, and prints a summary on stderr.
//
//	kestrel forward -log FILE -brokers HOST:PORT[,...] [-topic T] [-format kbin|jsonl]
//	    [-acks all|leader|none] [-linger D] [-batch-events N] [-speed X] [-lenient]
//	    [-tls ...] [-sasl MECH -sasl-user U -sasl-password-env VAR [-kafka-insecure-sasl]]
//
// It returns ExitOK when every event was delivered, ExitFail when the log
// could not be read or an event was not delivered, ExitUsage for bad
// flags. ctx ending stops the replay; what was forwarded is still flushed.
func ForwardMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return forwardMain(ctx, args, stderr, os.LookupEnv)
}

func forwardMain(ctx context.Context, args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("kestrel forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logPath := fs.String("log", "", "recorded log to forward: JSON lines, .zst or .kbin (required)")
	cf := addConnFlags(fs, "brokers")
	format := fs.String("format", "kbin", "record encoding: kbin (binary blocks, zstd) or jsonl")
	acks := fs.String("acks", "all", "acknowledgement: all (idempotent), leader or none")
	linger := fs.Duration("linger", DefaultLinger, "how long an event waits for its batch to fill")
	batch := fs.Int("batch-events", DefaultBatchEvents, "events per batch (one record per entity in a batch)")
	speed := fs.Float64("speed", 0, "replay speed: 0 as fast as possible, 1 recorded pace, 2 twice as fast")
	lenient := fs.Bool("lenient", false, "skip and count bad log records instead of stopping at the first")
	timeout := fs.Duration("timeout", commandTimeout, "how long to wait for the last acknowledgements")
	quiet := fs.Bool("q", false, "no summary on stderr")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kestrel forward: "+format+"\n", a...)
		return ExitUsage
	}
	if *logPath == "" || fs.NArg() != 0 {
		return usage("-log is required, and no arguments are taken")
	}
	if *speed < 0 || math.IsNaN(*speed) || math.IsInf(*speed, 0) {
		return usage("-speed must be a finite number >= 0")
	}
	cfg, err := cf.config(lookupEnv, stderr)
	if err != nil {
		return usage("%v", err)
	}
	if cfg.Format, err = ParseFormat(*format); err != nil {
		return usage("-format: %v", err)
	}
	if cfg.Acks, err = ParseAcks(*acks); err != nil {
		return usage("-acks: %v", err)
	}
	cfg.Linger, cfg.BatchEvents = *linger, *batch
	if *linger == 0 {
		cfg.Linger = -1 // no lingering
	}
	if err := cfg.Validate(); err != nil {
		return usage("%v", err)
	}

	fwd, err := NewForwarder(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "kestrel forward: %v\n", err)
		return ExitFail
	}
	rp, err := replay.New(fwd, replay.Config{Speed: *speed, Lenient: *lenient, Logger: cfg.Logger})
	if err != nil {
		fwd.Close(ctx)
		return usage("%v", err)
	}
	start := time.Now()
	rst, rerr := rp.Replay(ctx, *logPath)
	flushCtx, cancel := context.WithTimeout(context.Background(), *timeout)
	cerr := fwd.Close(flushCtx)
	cancel()
	elapsed := time.Since(start)
	st := fwd.Stats()
	code := ExitOK
	if rerr != nil && !errors.Is(rerr, context.Canceled) {
		fmt.Fprintf(stderr, "kestrel forward: %v\n", rerr)
		code = ExitFail
	}
	if cerr != nil || st.Failed > 0 || st.Delivered != st.Events {
		if cerr != nil {
			fmt.Fprintf(stderr, "kestrel forward: %v\n", cerr)
		}
		code = ExitFail
	}
	if !*quiet {
		fmt.Fprintf(stderr, "kestrel forward: %d events read from %s (%d bad records), %d forwarded to %s\n",
			rst.Events, *logPath, rst.BadLines, st.Events, cfg.Topic)
		fmt.Fprintf(stderr, "  delivered %d events in %d records (%d value bytes, %s), failed %d; %.1fs, %.0f events/s\n",
			st.Delivered, st.RecordsDelivered, st.Bytes, cfg.Format, st.Failed, elapsed.Seconds(),
			float64(st.Delivered)/max(elapsed.Seconds(), 1e-9))
	}
	return code
}

// RunEnv is what RunCommand.Handler gets to build the detection handler.
type RunEnv struct {
	// Bus is the node's local bus; the handler runs on its workers, one
	// per partition (Bus.Partitions()). A handler that keeps state by a key
	// other than the entity installs its router with Bus.SetRoute.
	Bus *engine.Bus
	// Kafka is the configuration the flags describe, defaults filled in:
	// hand it to NewAlertDestination to send alerts to a topic.
	Kafka Config
	// Stdout and Stderr are the command's; Logger writes to Stderr.
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
}

// RunCommand is "kestrel run -kafka-brokers ...": a detection node that
// joins the consumer group, publishes the topic's events into a local bus
// and hands them to a handler, until its context ends (or -max-events
// events were handled), then drains, commits and prints a summary on
// stderr.
//
//	kestrel run -kafka-brokers HOST:PORT[,...] [-topic T] [-group G] [-dlq-topic T]
//	    [-partitions N] [-queue-size N] [-start earliest|latest] [-max-events N]
//	    [-tls ...] [-sasl MECH -sasl-user U -sasl-password-env VAR [-kafka-insecure-sasl]]
//
// The zero RunCommand prints every event as a JSON line on stdout.
// cmd/kestrel wires detection in with Flags (its -rules, -outputs,
// -schema) and Handler (a detect.Detector's Handle, whose alerts go to a
// sink.Output, which may include NewAlertDestination(env.Kafka)).
type RunCommand struct {
	// Flags, when set, adds the caller's flags to the command's flag set
	// before the arguments are parsed.
	Flags func(fs *flag.FlagSet)
	// Handler, when set, builds the bus handler once the flags are parsed
	// and the bus exists. stop, if not nil, is called after the bus has
	// drained (flush alerts, print the caller's summary); its error fails
	// the command. nil (or a nil handler returned): events are printed as
	// JSON lines on stdout.
	Handler func(ctx context.Context, env RunEnv) (h engine.Handler, stop func(context.Context) error, err error)
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// RunMain is RunCommand{}.Main: events printed as JSON lines.
func RunMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunCommand{}.Main(ctx, args, stdout, stderr)
}

// Main runs the command. It returns ExitOK after a clean stop, ExitFail
// when the node could not start or run (the bus closed under it, the
// handler's stop failed), ExitUsage for bad flags.
func (c RunCommand) Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	lookupEnv := c.LookupEnv
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	fs := flag.NewFlagSet("kestrel run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addConnFlags(fs, "kafka-brokers")
	group := fs.String("group", DefaultGroup, "consumer group of the detection nodes")
	dlq := fs.String("dlq-topic", "", "dead-letter topic for undecodable records (default TOPIC"+DeadLetterSuffix+"; - for none)")
	partitions := fs.Int("partitions", runtime.GOMAXPROCS(0), "bus partitions (detection workers)")
	queue := fs.Int("queue-size", engine.DefaultQueueSize, "events each bus partition holds")
	start := fs.String("start", "earliest", "where a partition without a committed offset starts: earliest or latest")
	maxEvents := fs.Int64("max-events", 0, "stop after this many events were handled (0: run until interrupted)")
	commit := fs.Duration("commit-interval", DefaultCommitInterval, "how often handled offsets are committed")
	quiet := fs.Bool("q", false, "no summary on stderr")
	if c.Flags != nil {
		c.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kestrel run: "+format+"\n", a...)
		return ExitUsage
	}
	if fs.NArg() != 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	cfg, err := cf.config(lookupEnv, stderr)
	if err != nil {
		return usage("%v", err)
	}
	cfg.Group, cfg.DeadLetterTopic, cfg.CommitInterval = *group, *dlq, *commit
	switch *start {
	case "earliest":
		cfg.StartOffset = StartEarliest
	case "latest":
		cfg.StartOffset = StartLatest
	default:
		return usage("-start must be earliest or latest, not %q", *start)
	}
	if *maxEvents < 0 {
		return usage("-max-events must be >= 0")
	}
	if *partitions < 1 || *partitions > engine.MaxPartitions {
		return usage("-partitions must be from 1 to %d", engine.MaxPartitions)
	}
	cfg, err = cfg.validated()
	if err != nil {
		return usage("%v", err)
	}
	bus, err := engine.New(engine.Config{Partitions: *partitions, QueueSize: *queue, Logger: cfg.Logger})
	if err != nil {
		return usage("%v", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	env := RunEnv{Bus: bus, Kafka: cfg, Stdout: stdout, Stderr: stderr, Logger: cfg.Logger}
	var h engine.Handler
	var stop func(context.Context) error
	if c.Handler != nil {
		h, stop, err = c.Handler(runCtx, env)
	}
	if err == nil && h == nil { // no Handler, or one that chose none: print
		p := &eventPrinter{w: stdout}
		h, stop = p.handle, p.stop
	}
	if err != nil {
		bus.Shutdown(context.Background())
		fmt.Fprintf(stderr, "kestrel run: %v\n", err)
		return ExitFail
	}
	var handled atomic.Int64 // publishes the running count to the -max-events check
	counted := func(p int, batch []*schema.Event) {
		h(p, batch)
		if n := handled.Add(int64(len(batch))); *maxEvents > 0 && n >= *maxEvents {
			cancel()
		}
	}
	if err := bus.Run(counted); err != nil {
		fmt.Fprintf(stderr, "kestrel run: %v\n", err)
		return ExitFail
	}
	code := ExitOK
	src, err := NewSource(cfg, bus)
	if err == nil {
		err = src.Run(runCtx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kestrel run: %v\n", err)
		code = ExitFail
	}
	shutCtx, cancelShut := context.WithTimeout(context.Background(), commandTimeout)
	defer cancelShut()
	if err := bus.Shutdown(shutCtx); err != nil {
		fmt.Fprintf(stderr, "kestrel run: %v\n", err)
		code = ExitFail
	}
	if stop != nil {
		if err := stop(shutCtx); err != nil {
			fmt.Fprintf(stderr, "kestrel run: %v\n", err)
			code = ExitFail
		}
	}
	if !*quiet && src != nil {
		st := src.Stats()
		fmt.Fprintf(stderr, "kestrel run: %d events handled from %d records of %s (group %s)\n",
			handled.Load(), st.Records, cfg.Topic, cfg.Group)
		fmt.Fprintf(stderr, "  poison %d (dead-lettered %d, skipped %d), bus refusals %d, pauses %d, commits %d (%d failed), rebalances: %d partitions assigned, %d revoked, %d lost\n",
			st.Poison, st.DeadLettered, st.DeadLetterFailed, st.BusRefusals, st.Pauses, st.Commits,
			st.CommitFailures, st.Assigned, st.Revoked, st.Lost)
	}
	return code
}

// eventPrinter writes events as JSON lines; workers call it concurrently.
type eventPrinter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	err error
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
}

// stop reports the first write error.
func (p *eventPrinter) stop(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
