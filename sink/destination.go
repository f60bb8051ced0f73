package sink

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Destination is one place alerts go: a writer, a file, a webhook.
//
// The Output calls Send and Close from one goroutine per destination, never
// concurrently, so an implementation needs no locking of its own for them.
// The alerts in batch are shared with other destinations and must not be
// modified; they stay valid only until Send returns. Once it has, the
// Output may hand them back to their producer (see Recycler), which
// overwrites them and the strings and bytes they reference: a destination
// that keeps anything of an alert past Send (a batch buffered for a later
// flush, an id to log later, an error's text) must copy it first, as
// every destination of this package does (it encodes alerts into its own
// buffers during Send; strings.Clone copies a string).
type Destination interface {
	// Name identifies the destination in Config, routes, stats and logs.
	Name() string
	// Send delivers batch. nil means every alert was delivered. A
	// *PermanentError (anywhere in the chain, errors.As) rejects the whole
	// batch without retry; a *PartialError says which items to retry and
	// which were rejected; any other error is transient and the whole batch
	// is retried with backoff (a *RetryAfterError in the chain lengthens
	// the wait). Send should honour ctx's cancellation.
	Send(ctx context.Context, batch []*Alert) error
	// Close releases the destination's resources; Send is not called after.
	Close() error
}

// Resender is implemented by a Destination that may write alerts again
// after Send reported them delivered, as syslog over TCP and TLS does
// after a reconnect. Stats reports Resent as DestinationStats.Resent; it
// is called concurrently with Send and must be safe for that.
type Resender interface {
	// Resent returns the alerts written again so far.
	Resent() uint64
}

// PermanentError rejects a whole batch: retrying cannot help (HTTP 400, a
// payload the far side refuses). Its alerts are counted as rejected.
type PermanentError struct {
	Reason string // short, stable text: the Output logs each distinct Reason once
	Err    error  // the underlying error, if any
}

// Error returns "sink: permanent failure: " followed by the reason and the
// underlying error.
func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "sink: permanent failure: " + e.Reason
	}
	return "sink: permanent failure: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PermanentError) Unwrap() error { return e.Err }

// PartialError reports a batch of which some items failed; every index of
// the batch listed in neither Retry nor Rejected was delivered. Indexes out
// of range are ignored, and an index in both lists counts as rejected.
type PartialError struct {
	Retry    []int       // indexes into the batch to send again (transient per item)
	Rejected []Rejection // items rejected for good
	Err      error       // the transient cause of the retries, if any (may be a *RetryAfterError)
}

// Rejection is one item of a batch that the far side refused for good.
type Rejection struct {
	Index  int    // index into the batch
	Reason string // short, stable text ("400 mapper_parsing_exception"): logged once per destination
	Detail string // the far side's message, logged with the first occurrence of Reason
}

// Error summarises the counts and the first reason.
func (e *PartialError) Error() string {
	var b strings.Builder
	b.WriteString("sink: partial failure: ")
	b.WriteString(strconv.Itoa(len(e.Retry)))
	b.WriteString(" to retry, ")
	b.WriteString(strconv.Itoa(len(e.Rejected)))
	b.WriteString(" rejected")
	if len(e.Rejected) > 0 {
		b.WriteString(" (")
		b.WriteString(e.Rejected[0].Reason)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the transient cause, if any.
func (e *PartialError) Unwrap() error { return e.Err }

// RetryAfterError is a transient failure for which the far side said how
// long to wait (HTTP Retry-After). The Output waits at least After (capped
// by RetryConfig.Max) before the next attempt.
type RetryAfterError struct {
	After time.Duration // the wait asked for
	Err   error         // the transient failure
}

// Error returns the underlying error's text and the wait.
func (e *RetryAfterError) Error() string {
	msg := "sink: transient failure"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return msg + " (retry after " + e.After.String() + ")"
}

// Unwrap returns the underlying error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// IsPermanent reports whether err rejects a whole batch for good.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
