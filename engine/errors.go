package engine

import (
	"errors"
	"strconv"
)

// Sentinel errors. Publish and PublishBatch return exactly these values (no
// wrapping, nothing allocated), so callers may compare with == or errors.Is.
var (
	// ErrClosed: the bus (or subscriber) is shut down; the event was not
	// accepted and is not counted.
	ErrClosed = errors.New("engine: bus closed")
	// ErrDropped: the partition was full under the Drop strategy; the event
	// was counted in PartitionStats.Dropped.
	ErrDropped = errors.New("engine: partition full, event dropped")
	// ErrTimeout: the partition stayed full for BackpressureTimeout under the
	// Block strategy; the event was counted in PartitionStats.TimedOut.
	ErrTimeout = errors.New("engine: partition full, publish timed out")
	// ErrNilEvent: Publish was given a nil event; nothing is counted.
	ErrNilEvent = errors.New("engine: nil event")
	// ErrRunning: Run was called a second time.
	ErrRunning = errors.New("engine: bus already running")
	// ErrInvalidConfig is matched (errors.Is) by every error Validate returns.
	ErrInvalidConfig = errors.New("engine: invalid config")
)

// ConfigError is returned by Config.Validate and New; it names the field.
type ConfigError struct {
	Field  string // the Config field, e.g. "QueueSize"
	Reason string // what is wrong with it, with the value given
	Err    error  // the cause, when another package found it (ring.ErrBadWait); may be nil
}

// Error returns "engine: invalid config: Field: Reason".
func (e *ConfigError) Error() string {
	return "engine: invalid config: " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidConfig, and the cause when there is one.
func (e *ConfigError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidConfig, e.Err}
	}
	return []error{ErrInvalidConfig}
}

// ShutdownError is returned by Shutdown when its context ended before every
// queued event was delivered. The events it counts stay in their rings and
// in PartitionStats.Queued, so the accounting invariant still holds; they
// are not delivered.
type ShutdownError struct {
	// Queued is the number of events still in partition rings when Shutdown
	// returned. It includes the batches of workers still inside a Handler
	// call (see Running), which are released once the call returns.
	Queued uint64
	// Running is the number of workers still inside a Handler call when
	// Shutdown returned; each returns as soon as its call does. A later
	// Shutdown waits for them.
	Running int
	// Err is the context's error (context.DeadlineExceeded or
	// context.Canceled).
	Err error
}

// Error says how many events were left queued and workers left running.
func (e *ShutdownError) Error() string {
	cause := "aborted"
	if e.Err != nil {
		cause = e.Err.Error()
	}
	s := "engine: shutdown: " + cause + " with " + strconv.FormatUint(e.Queued, 10) + " events still queued"
	if e.Running > 0 {
		s += " and " + strconv.Itoa(e.Running) + " workers still in their handler"
	}
	return s
}

// Unwrap returns the context's error.
func (e *ShutdownError) Unwrap() error { return e.Err }
