package kafka

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Defaults for the zero fields of a Config.
const (
	DefaultClientID           = "kestrel"
	DefaultTopic              = "kestrel-events"
	DefaultAlertTopic         = "kestrel-alerts"
	DefaultGroup              = "kestrel-detection"
	DeadLetterSuffix          = ".dlq" // DeadLetterTopic defaults to Topic + DeadLetterSuffix
	NoDeadLetter              = "-"    // DeadLetterTopic value that turns the dead-letter topic off
	DefaultDialTimeout        = 10 * time.Second
	DefaultLinger             = 5 * time.Millisecond
	DefaultBatchEvents        = 1024
	DefaultBatchBytes         = 1 << 20
	DefaultMaxBufferedRecords = 10000
	DefaultDeliveryTimeout    = 30 * time.Second
	DefaultCompressionLevel   = 1
	DefaultMaxPollRecords     = 500
	DefaultCommitInterval     = time.Second
	DefaultSessionTimeout     = 20 * time.Second
	DefaultHeartbeatInterval  = 2 * time.Second
	DefaultRebalanceTimeout   = 60 * time.Second
	DefaultDrainTimeout       = 30 * time.Second
	DefaultMaxRecordEvents    = 1 << 16
	DefaultUserEnv            = "KESTREL_KAFKA_USER"
	DefaultPasswordEnv        = "KESTREL_KAFKA_PASSWORD"
	// MaxBatchEvents bounds Config.BatchEvents (each lane keeps that many
	// event copies).
	MaxBatchEvents = 1 << 16
)

// Acks is how many replicas must have a produced record before the brokers
// acknowledge it.
type Acks uint8

const (
	// AcksAll waits for every in-sync replica: no acknowledged record is lost
	// while one replica survives. The default, and what idempotence needs.
	AcksAll Acks = iota
	// AcksLeader waits for the partition leader only; the producer is then
	// not idempotent (a retry may duplicate a record).
	AcksLeader
	// AcksNone does not wait: records may be lost without anyone knowing,
	// and the delivered counts only mean "sent".
	AcksNone
)

// String returns "all", "leader" or "none".
func (a Acks) String() string {
	switch a {
	case AcksAll:
		return "all"
	case AcksLeader:
		return "leader"
	case AcksNone:
		return "none"
	}
	return fmt.Sprintf("acks(%d)", uint8(a))
}

// ParseAcks parses "all" (or "-1"), "leader" (or "1") and "none" (or "0").
func ParseAcks(s string) (Acks, error) {
	switch strings.ToLower(s) {
	case "all", "-1":
		return AcksAll, nil
	case "leader", "1":
		return AcksLeader, nil
	case "none", "0":
		return AcksNone, nil
	}
	return 0, fmt.Errorf("kafka: unknown acks %q (want all, leader or none)", s)
}

// StartOffset is where a Source's group starts reading a partition for
// which it has no committed offset.
type StartOffset uint8

const (
	// StartEarliest reads from the oldest record kept: detection misses
	// nothing the topic still holds. The default.
	StartEarliest StartOffset = iota
	// StartLatest reads only records produced after the group joined.
	StartLatest
)

