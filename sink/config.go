package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/schema"
)

// Config configures an Output. The zero value of every field is a working
// default, listed beside it; Validate reports what cannot work.
type Config struct {
	// Destinations, in the order Stats lists them. At least one.
	Destinations []DestinationConfig

	// Routes are tried in order; see Route. Empty: every alert goes to
	// Default.
	Routes []Route

	// Default names the destinations of alerts that match no route. nil
	// with no Routes: every destination. nil with Routes: none, and such
	// alerts are counted as unrouted.
	Default []string

	// Dedup suppresses repeated alerts; zero Window turns it off.
	Dedup DedupConfig

	// Queue is the capacity of the queue between Emit and the dispatcher
	// (rounded up to a power of two by the ring). 0: 4096.
	Queue int

	// EmitTimeout is how long Emit may wait for room when that queue is
	// full before it gives up with ErrQueueFull. 0: it never waits.
	EmitTimeout time.Duration

	// Fields is how every destination writes alerts' fields: FieldsTagged
	// (zero: {"process.name":{"String":"bash"}}) or FieldsFlat, ECS-flat
	// plain JSON ({"process.name":"bash"}) for a SIEM to index as it is.
	Fields FieldsForm

	// Clock drives deduplication windows. nil: real monotonic time.
	Clock clock.Clock

	// Logger receives rejections, retry exhaustion and destination health
	// changes, each distinct reason once per destination. nil: silent.
	Logger *slog.Logger

	// Rand seeds the retry jitter: each destination draws one seed from it
	// in New, so a seeded source gives the same backoff in every run. nil:
	// seeded at random.
	Rand rand.Source
}

// Defaults for zero Config fields.
//
// DefaultDestQueue and DefaultRetryMax are sized together so that a
// destination rides out a 60 s outage at 10,000 alerts/s without a drop:
// the queue holds 1,048,576 alerts (105 s at that rate: the outage, the
// at most 1 s before the first retry after recovery, and room to spare
// while the backlog drains), and a retry never waits more than 1 s, so
// delivery resumes within one backoff step of the far side coming back.
// The price is memory during an outage: a full queue holds that many
// alerts (around 0.5 KiB each for a typical alert, so some 500 MiB at 1M)
// plus 8 MiB of pointers. A queue's ring grows only as alerts back up and
// is released once it drains, so a healthy destination costs next to
// nothing. Set DestinationConfig.Queue lower where memory matters more
// than a long outage.
const (
	DefaultQueue            = 4096
	DefaultDestQueue        = 1 << 20
	DefaultBlockTimeout     = 100 * time.Millisecond
	DefaultBatchMaxCount    = 100
	DefaultBatchMaxBytes    = 1 << 20
	DefaultRetryInitial     = 100 * time.Millisecond
	DefaultRetryMax         = time.Second
	DefaultDedupMaxEntries  = 65536
	maxReasonsLoggedPerDest = 256
)

// Overflow says what a destination does when its queue is full.
type Overflow uint8

const (
	// OverflowDrop drops the alert for this destination at once, counted
	// in DestinationStats.Dropped. The default.
	OverflowDrop Overflow = iota
	// OverflowBlock makes the dispatcher wait up to BlockTimeout for room,
	// then drop: backpressure for a destination that must not lose alerts
	// to a burst. While it waits no alert moves to any destination. A
	// destination whose wait timed out counts as stalled: later alerts for
	// it are dropped at once, without waiting, until its queue has room
	// again, so a dead destination holds the others up for one
	// BlockTimeout, not one per alert. Emit itself never waits beyond
	// EmitTimeout.
	OverflowBlock
)

// String returns "drop" or "block".
func (o Overflow) String() string {
	switch o {
	case OverflowDrop:
		return "drop"
	case OverflowBlock:
		return "block"
	}
	return fmt.Sprintf("overflow(%d)", uint8(o))
}

