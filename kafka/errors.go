package kafka

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors; the typed errors below match them with errors.Is.
var (
	// ErrInvalidConfig is matched by every error Config.Validate and the
	// constructors return for a bad configuration.
	ErrInvalidConfig = errors.New("kafka: invalid config")
	// ErrClosed: the Forwarder or AlertDestination is closed; the event or
	// alert was not taken (and is counted as refused).
	ErrClosed = errors.New("kafka: closed")
	// ErrRunning: Source.Run was called while it already runs, or again
	// after it returned.
	ErrRunning = errors.New("kafka: source already ran")
	// ErrBadRecord is matched by a *RecordError: a record whose value does
	// not decode to events (a poison record).
	ErrBadRecord = errors.New("kafka: undecodable record")
	// ErrUndelivered is matched by an *UndeliveredError.
	ErrUndelivered = errors.New("kafka: events not delivered")
	// ErrInsecureSASL is matched by the *ConfigError of a Config that
	// would send a SASL PLAIN password over plaintext (TLS nil) without
	// InsecureSASL. It matches ErrInvalidConfig too.
	ErrInsecureSASL = errors.New("kafka: SASL PLAIN over plaintext")
)

// ConfigError names the Config field that is wrong and why.
type ConfigError struct {
	Field  string // the Config field, e.g. "Brokers" or "SASL.Mechanism"
	Reason string // what is wrong, with the value given
	// Kind, when set, is a sentinel the error also matches with
	// errors.Is, for a refusal a caller may want to tell apart
	// (ErrInsecureSASL).
	Kind error
}

// Error returns "kafka: invalid config: Field: Reason".
func (e *ConfigError) Error() string {
	return "kafka: invalid config: " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Is makes errors.Is(err, e.Kind) true when Kind is set.
func (e *ConfigError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// RecordError is a record that could not be turned into events: the
// reason a Source sent it to the dead-letter topic.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Err is the reason: a replay error (*replay.BlockError,
	// *replay.LineError, *replay.TruncatedError, ...) or a problem with the
	// record's headers.
	Err error
}

// Error returns "topic/partition@offset: reason".
func (e *RecordError) Error() string {
	return "kafka: record " + e.Topic + "/" + strconv.Itoa(int(e.Partition)) + "@" +
		strconv.FormatInt(e.Offset, 10) + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *RecordError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadRecord) true.
func (e *RecordError) Is(target error) bool { return target == ErrBadRecord }

// UndeliveredError reports events that a Forwarder could not deliver
// before its Close (or Flush) context ended, or that failed while it
// flushed.
type UndeliveredError struct {
	// Events is the number of events not acknowledged by the brokers:
	// failed, or still in flight when the context ended.
	Events uint64
	// Err is the context's error, or the first delivery error.
	Err error
}

// Error says how many events were not delivered and why.
func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("kafka: %d events not delivered: %v", e.Events, e.Err)
}

// Unwrap returns the reason.
func (e *UndeliveredError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUndelivered) true.
func (e *UndeliveredError) Is(target error) bool { return target == ErrUndelivered }