// Config configures the bridge: the connection every role shares (brokers,
// TLS, SASL, client id) and each role's settings. The zero value of every
// field is a documented default except Brokers, which must be set. A
// Forwarder reads the connection, Topic and the forwarder fields; a Source
// the connection, Topic, DeadLetterTopic, Group and the source fields; an
// AlertDestination the connection, AlertTopic, Acks and DeliveryTimeout.
type Config struct {
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string
	// ClientID names this client to the brokers (in their logs, quotas and
	// metrics). Default DefaultClientID.
	ClientID string
	// TLS, when set, encrypts every connection (and authenticates this
	// client with a certificate for mutual TLS). nil: plaintext.
	TLS *TLSConfig
	// SASL, when set, authenticates with a user name and a password read
	// from the environment. nil: no authentication.
	SASL *SASLConfig
	// InsecureSASL allows SASL PLAIN over a plaintext connection (TLS nil),
	// which sends the password unencrypted to anyone on the path; without
	// it Validate refuses that with ErrInsecureSASL. Set it only for a
	// broker on a trusted network (a test cluster on loopback).
	InsecureSASL bool
	// DialTimeout bounds opening a connection. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// LookupEnv reads the environment for secrets. Default os.LookupEnv;
	// tests inject their own.
	LookupEnv func(key string) (string, bool)
	// Logger receives rare diagnostics (delivery failures, poison records,
	// rebalances, the client's warnings), never a line per event. Default
	// (nil) discards; the package never prints.
	Logger *slog.Logger

	// Topic carries the events. Default DefaultTopic.
	Topic string
	// DeadLetterTopic receives the records a Source cannot decode, with the
	// reason in a header. Default Topic+DeadLetterSuffix; NoDeadLetter turns
	// it off (poison records are then counted, logged and skipped).
	DeadLetterTopic string
	// AlertTopic receives alerts from an AlertDestination. Default
	// DefaultAlertTopic.
	AlertTopic string

	// Format is how a Forwarder encodes events in a record. Default
	// FormatBinary (the binary block log of package replay, zstd).
	Format Format
	// Acks is what a produced record waits for. Default AcksAll, with the
	// idempotent producer; any other value turns idempotence off.
	Acks Acks
	// Linger is how long a Forwarder holds an event while its batch fills;
	// it bounds the latency batching adds. Default DefaultLinger. A
	// negative value means no lingering: each Publish's event is flushed at
	// once (one record per event).
	Linger time.Duration
	// BatchEvents is how many events a Forwarder lane buffers before it
	// flushes them as records (one record per entity key in the batch).
	// Default DefaultBatchEvents, at most MaxBatchEvents.
	BatchEvents int
	// BatchBytes bounds a produce batch (and so a record) on the wire; a
	// Forwarder splits an entity's events over several records rather than
	// pass it. Default DefaultBatchBytes (1 MiB, the brokers' usual message
	// limit).
	BatchBytes int
	// MaxBufferedRecords bounds the records produced and not yet
	// acknowledged; past it a flush waits (backpressure on the sensor).
	// Default DefaultMaxBufferedRecords.
	MaxBufferedRecords int
	// DeliveryTimeout bounds how long a produced record may wait to be
	// acknowledged before it fails and is counted. Default
	// DefaultDeliveryTimeout; at least one second.
	DeliveryTimeout time.Duration
	// CompressionLevel is the zstd level of binary records, 1 (fastest) to
	// 22. Default DefaultCompressionLevel.
	CompressionLevel int
	// Lanes is the number of independent batches a Forwarder fills (an
	// entity always uses the same lane). Default GOMAXPROCS.
	Lanes int

	// Group is the consumer group the detection nodes' Sources join.
	// Default DefaultGroup.
	Group string
	// StartOffset is where the group starts on a partition with no
	// committed offset. Default StartEarliest.
	StartOffset StartOffset
	// MaxPollRecords bounds the records a Source handles between two chances
	// for the group to rebalance. Default DefaultMaxPollRecords.
	MaxPollRecords int
	// CommitInterval is how often a Source commits the offsets whose events
	// the bus's workers have handled. Default DefaultCommitInterval.
	CommitInterval time.Duration
	// SessionTimeout is how long the group waits for a silent member before
	// giving its partitions to others. Default DefaultSessionTimeout.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member tells the group it lives; it
	// is also how soon a member notices a rebalance. Default
	// DefaultHeartbeatInterval, at most a third of SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long members may take to hand partitions
	// over in a rebalance. Default DefaultRebalanceTimeout.
	RebalanceTimeout time.Duration
	// DrainTimeout bounds how long a Source waits, when it gives up
	// partitions or stops, for the workers to handle the events it already
	// published, before it commits what was handled. Default
	// DefaultDrainTimeout; keep it below RebalanceTimeout.
	DrainTimeout time.Duration
	// MaxRecordEvents bounds the events of one record; a record with more is
	// poison. Default DefaultMaxRecordEvents.
	MaxRecordEvents int
	// Registry, when set, makes a Source check each decoded event against
	// it: a record with an unknown field or a mistyped value is poison. It
	// checks events before any mapping (Local), so a Source that maps
	// records of other schemas leaves it nil.
	Registry *schema.Registry

	// SchemaID and SchemaVersion, when SchemaID is set, make a Forwarder
	// name the schema of its events in every record's HeaderSchema header.
	SchemaID      string
	SchemaVersion uint32
	// Local, when set, makes a Source map the events of a record whose
	// HeaderSchema names a schema id other than Local's into Local's IDs
	// (schema.Mapping), through the registry Resolve returns for that id
	// and version; each mapping is built once, on the first record naming
	// it. A record whose schema Resolve cannot give is poison; events of a
	// type Local lacks are skipped and counted (SourceStats.Unmapped).
	// A record naming Local's id at another version is taken as it is when
	// Resolve is nil or the two versions are compatible (schema.Compatible,
	// either way round: the IDs agree), and mapped otherwise.
	Local *schema.Registry
	// Resolve returns the schema a record names; it needs Local.
	Resolve func(id string, version uint32) (*schema.Registry, error)
	// Mapping configures the mappings (a vendor Namespace).
	Mapping schema.MappingOptions
}

