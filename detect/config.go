package detect

import (
	"cmp"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// Defaults for zero Config fields.
const (
	// DefaultMaxStatesPerRule bounds the join keys with partial matches one
	// sequence rule keeps in one partition.
	DefaultMaxStatesPerRule = 1 << 16
	// DefaultMaxStates bounds the join keys with partial matches one
	// partition keeps over all rules.
	DefaultMaxStates = 1 << 20
	// DefaultMaxStateBytes bounds the memory one partition's partial
	// matches hold (64 MiB).
	DefaultMaxStateBytes = 64 << 20
	// DefaultMaxPatternBytes is how much of a field value a scanning
	// pattern test (a substring, a wildcard with an inner * or ?, a
	// regexp) reads at most.
	DefaultMaxPatternBytes = 4 << 10
	// DefaultPatternBudget is the modelled worst-case time one scanning
	// pattern test may take on any value (see cost.go).
	DefaultPatternBudget = 100 * time.Microsecond
	// MaxPartitions bounds Config.Partitions: Route names partitions in an
	// engine.PartitionSet (engine.MaxRoutedPartitions).
	MaxPartitions = engine.MaxRoutedPartitions
)

// ErrInvalidConfig is matched (errors.Is) by every error of Validate and
// New.
var ErrInvalidConfig = errors.New("detect: invalid config")

// Emitter takes alerts; *sink.Output is one. Emit takes ownership of the
// alert on a nil error; an error means the alert was not taken, and the
// Detector counts it in Stats.AlertsDropped.
//
// The Detector builds its alerts in memory it reuses: each has a
// sink.Recycler, and an Emitter calls the alert's Release once it is
// done with it (an Output does so when its destinations are), after which
// it must not read the alert or its fields. An Emitter that never calls
// Release works too, at the price of an allocation now and then.
type Emitter interface {
	Emit(a *sink.Alert) error
}

// Config configures a Detector. Zero fields take the defaults written
// beside them; Validate reports what cannot work.
type Config struct {
	// Rules are the rule packages to run, loaded and resolved (see
	// rule.LoadDir) against the schema of the events. Their order is the
	// order alerts for one event are emitted in.
	Rules []*rule.Package
	// Output receives the alerts. Required.
	Output Emitter
	// Partitions is the number of partitions whose workers call the
	// handler; it must equal the bus's, and the bus must route by Route
	// (engine.Config.Route) when it is more than 1. 0: 1.
	Partitions int
	// EntityPartition returns the bus's partition for an entity key
	// (engine.EntityPartition with the bus's partition count). Event rules
	// run, and events are counted, on that partition only, so each alert is
	// raised once and an event an event rule matches needs no extra copy.
	// Required with more than one partition; it must be safe for
	// concurrent use and allocate nothing.
	EntityPartition func(schema.EntityKey) int
	// Clock, when set, caps the expiry horizon: partial matches expire
	// when their maxspan has passed both in event time (the newest event
	// the partition has seen) and by this clock. Under replay it is the
	// replay's mock clock, so expiry follows event time. nil: event time
	// alone.
	Clock clock.Clock
	// Lateness is how far behind the newest event time a partition has
	// seen an event may still arrive and find the partial matches it
	// needs: expiry (maxspan passed) and the release of matches held for
	// a trailing missing-event step both wait this much longer in event
	// time. 0 suits input in timestamp order (a log replayed by one
	// producer, an Ordered bus). Input merged from sources that are each
	// in order but not with one another (several Kafka partitions, several
	// sensors) needs the largest disorder expected: without it a partial
	// match can expire, and a held match be released, before an event
	// that an earlier-timestamped source has not yet delivered. maxspan
	// itself is always judged on event timestamps, so Lateness changes
	// how long state is kept, never what matches in order.
	Lateness time.Duration
	// MaxStatesPerRule bounds, per partition, the join keys one sequence
	// rule keeps partial matches for; past it the least recently used key
	// is evicted (counted as capacity). 0: DefaultMaxStatesPerRule.
	MaxStatesPerRule int
	// MaxStates bounds, per partition, the join keys of all rules
	// together. 0: DefaultMaxStates.
	MaxStates int
	// MaxStateBytes bounds, per partition, the memory the partial matches
	// of all rules hold: each state's fixed size plus the copies of the
	// join and tested values it keeps (state owns what it keeps; nothing
	// points into events or decoder blocks). Past it, after each event,
	// the least recently used keys go (counted as Evictions.Memory). The
	// bound can be passed by one event's values for the time of that
	// event. 0: DefaultMaxStateBytes.
	MaxStateBytes int
	// MaxPatternBytes bounds the bytes of a field value that a scanning
	// pattern test reads: a substring (stringContains, "*x*"), a wildcard
	// with an inner * or ?, a regexp. Such a test sees only the value's
	// first MaxPatternBytes bytes (cut back to a rune boundary): a match
	// beyond them is not seen, and every test so cut counts in
	// Stats.PatternCuts. Equality, prefix and suffix tests are never cut
	// (they read what their literal needs). Tests whose modelled cost is
	// high read less (see PatternBudget). 0: DefaultMaxPatternBytes;
	// negative: no cap and no budget (a crafted value can then cost
	// milliseconds per event).
	MaxPatternBytes int
	// PatternBudget bounds the modelled worst-case time of one scanning
	// pattern test: a test costing c ns per byte reads at most
	// PatternBudget/c bytes (under 512 bytes, the Detector says so in
	// Warnings), and a rule with a test that could read fewer
	// than 128 bytes is rejected (*PatternCostError). 0:
	// DefaultPatternBudget.
	PatternBudget time.Duration
	// NoIndex turns off the rule index (every rule of an event's type
	// runs its predicates), for comparison: the alerts are the same.
	NoIndex bool
	// Logger receives rare diagnostics: the first refusal of each kind by
	// the Output, and rule compilation. nil: silent.
	Logger *slog.Logger
}

// ConfigError names the Config field at fault.
type ConfigError struct {
	Field, Reason string
}

// Error returns "detect: invalid config: Field: Reason".
func (e *ConfigError) Error() string {
	return "detect: invalid config: " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Validate reports the first field that cannot work, as a *ConfigError,
// or a *RuleError for a rule that cannot be compiled.
func (c *Config) Validate() error {
	if c.Output == nil {
		return &ConfigError{"Output", "nil: alerts need somewhere to go"}
	}
	if c.Partitions < 0 || c.Partitions > MaxPartitions {
		return &ConfigError{"Partitions", strconv.Itoa(c.Partitions) + " is outside 0.." + strconv.Itoa(MaxPartitions)}
	}
	if c.Partitions > 1 && c.EntityPartition == nil {
		return &ConfigError{"EntityPartition", "nil with " + strconv.Itoa(c.Partitions) + " partitions: event rules must know the bus's partition of an event"}
	}
	if c.MaxStatesPerRule < 0 {
		return &ConfigError{"MaxStatesPerRule", "negative"}
	}
	if c.MaxStates < 0 {
		return &ConfigError{"MaxStates", "negative"}
	}
	if c.Lateness < 0 {
		return &ConfigError{"Lateness", "negative"}
	}
	if c.MaxStateBytes < 0 {
		return &ConfigError{"MaxStateBytes", "negative"}
	}
	if c.PatternBudget < 0 {
		return &ConfigError{"PatternBudget", "negative"}
	}
	seen := map[string]int{}
	for i, p := range c.Rules {
		if p == nil || p.Manifest == nil || p.Query == nil {
			return &RuleError{Index: i, Err: errors.New("nil package, manifest or query")}
		}
		if j, dup := seen[p.Manifest.RuleID]; dup {
			return &RuleError{Index: i, RuleID: p.Manifest.RuleID, Err: errors.New("rule_id also used by rule " + strconv.Itoa(j))}
		}
		seen[p.Manifest.RuleID] = i
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Partitions = cmp.Or(c.Partitions, 1)
	c.MaxStatesPerRule = cmp.Or(c.MaxStatesPerRule, DefaultMaxStatesPerRule)
	c.MaxStates = cmp.Or(c.MaxStates, DefaultMaxStates)
	c.MaxStateBytes = cmp.Or(c.MaxStateBytes, DefaultMaxStateBytes)
	if c.MaxPatternBytes == 0 {
		c.MaxPatternBytes = DefaultMaxPatternBytes
	} else if c.MaxPatternBytes < 0 {
		c.MaxPatternBytes = -1
	}
	c.PatternBudget = cmp.Or(c.PatternBudget, DefaultPatternBudget)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}