// DestinationConfig configures one destination of an Output.
type DestinationConfig struct {
	// Name identifies the destination in routes and stats. "": Dest.Name().
	Name string
	// Dest receives the alerts. The Output owns it from New on and closes
	// it in Close (if New fails, the caller still owns it).
	Dest Destination
	// Queue is the capacity of this destination's queue, in alerts, not
	// counting the batch being sent. 0: 1,048,576 (DefaultDestQueue: a
	// 60 s outage at 10,000 alerts/s).
	Queue int
	// Overflow is the policy when the queue is full. 0: OverflowDrop.
	Overflow Overflow
	// BlockTimeout bounds the wait of OverflowBlock. 0: 100 ms.
	BlockTimeout time.Duration
	// Batch bounds each Send.
	Batch BatchConfig
	// Retry governs transient failures.
	Retry RetryConfig
}

// BatchConfig bounds the batches handed to Destination.Send.
type BatchConfig struct {
	// MaxCount is the most alerts in one batch. 0: 100.
	MaxCount int
	// MaxBytes bounds a batch's size, estimated from the alerts' strings
	// without encoding them; an alert larger than this is sent alone.
	// 0: 1 MiB. The HTTP destinations also hold each request body to
	// HTTPConfig.MaxBodyBytes exactly, splitting a batch where needed.
	MaxBytes int
	// MaxWait is how long a batch that is not full waits for more alerts
	// before it is sent. 0: it does not wait; whatever is queued goes at
	// once.
	MaxWait time.Duration
}

// RetryConfig governs retries of transient failures: the n-th retry waits
// a uniformly random time in [0, min(Max, Initial·2ⁿ⁻¹)) ("full jitter").
// Retries use real time, not Config.Clock, so a frozen mock clock cannot
// stall them. A batch whose retries are exhausted is counted as dropped.
type RetryConfig struct {
	// Initial is the backoff cap of the first retry. 0: 100 ms.
	Initial time.Duration
	// Max caps the backoff, and so bounds how long after the far side
	// recovers the next attempt comes. 0: 1 s.
	Max time.Duration
	// MaxAttempts bounds the Sends of one batch, the first included.
	// 0: no bound.
	MaxAttempts int
	// MaxElapsed bounds the time from a batch's first Send to its last
	// retry. 0: no bound. With neither bound a batch is retried until it
	// is delivered or Close gives up; the queue bound still holds, so new
	// alerts are dropped (counted) meanwhile.
	MaxElapsed time.Duration
}

// Route sends the alerts it matches to its destinations. An alert matches
// when all of RuleID, MinSeverity and Tags match. Routes are tried in
// order and the first match wins; a matching route with Continue lets the
// routes after it be tried too (as in Alertmanager), and the alert goes to
// the union of the matching routes' destinations, once each. An alert no
// route matches goes to Config.Default.
type Route struct {
	// RuleID is matched with path.Match, so "proc_*" is a glob and a
	// pattern without metacharacters is an exact match ('*' does not
	// cross '/'). "": any rule.
	RuleID string
	// MinSeverity is the least severity matched. 0: any.
	MinSeverity schema.Severity
	// Tags must all be present on the alert. nil: no requirement.
	Tags []string
	// Destinations, by name. At least one.
	Destinations []string
	// Continue lets later routes match as well.
	Continue bool
}

// DedupConfig configures deduplication. Alerts with the same key (rule id,
// entity key, and the values of Fields) within Window of the first one are
// suppressed; see dedup.go.
type DedupConfig struct {
	// Window is how long after a passing alert its repeats are
	// suppressed, measured by Config.Clock. 0: deduplication off.
	Window time.Duration
	// Fields are the alert field paths whose values join the key; a
	// missing field counts as a distinct "missing" value. nil: rule and
	// entity only.
	Fields []string
	// MaxEntries bounds the keys remembered; past it the oldest is
	// evicted (counted in Stats.DedupEvicted when that loses information).
	// 0: 65536.
	MaxEntries int
}