// TLSConfig configures TLS. The files are PEM.
type TLSConfig struct {
	// CAFile holds the certificates that may sign the brokers'; "" trusts
	// the system's roots.
	CAFile string
	// CertFile and KeyFile hold this client's certificate and key, for
	// mutual TLS. Both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked against the brokers'
	// certificates. Default: the broker's host name.
	ServerName string
	// InsecureSkipVerify accepts any broker certificate. Tests only.
	InsecureSkipVerify bool
	// Base, when set, is cloned and used as the starting point; the files
	// and fields above are applied on top.
	Base *tls.Config
}

// SASLConfig configures SASL authentication. The password is never part
// of the configuration: it is read from the environment variable
// PasswordEnv each time a connection authenticates, so it can rotate.
type SASLConfig struct {
	// Mechanism is "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512". Required.
	// PLAIN sends the password as is: Validate refuses it without TLS
	// unless Config.InsecureSASL is set.
	Mechanism string
	// User is the user name; when empty it is read from UserEnv.
	User string
	// UserEnv names the environment variable holding the user name when
	// User is empty. Default DefaultUserEnv.
	UserEnv string
	// PasswordEnv names the environment variable holding the password.
	// Default DefaultPasswordEnv.
	PasswordEnv string
}

// SASL mechanisms.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.ClientID = cmp.Or(c.ClientID, DefaultClientID)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	if c.LookupEnv == nil {
		c.LookupEnv = os.LookupEnv
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	c.Topic = cmp.Or(c.Topic, DefaultTopic)
	c.DeadLetterTopic = cmp.Or(c.DeadLetterTopic, c.Topic+DeadLetterSuffix)
	c.AlertTopic = cmp.Or(c.AlertTopic, DefaultAlertTopic)
	c.Linger = cmp.Or(c.Linger, DefaultLinger)
	c.BatchEvents = cmp.Or(c.BatchEvents, DefaultBatchEvents)
	c.BatchBytes = cmp.Or(c.BatchBytes, DefaultBatchBytes)
	c.MaxBufferedRecords = cmp.Or(c.MaxBufferedRecords, DefaultMaxBufferedRecords)
	c.DeliveryTimeout = cmp.Or(c.DeliveryTimeout, DefaultDeliveryTimeout)
	c.CompressionLevel = cmp.Or(c.CompressionLevel, DefaultCompressionLevel)
	c.Lanes = cmp.Or(c.Lanes, runtime.GOMAXPROCS(0))
	c.Group = cmp.Or(c.Group, DefaultGroup)
	c.MaxPollRecords = cmp.Or(c.MaxPollRecords, DefaultMaxPollRecords)
	c.CommitInterval = cmp.Or(c.CommitInterval, DefaultCommitInterval)
	c.SessionTimeout = cmp.Or(c.SessionTimeout, DefaultSessionTimeout)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, min(DefaultHeartbeatInterval, c.SessionTimeout/3))
	c.RebalanceTimeout = cmp.Or(c.RebalanceTimeout, DefaultRebalanceTimeout)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, min(DefaultDrainTimeout, c.RebalanceTimeout/2))
	c.MaxRecordEvents = cmp.Or(c.MaxRecordEvents, DefaultMaxRecordEvents)
	if c.SASL != nil {
		s := *c.SASL
		s.UserEnv = cmp.Or(s.UserEnv, DefaultUserEnv)
		s.PasswordEnv = cmp.Or(s.PasswordEnv, DefaultPasswordEnv)
		c.SASL = &s
	}
	return c
}

// Validate reports the first field that cannot work as a *ConfigError
// (matching ErrInvalidConfig), or nil. Zero fields are valid, except
// Brokers; a SASL password (and user, when read from the environment) must
// be present in the environment. Validate does not modify c and opens no
// file or connection beyond reading the TLS files.
func (c Config) Validate() error {
	_, err := c.validated()
	return err
}

