package detect

import (
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// Evictions counts partial matches dropped before they completed, by
// reason.
type Evictions struct {
	// Expired: their maxspan passed (found by the expiry sweep, or when a
	// later step's event came too late).
	Expired uint64
	// Terminated: an until event of their join key arrived.
	Terminated uint64
	// Capacity: evicted, least recently used first, to keep within
	// MaxStatesPerRule or MaxStates. Evicted join keys count their partial
	// and held matches, and a leading missing-event mark as one.
	Capacity uint64
	// Memory: evicted, least recently used first, to keep a partition's
	// state within MaxStateBytes.
	Memory uint64
	// Reload: dropped by Detector.Reload, their rule changed or removed.
	Reload uint64
}

// Total returns the sum of the reasons.
func (e Evictions) Total() uint64 { return e.Expired + e.Terminated + e.Capacity + e.Memory + e.Reload }

// Add adds o's counts to e's, as when summing rules, partitions or the
// Detectors a reload retired.
func (e *Evictions) Add(o Evictions) {
	e.Expired += o.Expired
	e.Terminated += o.Terminated
	e.Capacity += o.Capacity
	e.Memory += o.Memory
	e.Reload += o.Reload
}

// RuleStats counts one rule's work over all partitions.
type RuleStats struct {
	ID   string
	Name string
	// Alerts is the number of matches the Output took; Dropped those it
	// refused (queue full, closed). Matches = Alerts + Dropped.
	Alerts, Dropped uint64
	// Evicted counts the rule's partial matches dropped, by reason.
	Evicted Evictions
	// Replaced counts partial matches superseded by a newer one at the same
	// step for the same join key (EQL keeps the newest).
	Replaced uint64
	// Collisions counts events whose join values hashed like another key's
	// but differed: such an event is skipped for that rule (expected never).
	Collisions uint64
	// Vetoed counts matches of a sequence's other steps that a
	// missing-event step's event ruled out (it came where the step stands),
	// so they raised no alert.
	Vetoed uint64
	// Held is the number of matches waiting now for the time in which a
	// trailing missing-event step's event would rule them out to pass (or
	// for Detector.Flush at the end of input); they are alerts to come,
	// or vetoes. A held match evicted with its join key's state counts in
	// Evicted like a partial match.
	Held uint64
	// States is the number of join keys with partial matches now, and
	// Partials the partial matches they hold.
	States, Partials uint64
	// Bytes is the memory those states hold now, as MaxStateBytes counts
	// it: fixed size plus the copies of the values they keep.
	Bytes uint64
}

// Stats is a snapshot of a Detector's counters, read without a lock.
type Stats struct {
	// Events is the number of events handled, each counted once, on its
	// home partition (Config.EntityPartition).
	Events uint64
	// Copies is the number of routed copies handled on other partitions
	// (see Detector.Route): (Events+Copies)/Events is the copies per event
	// the routing cost.
	Copies uint64
	// BadPartition counts events handed to Handle with a partition number
	// outside 0..Partitions-1; they were not examined.
	BadPartition uint64
	// PatternCuts counts the pattern tests, and the index's substring
	// scans, that read only the first Config.MaxPatternBytes (or a
	// costly test's budgeted limit) of a longer value: a match past the
	// cut was not seen. Counted by the partition that ran them (a routed
	// copy counts again), so it is not a count of events.
	PatternCuts uint64
	// Alerts and AlertsDropped sum RuleStats.Alerts and Dropped.
	Alerts, AlertsDropped uint64
	// Evicted sums every rule's evictions.
	Evicted Evictions
	// States, Partials and Bytes sum the rules' gauges; Held and Vetoed
	// the rules' counts of the same names.
	States, Partials, Bytes uint64
	Held, Vetoed            uint64
	// Rules holds one entry per rule, in Config order.
	Rules []RuleStats
}

// Add adds o's counts and gauges to r's, as when summing the Detectors a
// reload retired with the one that runs (their gauges are 0 once every
// partition has moved its state on). ID and Name stay r's.
func (r *RuleStats) Add(o RuleStats) {
	r.Alerts += o.Alerts
	r.Dropped += o.Dropped
	r.Evicted.Add(o.Evicted)
	r.Replaced += o.Replaced
	r.Collisions += o.Collisions
	r.Vetoed += o.Vetoed
	r.Held += o.Held
	r.States += o.States
	r.Partials += o.Partials
	r.Bytes += o.Bytes
}

// Add adds o's counts and gauges to s's, rule by rule (by ID; a rule only o
// has is appended), as when summing the Detectors a reload retired with the
// one that runs, so that no count goes down across a reload.
func (s *Stats) Add(o Stats) {
	s.Events += o.Events
	s.Copies += o.Copies
	s.BadPartition += o.BadPartition
	s.PatternCuts += o.PatternCuts
next:
	for _, or := range o.Rules {
		s.addTotals(or)
		for i := range s.Rules {
			if s.Rules[i].ID == or.ID {
				s.Rules[i].Add(or)
				continue next
			}
		}
		s.Rules = append(s.Rules, or)
	}
}

// addTotals adds one rule's figures to the totals that sum the rules.
func (s *Stats) addTotals(rs RuleStats) {
	s.Alerts += rs.Alerts
	s.AlertsDropped += rs.Dropped
	s.Evicted.Add(rs.Evicted)
	s.States += rs.States
	s.Partials += rs.Partials
	s.Bytes += rs.Bytes
	s.Held += rs.Held
	s.Vetoed += rs.Vetoed
}

// ruleCounters are one rule's counters in one partition. Each is written
// only by the partition's worker goroutine; the atomics publish the values
// to Stats readers (no ordering with anything else is implied).
type ruleCounters struct {
	alerts, dropped               atomic.Uint64
	expired, terminated, capacity atomic.Uint64
	memory                        atomic.Uint64
	reload                        atomic.Uint64 // written by the next Detector's worker (reload.go)
	replaced, collisions, vetoed  atomic.Uint64
	states, partials, bytes, held atomic.Int64
}

// partCounters are one partition's counters, written only by its worker
// goroutine and read by Stats; padded so partitions do not share a cache
// line.
type partCounters struct {
	_      pad.Line
	events atomic.Uint64
	copies atomic.Uint64
	cuts   atomic.Uint64
	_      [pad.CacheLine - 24]byte
}
