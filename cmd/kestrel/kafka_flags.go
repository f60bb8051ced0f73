package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/replay"
)

// brokersEnv is the environment variable forward and run read the
// brokers from when no flag names them.
const brokersEnv = "KESTREL_KAFKA_BROKERS"

// commandTimeout bounds the final flush of forward.
const commandTimeout = 30 * time.Second

// connFlags are the connection flags both commands take.
type connFlags struct {
	brokersFlag                                           string
	brokers, clientID, topic                              *string
	tls, tlsInsecure, insecureSASL, verbose               *bool
	tlsCA, tlsCert, tlsKey, tlsServerName                 *string
	saslMechanism, saslUser, saslUserEnv, saslPasswordEnv *string
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{brokersFlag: "brokers"}
	c.brokers = fs.String("brokers", "", "Kafka seed brokers, host:port[,host:port...] (default $"+brokersEnv+")")
	fs.StringVar(c.brokers, "kafka-brokers", "", "deprecated: -brokers")
	c.clientID = fs.String("client-id", kafka.DefaultClientID, "client id the brokers see")
	c.topic = fs.String("topic", kafka.DefaultTopic, "events topic")
	c.tls = fs.Bool("tls", false, "connect with TLS (implied by the other -tls flags)")
	c.tlsCA = fs.String("tls-ca", "", "PEM file of the CAs that sign the brokers' certificates (default: system roots)")
	c.tlsCert = fs.String("tls-cert", "", "PEM client certificate, for mutual TLS")
	c.tlsKey = fs.String("tls-key", "", "PEM client key, for mutual TLS")
	c.tlsServerName = fs.String("tls-server-name", "", "name to check the brokers' certificates against")
	c.tlsInsecure = fs.Bool("tls-insecure", false, "accept any broker certificate (testing only)")
	c.saslMechanism = fs.String("sasl", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	c.saslUser = fs.String("sasl-user", "", "SASL user (default $"+kafka.DefaultUserEnv+")")
	c.saslUserEnv = fs.String("sasl-user-env", kafka.DefaultUserEnv, "environment variable holding the SASL user when -sasl-user is empty")
	c.saslPasswordEnv = fs.String("sasl-password-env", kafka.DefaultPasswordEnv, "environment variable holding the SASL password")
	c.insecureSASL = fs.Bool("kafka-insecure-sasl", false, "allow -sasl PLAIN without TLS (sends the password unencrypted; trusted networks only)")
	c.verbose = fs.Bool("v", false, "log the client's rebalances and connections on stderr")
	return c
}

// config builds the Config the flags describe.
// The client logs through logger, at debug level with -v.
func (c *connFlags) config(lookupEnv func(string) (string, bool), logger *slog.Logger) (kafka.Config, error) {
	brokers := *c.brokers
	if brokers == "" {
		brokers, _ = lookupEnv(brokersEnv)
	}
	if brokers == "" {
		return kafka.Config{}, fmt.Errorf("-%s (or $%s) is required", c.brokersFlag, brokersEnv)
	}
	cfg := kafka.Config{
		Brokers:      strings.Split(brokers, ","),
		ClientID:     *c.clientID,
		Topic:        *c.topic,
		LookupEnv:    lookupEnv,
		InsecureSASL: *c.insecureSASL,
		Logger:       logger,
	}
	if *c.tls || *c.tlsCA != "" || *c.tlsCert != "" || *c.tlsKey != "" || *c.tlsServerName != "" || *c.tlsInsecure {
		cfg.TLS = &kafka.TLSConfig{CAFile: *c.tlsCA, CertFile: *c.tlsCert, KeyFile: *c.tlsKey,
			ServerName: *c.tlsServerName, InsecureSkipVerify: *c.tlsInsecure}
	}
	if *c.saslMechanism != "" {
		cfg.SASL = &kafka.SASLConfig{Mechanism: *c.saslMechanism, User: *c.saslUser,
			UserEnv: *c.saslUserEnv, PasswordEnv: *c.saslPasswordEnv}
	}
	if !*c.verbose {
		cfg.Logger = slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn})
	}
	return cfg, nil
}

// runForward is "kestrel forward": it replays a recorded log (any format
// package replay reads) into the events topic through a Forwarder, at the
// recorded pace or as fast as possible, waits until every record is
// acknowledged, and prints a summary on stderr.
//
//	kestrel forward -log FILE -brokers HOST:PORT[,...] [-topic T] [-format kbin|jsonl|kpb]
//	    [-acks all|leader|none] [-linger D] [-batch-events N] [-speed X] [-lenient]
//	    [-tls ...] [-sasl MECH -sasl-user U -sasl-password-env VAR [-kafka-insecure-sasl]]
//
// It returns exitOK when every event was delivered, exitFail when the log
// could not be read or an event was not delivered, exitUsage for bad
// flags. ctx ending stops the replay; what was forwarded is still flushed.
func runForward(ctx context.Context, args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("kestrel forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logPath := fs.String("log", "", "recorded log to forward: JSON lines, .zst, .kbin or .kpb (required)")
	cf := addConnFlags(fs)
	lf := addLogFlags(fs)
	format := fs.String("format", "kbin", "record encoding: kbin (binary blocks, zstd), jsonl or kpb (protobuf EventBatch)")
	acks := fs.String("acks", "all", "acknowledgement: all (idempotent), leader or none")
	linger := fs.Duration("linger", kafka.DefaultLinger, "how long an event waits for its batch to fill")
	batch := fs.Int("batch-events", kafka.DefaultBatchEvents, "events per batch (one record per entity in a batch)")
	speed := fs.Float64("speed", 0, "replay speed: 0 as fast as possible, 1 recorded pace, 2 twice as fast")
	lenient := fs.Bool("lenient", false, "skip and count bad log records instead of stopping at the first")
	timeout := fs.Duration("timeout", commandTimeout, "how long to wait for the last acknowledgements")
	quiet := fs.Bool("q", false, "no summary on stderr")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kestrel forward: "+format+"\n", a...)
		return exitUsage
	}
	if *logPath == "" || fs.NArg() != 0 {
		return usage("-log is required, and no arguments are taken")
	}
	if *speed < 0 || math.IsNaN(*speed) || math.IsInf(*speed, 0) {
		return usage("-speed must be a finite number >= 0")
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return usage("%v", err)
	}
	cfg, err := cf.config(lookupEnv, logger)
	if err != nil {
		return usage("%v", err)
	}
	if cfg.Format, err = kafka.ParseFormat(*format); err != nil {
		return usage("-format: %v", err)
	}
	if cfg.Acks, err = kafka.ParseAcks(*acks); err != nil {
		return usage("-acks: %v", err)
	}
	cfg.Linger, cfg.BatchEvents = *linger, *batch
	if *linger == 0 {
		cfg.Linger = -1 // no lingering
	}
	if err := cfg.Validate(); err != nil {
		return usage("%v", err)
	}

	fwd, err := kafka.NewForwarder(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "kestrel forward: %v\n", err)
		return exitFail
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
	code := exitOK
	if rerr != nil && !errors.Is(rerr, context.Canceled) {
		fmt.Fprintf(stderr, "kestrel forward: %v\n", rerr)
		code = exitFail
	}
	if cerr != nil || st.Failed > 0 || st.Delivered != st.Events {
		if cerr != nil {
			fmt.Fprintf(stderr, "kestrel forward: %v\n", cerr)
		}
		code = exitFail
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