func bad(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// validated fills the defaults and checks the result.
func (c Config) validated() (Config, error) {
	c = c.withDefaults()
	if len(c.Brokers) == 0 {
		return c, bad("Brokers", "at least one seed broker (host:port) is required")
	}
	for i, b := range c.Brokers {
		if strings.TrimSpace(b) == "" || strings.ContainsAny(b, " \t,") {
			return c, bad("Brokers", "broker %d: %q is not host:port", i, b)
		}
	}
	for _, t := range []struct{ field, name string }{
		{"Topic", c.Topic}, {"DeadLetterTopic", c.DeadLetterTopic}, {"AlertTopic", c.AlertTopic},
	} {
		if t.field == "DeadLetterTopic" && t.name == NoDeadLetter {
			continue
		}
		if err := checkTopic(t.name); err != nil {
			return c, bad(t.field, "%v", err)
		}
	}
	if c.DeadLetterTopic == c.Topic {
		return c, bad("DeadLetterTopic", "%q is the events topic itself", c.Topic)
	}
	if err := schema.ValidSchemaID(c.SchemaID); err != nil {
		return c, bad("SchemaID", "%v", err)
	}
	if c.Resolve != nil && c.Local == nil {
		return c, bad("Resolve", "set without Local")
	}
	switch {
	case c.DialTimeout < 0:
		return c, bad("DialTimeout", "%v is negative", c.DialTimeout)
	case c.Format > FormatProto:
		return c, bad("Format", "unknown format %d", uint8(c.Format))
	case c.Acks > AcksNone:
		return c, bad("Acks", "unknown acks %d", uint8(c.Acks))
	case c.BatchEvents < 0 || c.BatchEvents > MaxBatchEvents:
		return c, bad("BatchEvents", "%d is out of 1..%d", c.BatchEvents, MaxBatchEvents)
	case c.BatchBytes < 1024 || c.BatchBytes > 1<<30:
		return c, bad("BatchBytes", "%d is out of 1 KiB..1 GiB", c.BatchBytes)
	case c.MaxBufferedRecords < 0:
		return c, bad("MaxBufferedRecords", "%d is negative", c.MaxBufferedRecords)
	case c.DeliveryTimeout < time.Second:
		return c, bad("DeliveryTimeout", "%v is less than the client's least, 1s", c.DeliveryTimeout)
	case c.CompressionLevel < 1 || c.CompressionLevel > 22:
		return c, bad("CompressionLevel", "%d is out of 1..22", c.CompressionLevel)
	case c.Lanes < 0 || c.Lanes > 1<<10:
		return c, bad("Lanes", "%d is out of 1..1024", c.Lanes)
	case c.StartOffset > StartLatest:
		return c, bad("StartOffset", "unknown start offset %d", uint8(c.StartOffset))
	case c.MaxPollRecords < 0:
		return c, bad("MaxPollRecords", "%d is negative", c.MaxPollRecords)
	case c.CommitInterval < 0:
		return c, bad("CommitInterval", "%v is negative", c.CommitInterval)
	case c.SessionTimeout < 0:
		return c, bad("SessionTimeout", "%v is negative", c.SessionTimeout)
	case c.HeartbeatInterval < 0 || c.HeartbeatInterval > c.SessionTimeout/3:
		return c, bad("HeartbeatInterval", "%v must be positive and at most a third of SessionTimeout (%v)",
			c.HeartbeatInterval, c.SessionTimeout)
	case c.RebalanceTimeout < 0:
		return c, bad("RebalanceTimeout", "%v is negative", c.RebalanceTimeout)
	case c.DrainTimeout < 0:
		return c, bad("DrainTimeout", "%v is negative", c.DrainTimeout)
	case c.MaxRecordEvents < 0:
		return c, bad("MaxRecordEvents", "%d is negative", c.MaxRecordEvents)
	}
	if g := c.Group; strings.TrimSpace(g) != g || len(g) > 255 {
		return c, bad("Group", "%q has surrounding spaces or is longer than 255 bytes", g)
	}
	if c.TLS != nil {
		if _, err := c.TLS.build(); err != nil {
			return c, err
		}
	}
	if c.SASL != nil {
		if _, err := c.saslMechanism(); err != nil {
			return c, err
		}
		if _, _, err := c.saslCredentials(); err != nil {
			return c, err
		}
		if strings.EqualFold(c.SASL.Mechanism, MechanismPlain) && c.TLS == nil && !c.InsecureSASL {
			return c, &ConfigError{Field: "SASL.Mechanism", Kind: ErrInsecureSASL,
				Reason: "PLAIN without TLS would send the password unencrypted: set TLS, use SCRAM, " +
					"or set InsecureSASL (flag -kafka-insecure-sasl) on a trusted network"}
		}
	}
	return c, nil
}

// checkTopic applies Kafka's rules for topic names.
func checkTopic(t string) error {
	if t == "" || t == "." || t == ".." {
		return fmt.Errorf("%q is not a topic name", t)
	}
	if len(t) > 249 {
		return fmt.Errorf("topic name of %d bytes, limit 249", len(t))
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic %q: byte %d (%q) is not one of [a-zA-Z0-9._-]", t, i, c)
		}
	}
	return nil
}