// ErrInvalidConfig is matched (errors.Is) by every error of Validate and New.
var ErrInvalidConfig = errors.New("sink: invalid config")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// Validate reports the first problem in c, or nil. It does not modify c.
func (c *Config) Validate() error {
	if len(c.Destinations) == 0 {
		return configErr("no destinations")
	}
	if c.Queue < 0 {
		return configErr("Queue %d is negative", c.Queue)
	}
	if c.EmitTimeout < 0 {
		return configErr("EmitTimeout %v is negative", c.EmitTimeout)
	}
	if c.Fields > FieldsFlat {
		return configErr("Fields %v is not a fields form", c.Fields)
	}
	names := make(map[string]bool, len(c.Destinations))
	for i := range c.Destinations {
		d := &c.Destinations[i]
		if d.Dest == nil {
			return configErr("destination %d (%q) has no Dest", i, d.Name)
		}
		name := d.name()
		if name == "" {
			return configErr("destination %d has no name", i)
		}
		if names[name] {
			return configErr("destination name %q used twice", name)
		}
		names[name] = true
		if err := d.validate(); err != nil {
			return configErr("destination %q: %v", name, err)
		}
	}
	for i, r := range c.Routes {
		if _, err := path.Match(r.RuleID, ""); err != nil {
			return configErr("route %d: RuleID %q: %v", i, r.RuleID, err)
		}
		if r.MinSeverity >= schema.NumSeverities {
			return configErr("route %d: MinSeverity %d out of range", i, uint8(r.MinSeverity))
		}
		if len(r.Destinations) == 0 {
			return configErr("route %d has no destinations", i)
		}
		for _, n := range r.Destinations {
			if !names[n] {
				return configErr("route %d: unknown destination %q", i, n)
			}
		}
	}
	for _, n := range c.Default {
		if !names[n] {
			return configErr("Default: unknown destination %q", n)
		}
	}
	dd := c.Dedup
	if dd.Window < 0 {
		return configErr("Dedup.Window %v is negative", dd.Window)
	}
	if dd.MaxEntries < 0 {
		return configErr("Dedup.MaxEntries %d is negative", dd.MaxEntries)
	}
	return nil
}

func (d *DestinationConfig) name() string {
	if d.Name != "" {
		return d.Name
	}
	if d.Dest != nil {
		return d.Dest.Name()
	}
	return ""
}

func (d *DestinationConfig) validate() error {
	switch {
	case d.Queue < 0:
		return fmt.Errorf("Queue %d is negative", d.Queue)
	case d.Overflow > OverflowBlock:
		return fmt.Errorf("unknown Overflow %d", uint8(d.Overflow))
	case d.BlockTimeout < 0:
		return fmt.Errorf("BlockTimeout %v is negative", d.BlockTimeout)
	case d.Batch.MaxCount < 0, d.Batch.MaxBytes < 0, d.Batch.MaxWait < 0:
		return fmt.Errorf("negative Batch bound %+v", d.Batch)
	case d.Retry.Initial < 0, d.Retry.Max < 0, d.Retry.MaxAttempts < 0, d.Retry.MaxElapsed < 0:
		return fmt.Errorf("negative Retry bound %+v", d.Retry)
	}
	return nil
}

// withDefaults returns d with zero fields replaced by their defaults.
func (d DestinationConfig) withDefaults() DestinationConfig {
	d.Name = d.name()
	if d.Queue == 0 {
		d.Queue = DefaultDestQueue
	}
	if d.BlockTimeout == 0 {
		d.BlockTimeout = DefaultBlockTimeout
	}
	if d.Batch.MaxCount == 0 {
		d.Batch.MaxCount = DefaultBatchMaxCount
	}
	if d.Batch.MaxBytes == 0 {
		d.Batch.MaxBytes = DefaultBatchMaxBytes
	}
	if d.Retry.Initial == 0 {
		d.Retry.Initial = DefaultRetryInitial
	}
	if d.Retry.Max == 0 {
		d.Retry.Max = DefaultRetryMax
	}
	if d.Retry.Max < d.Retry.Initial {
		d.Retry.Max = d.Retry.Initial
	}
	return d
}
