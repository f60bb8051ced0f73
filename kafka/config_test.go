package kafka

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Brokers: []string{"localhost:9092"}}.withDefaults()
	f := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	f("ClientID", c.ClientID, DefaultClientID)
	f("Topic", c.Topic, DefaultTopic)
	f("DeadLetterTopic", c.DeadLetterTopic, DefaultTopic+DeadLetterSuffix)
	f("AlertTopic", c.AlertTopic, DefaultAlertTopic)
	f("Group", c.Group, DefaultGroup)
	f("Format", c.Format, FormatBinary)
	f("Acks", c.Acks, AcksAll)
	f("Linger", c.Linger, DefaultLinger)
	f("BatchEvents", c.BatchEvents, DefaultBatchEvents)
	f("BatchBytes", c.BatchBytes, DefaultBatchBytes)
	f("DeliveryTimeout", c.DeliveryTimeout, DefaultDeliveryTimeout)
	f("CompressionLevel", c.CompressionLevel, DefaultCompressionLevel)
	f("Lanes", c.Lanes, runtime.GOMAXPROCS(0))
	f("StartOffset", c.StartOffset, StartEarliest)
	f("MaxPollRecords", c.MaxPollRecords, DefaultMaxPollRecords)
	f("CommitInterval", c.CommitInterval, DefaultCommitInterval)
	f("SessionTimeout", c.SessionTimeout, DefaultSessionTimeout)
	f("HeartbeatInterval", c.HeartbeatInterval, DefaultHeartbeatInterval)
	f("RebalanceTimeout", c.RebalanceTimeout, DefaultRebalanceTimeout)
	f("DrainTimeout", c.DrainTimeout, DefaultDrainTimeout)
	f("MaxRecordEvents", c.MaxRecordEvents, DefaultMaxRecordEvents)
	if c.Logger == nil || c.LookupEnv == nil {
		t.Error("Logger and LookupEnv must default")
	}
	// A short session pulls the heartbeat and the drain down with it.
	c = Config{Brokers: []string{"b:1"}, SessionTimeout: 3 * time.Second, RebalanceTimeout: 10 * time.Second}.withDefaults()
	f("HeartbeatInterval", c.HeartbeatInterval, time.Second)
	f("DrainTimeout", c.DrainTimeout, 5*time.Second)
	if err := (Config{Brokers: []string{"localhost:9092"}}).Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := Config{Brokers: []string{"localhost:9092"}}
	f := func(field string, mutate func(*Config)) {
		t.Helper()
		c := ok
		mutate(&c)
		err := c.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%s: Validate() = %v, want a *ConfigError", field, err)
		}
		if ce.Field != field {
			t.Fatalf("Validate() names %s (%v), want %s", ce.Field, err, field)
		}
		if !strings.HasPrefix(err.Error(), "kafka: invalid config: "+field+": ") {
			t.Fatalf("message %q", err)
		}
	}
	f("Brokers", func(c *Config) { c.Brokers = nil })
	f("Brokers", func(c *Config) { c.Brokers = []string{"a:1,b:2"} })
	f("Brokers", func(c *Config) { c.Brokers = []string{" "} })
	f("Topic", func(c *Config) { c.Topic = "bad topic" })
	f("Topic", func(c *Config) { c.Topic = strings.Repeat("t", 250) })
	f("Topic", func(c *Config) { c.Topic = ".." })
	f("DeadLetterTopic", func(c *Config) { c.DeadLetterTopic = "a/b" })
	f("DeadLetterTopic", func(c *Config) { c.Topic, c.DeadLetterTopic = "x", "x" })
	f("AlertTopic", func(c *Config) { c.AlertTopic = "é" })
	f("Format", func(c *Config) { c.Format = 7 })
	f("Acks", func(c *Config) { c.Acks = 9 })
	f("BatchEvents", func(c *Config) { c.BatchEvents = MaxBatchEvents + 1 })
	f("BatchEvents", func(c *Config) { c.BatchEvents = -1 })
	f("BatchBytes", func(c *Config) { c.BatchBytes = 10 })
	f("CompressionLevel", func(c *Config) { c.CompressionLevel = 23 })
	f("Lanes", func(c *Config) { c.Lanes = -2 })
	f("StartOffset", func(c *Config) { c.StartOffset = 5 })
	f("HeartbeatInterval", func(c *Config) { c.SessionTimeout, c.HeartbeatInterval = 6*time.Second, 6*time.Second })
	f("HeartbeatInterval", func(c *Config) { c.SessionTimeout, c.HeartbeatInterval = 3*time.Second, 2*time.Second })
	f("DialTimeout", func(c *Config) { c.DialTimeout = -1 })
	f("DeliveryTimeout", func(c *Config) { c.DeliveryTimeout = -1 })
	f("CommitInterval", func(c *Config) { c.CommitInterval = -1 })
	f("DrainTimeout", func(c *Config) { c.DrainTimeout = -1 })
	f("MaxPollRecords", func(c *Config) { c.MaxPollRecords = -1 })
	f("MaxRecordEvents", func(c *Config) { c.MaxRecordEvents = -1 })
	f("Group", func(c *Config) { c.Group = " g" })
	f("TLS.CAFile", func(c *Config) { c.TLS = &TLSConfig{CAFile: filepath.Join(dir, "missing.pem")} })
	f("TLS.CAFile", func(c *Config) { c.TLS = &TLSConfig{CAFile: notPEM} })
	f("TLS.CertFile", func(c *Config) { c.TLS = &TLSConfig{CertFile: notPEM} })
	f("TLS.CertFile", func(c *Config) { c.TLS = &TLSConfig{CertFile: notPEM, KeyFile: notPEM} })
	f("SASL.Mechanism", func(c *Config) {
		c.SASL = &SASLConfig{Mechanism: "GSSAPI", User: "u"}
		c.LookupEnv = env(map[string]string{DefaultPasswordEnv: "p"})
	})
	f("SASL.PasswordEnv", func(c *Config) {
		c.SASL = &SASLConfig{Mechanism: "PLAIN", User: "u"}
		c.LookupEnv = env(nil)
	})
	f("SASL.User", func(c *Config) {
		c.SASL = &SASLConfig{Mechanism: "SCRAM-SHA-256"}
		c.LookupEnv = env(map[string]string{DefaultPasswordEnv: "p"})
	})

	// Secrets come from the environment, under the names configured.
	c := ok
	c.SASL = &SASLConfig{Mechanism: "scram-sha-512", UserEnv: "MY_USER", PasswordEnv: "MY_PASS"}
	c.LookupEnv = env(map[string]string{"MY_USER": "alice", "MY_PASS": "secret"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.DeadLetterTopic = NoDeadLetter
	if err := c.Validate(); err != nil {
		t.Fatalf("NoDeadLetter: %v", err)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Acks{"all": AcksAll, "-1": AcksAll, "LEADER": AcksLeader, "1": AcksLeader, "none": AcksNone, "0": AcksNone} {
		if got, err := ParseAcks(in); err != nil || got != want {
			t.Errorf("ParseAcks(%q) = %v, %v", in, got, err)
		}
		if got, _ := ParseAcks(want.String()); got != want {
			t.Errorf("ParseAcks(%v.String())", want)
		}
	}
	if _, err := ParseAcks("2"); err == nil {
		t.Error("ParseAcks(2): no error")
	}
	for in, want := range map[string]Format{"kbin": FormatBinary, "binary": FormatBinary, "jsonl": FormatJSON, "JSON": FormatJSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("avro"); err == nil {
		t.Error("ParseFormat(avro): no error")
	}
	if Acks(9).String() != "acks(9)" || Format(9).String() != "format(9)" {
		t.Error("String of an unknown value")
	}
}

func TestErrors(t *testing.T) {
	re := &RecordError{Topic: "t", Partition: 3, Offset: 42, Err: errTooManyEvents}
	if re.Error() != "kafka: record t/3@42: more events than the record limit" {
		t.Errorf("RecordError: %q", re)
	}
	if !errors.Is(re, ErrBadRecord) || !errors.Is(re, errTooManyEvents) {
		t.Error("RecordError does not match")
	}
	ue := &UndeliveredError{Events: 7, Err: errors.New("timeout")}
	if ue.Error() != "kafka: 7 events not delivered: timeout" || !errors.Is(ue, ErrUndelivered) {
		t.Errorf("UndeliveredError: %q", ue)
	}
}

// TestPlainSASLNeedsTLS: PLAIN sends the password as is, so a plaintext
// connection refuses it with ErrInsecureSASL unless InsecureSASL says so;
// over TLS, or with SCRAM, it is accepted.
func TestPlainSASLNeedsTLS(t *testing.T) {
	t.Parallel()
	c := Config{Brokers: []string{"localhost:9092"}, LookupEnv: env(map[string]string{DefaultPasswordEnv: "p"})}
	c.SASL = &SASLConfig{Mechanism: "plain", User: "u"}
	err := c.Validate()
	var ce *ConfigError
	if !errors.Is(err, ErrInsecureSASL) || !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &ce) ||
		ce.Field != "SASL.Mechanism" || !strings.Contains(err.Error(), "InsecureSASL") {
		t.Fatalf("PLAIN over plaintext: %v, want a *ConfigError matching ErrInsecureSASL", err)
	}
	if _, err := NewForwarder(c); !errors.Is(err, ErrInsecureSASL) {
		t.Fatalf("NewForwarder: %v, want ErrInsecureSASL", err)
	}
	ok := func(name string, mutate func(*Config)) {
		t.Helper()
		c := c
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok("InsecureSASL", func(c *Config) { c.InsecureSASL = true })
	ok("TLS", func(c *Config) { c.TLS = &TLSConfig{} })
	ok("SCRAM", func(c *Config) { c.SASL = &SASLConfig{Mechanism: MechanismScramSHA256, User: "u"} })
}