// build loads the TLS configuration.
func (t *TLSConfig) build() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.Base != nil {
		cfg = t.Base.Clone()
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, bad("TLS.CAFile", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, bad("TLS.CAFile", "%s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, bad("TLS.CertFile", "a client certificate needs both CertFile and KeyFile")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, bad("TLS.CertFile", "%v", err)
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	if t.ServerName != "" {
		cfg.ServerName = t.ServerName
	}
	if t.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// saslCredentials reads the user and password from the environment.
func (c *Config) saslCredentials() (user, pass string, err error) {
	s := c.SASL
	user = s.User
	if user == "" {
		u, ok := c.LookupEnv(s.UserEnv)
		if !ok || u == "" {
			return "", "", bad("SASL.User", "empty, and the environment variable %s is not set", s.UserEnv)
		}
		user = u
	}
	pass, ok := c.LookupEnv(s.PasswordEnv)
	if !ok {
		return "", "", bad("SASL.PasswordEnv", "the environment variable %s is not set", s.PasswordEnv)
	}
	return user, pass, nil
}

// saslMechanism returns the mechanism, reading the credentials from the
// environment at each authentication.
func (c *Config) saslMechanism() (sasl.Mechanism, error) {
	creds := func() (string, string, error) { return c.saslCredentials() }
	switch strings.ToUpper(c.SASL.Mechanism) {
	case MechanismPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			u, p, err := creds()
			return plain.Auth{User: u, Pass: p}, err
		}), nil
	case MechanismScramSHA256, MechanismScramSHA512:
		fn := func(context.Context) (scram.Auth, error) {
			u, p, err := creds()
			return scram.Auth{User: u, Pass: p}, err
		}
		if strings.EqualFold(c.SASL.Mechanism, MechanismScramSHA256) {
			return scram.Sha256(fn), nil
		}
		return scram.Sha512(fn), nil
	}
	return nil, bad("SASL.Mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism)
}

// clientOpts returns the options every client of this Config shares; c has
// its defaults and was validated.
func (c *Config) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.DialTimeout),
		kgo.WithLogger(kgoLogger{c.Logger}),
		kgo.SoftwareNameAndVersion("kestrel", "1"),
	}
	if c.TLS != nil {
		tc, err := c.TLS.build()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL != nil {
		m, err := c.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// validatedProducer returns c validated, with its defaults, and the
// options of a client that produces with it (the caller adds its topic).
func (c Config) validatedProducer() (Config, []kgo.Opt, error) {
	c, err := c.validated()
	if err != nil {
		return c, nil, err
	}
	opts, err := c.clientOpts()
	if err != nil {
		return c, nil, err
	}
	return c, append(opts, c.producerOpts()...), nil
}

// producerOpts returns the options of a client that produces.
func (c *Config) producerOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ProducerBatchMaxBytes(int32(c.BatchBytes)),
		kgo.MaxBufferedRecords(c.MaxBufferedRecords),
		kgo.RecordDeliveryTimeout(c.DeliveryTimeout),
		// Keyed records go by murmur2 of the key, as the Java client's
		// default partitioner sends them: every entity to one partition.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}
	// The lanes do the batching, so the client does not linger on top:
	// the records of one flush still share produce requests (they queue
	// while one is in flight), and measured latency drops by the linger
	// with no loss of throughput (BenchmarkLatency, BenchmarkForward).
	opts = append(opts, kgo.ProducerLinger(0))
	switch c.Acks {
	case AcksAll:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case AcksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	return opts
}

// readerOptions are the replay reader options a Source decodes with.
func (c *Config) readerOptions() replay.ReaderOptions {
	return replay.ReaderOptions{Registry: c.Registry}
}

// kgoLogger hands the client's log lines to a slog.Logger: errors and
// warnings as such, its informational lines (connections, rebalances) at
// debug level; its debug lines never.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	}
	k.l.Log(context.Background(), l, "kafka client: "+msg, keyvals...)
}

// errorsIsAny reports whether err matches any of targets.
func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
