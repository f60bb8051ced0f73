package detect

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// Detector runs compiled rules over the events of a partitioned bus. Its
// Handle method is the handler the bus's workers call; each partition's
// state (its partial matches) belongs to that partition's worker alone and
// is never shared between goroutines.
type Detector struct {
	cfg      Config
	rules    []*crule
	byType   [][]*crule // by event type ID: the rules with a step of that type
	anyRules []*crule   // rules with a step for any type, checked for every event
	workers  []*worker
	log      *slog.Logger
	index    *ruleIndex // nil with Config.NoIndex
	warnings []string
	// routePool holds Route's scratch, sized for this Detector's index.
	routePool sync.Pool

	// badPartition counts events handed with an out-of-range partition;
	// Add publishes the count to Stats, nothing else.
	badPartition atomic.Uint64
	// warned remembers which Output errors were logged (bit per kind), so
	// a full queue logs once, not once per alert.
	warned atomic.Uint32

	// from holds, by partition, the worker of the Detector this one was
	// reloaded from until the partition's first batch takes its state
	// over (reload.go); carry maps each rule to the old rule whose state
	// it takes, or -1. Both nil for a Detector made by New.
	from  []*worker
	carry []int
}

// New compiles cfg.Rules and returns a Detector, or an error matching
// ErrInvalidConfig.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Detector{cfg: cfg, log: cfg.Logger}
	joinGroups := map[string]int{}
	for i, p := range cfg.Rules {
		c := &compiler{maxBytes: cfg.MaxPatternBytes, budget: cfg.PatternBudget, joinGroups: joinGroups}
		r, err := compileRule(i, p, c)
		if err != nil {
			return nil, err
		}
		for _, w := range c.notes {
			d.log.Debug("detect: rule " + r.id + ": " + w)
		}
		for _, w := range c.warnings {
			w = "rule " + r.id + ": " + w
			d.warnings = append(d.warnings, w)
			d.log.Warn("detect: " + w)
		}
		d.rules = append(d.rules, r)
	}
	for _, r := range d.rules {
		steps := r.steps
		if r.until != nil {
			steps = append(steps[:len(steps):len(steps)], *r.until)
		}
		anyType := false
		for i := range steps {
			anyType = anyType || steps[i].anyType
		}
		if anyType {
			d.anyRules = append(d.anyRules, r)
			continue
		}
		for i := range steps {
			for t, ok := range steps[i].types {
				if !ok {
					continue
				}
				for len(d.byType) <= t {
					d.byType = append(d.byType, nil)
				}
				if l := d.byType[t]; len(l) == 0 || l[len(l)-1] != r {
					d.byType[t] = append(l, r)
				}
			}
		}
	}
	if !cfg.NoIndex {
		d.index = buildIndex(d.rules, d.byType)
	}
	d.routePool.New = func() any {
		return &routeScratch{buf: make([]byte, 0, 256), eval: newEvalScratch(d.index, len(d.rules))}
	}
	d.workers = make([]*worker, cfg.Partitions)
	for p := range d.workers {
		d.workers[p] = newWorker(d, p)
	}
	d.log.Debug("detect: rules compiled", "rules", len(d.rules), "partitions", cfg.Partitions)
	return d, nil
}

// Warnings returns what compiling the rules found worth saying but not
// fatal: pattern tests held by their cost (PatternBudget) to reading
// less than 512 bytes of a value, with the reason. They were also logged
// (tests held to less than MaxPatternBytes but at least 512 bytes are logged
// at debug level only).
func (d *Detector) Warnings() []string { return d.warnings }

// Handle examines a batch of events of one partition, in order. Its
// signature is engine.Handler's, so a bus runs it directly:
//
//	bus.Run(d.Handle)
//
// It must be called for a given partition from one goroutine at a time (the
// bus's worker for that partition); calls for different partitions may run
// concurrently. With more than one partition the bus must route by Route:
// a partition then sees its entities' events and the copies routed to it,
// runs event rules on the former only, and advances or cancels only the
// sequence state it owns. The events are read during the call only; the values of
// the fields a partial match tested are kept (strings by reference, Bytes
// and Arrays copied) until the match completes or is evicted.
//
// Events with a partition outside 0..Partitions-1 are counted in
// Stats.BadPartition and not examined.
func (d *Detector) Handle(partition int, batch []*schema.Event) {
	if uint(partition) >= uint(len(d.workers)) {
		d.badPartition.Add(uint64(len(batch)))
		return
	}
	if d.from != nil && d.from[partition] != nil {
		d.inherit(partition)
	}
	d.workers[partition].handle(batch)
}

// Stats returns a snapshot of the counters. It takes no lock; while
// events flow each counter is a recent value of its own.
func (d *Detector) Stats() Stats {
	s := Stats{BadPartition: d.badPartition.Load(), Rules: make([]RuleStats, len(d.rules))}
	for i, r := range d.rules {
		s.Rules[i].ID, s.Rules[i].Name = r.id, r.name
	}
	for _, w := range d.workers {
		s.Events += w.parts.events.Load()
		s.Copies += w.parts.copies.Load()
		s.PatternCuts += w.parts.cuts.Load()
		for i := range d.rules {
			c := &w.counters[i]
			rs := &s.Rules[i]
			rs.Alerts += c.alerts.Load()
			rs.Dropped += c.dropped.Load()
			rs.Evicted.Add(Evictions{Expired: c.expired.Load(), Terminated: c.terminated.Load(), Capacity: c.capacity.Load(), Memory: c.memory.Load(),
				Reload: c.reload.Load()})
			rs.Replaced += c.replaced.Load()
			rs.Collisions += c.collisions.Load()
			rs.Vetoed += c.vetoed.Load()
			rs.Held += uint64(max(c.held.Load(), 0))
			rs.States += uint64(max(c.states.Load(), 0))
			rs.Partials += uint64(max(c.partials.Load(), 0))
			rs.Bytes += uint64(max(c.bytes.Load(), 0))
		}
	}
	for _, rs := range s.Rules {
		s.addTotals(rs)
	}
	return s
}

// Flush ends the input: the matches held for a sequence's trailing
// missing-event step (Stats.Held) become alerts, since no event can come
// any more to rule them out. Call it once no Handle call runs or will run
// on the input that ended (after engine.Bus.Shutdown has drained the
// bus): at the end of a replay, or when a node stops. Partial matches stay
// as they are; events handled after Flush are matched as before.
func (d *Detector) Flush() {
	for _, w := range d.workers {
		if w.held == 0 {
			continue
		}
		for _, s := range w.seq {
			if s != nil && len(s.heldKeys) > 0 {
				w.releaseHeld(s, 0, true)
			}
		}
	}
}

// Partitions returns the number of partitions the Detector serves.
func (d *Detector) Partitions() int { return len(d.workers) }

// emit hands an alert to the Output, counting a refusal.
func (d *Detector) emit(c *ruleCounters, a *sink.Alert) {
	if err := d.cfg.Output.Emit(a); err != nil {
		c.dropped.Add(1)
		bit := uint32(1)
		switch err {
		case sink.ErrQueueFull:
			bit = 2
		case sink.ErrClosed:
			bit = 4
		}
		if d.warned.Load()&bit == 0 && d.warned.Or(bit)&bit == 0 {
			d.log.Warn("detect: alert refused by the output; further refusals are only counted", "rule", a.RuleID, "err", err)
		}
		a.Release() // not taken: back to the worker's slab
		return
	}
	c.alerts.Add(1)
}
