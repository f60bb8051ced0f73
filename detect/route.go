package detect

import (
	"slices"
	"strings"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// routeScratch is the scratch one Route call computes join keys in.
type routeScratch struct {
	buf  []byte
	vals [rule.MaxJoinFields]value.Value
	eval *evalScratch
}

// Route returns the partitions that must see ev, as an
// engine.PartitionSet: its home partition (Config.EntityPartition) when an event
// rule matches it, and the owner of each join key whose state it can
// advance or cancel (it matches a step or the until of a sequence rule).
// It is engine.Config.Route's function: give it to the bus,
//
//	bus, _ := engine.New(engine.Config{Partitions: n, Route: det.Route})
//
// and the bus copies ev into each partition named (besides its entity
// partition, which always gets it), so that what a partition decides
// depends on the log alone, not on the partition count. Without it, on
// more than one partition, sequences see only the events of their
// partition's entities.
//
// It evaluates the predicates of the rules ev's type can meet, which the
// partitions do again on the copies they get: the price of copying only
// the events that matter. It is safe for concurrent use, allocates nothing
// in the steady state (its scratch comes from a pool), and returns the
// empty set with one partition.
func (d *Detector) Route(ev *schema.Event) (m engine.PartitionSet) {
	n := len(d.workers)
	if n <= 1 || ev == nil {
		return m
	}
	sc := d.routePool.Get().(*routeScratch)
	if d.index != nil {
		for _, ri := range d.index.candidates(ev, sc.eval) {
			d.routeRule(d.rules[ri], ev, sc, &m)
		}
	} else if t := int(ev.Type); t < len(d.byType) {
		for _, r := range d.byType[t] {
			d.routeRule(r, ev, sc, &m)
		}
	}
	for _, r := range d.anyRules {
		d.routeRule(r, ev, sc, &m)
	}
	sc.eval.cut = 0 // Route's tests are counted where they run again, in the partitions
	d.routePool.Put(sc)
	return m
}

// routeRule adds to m where ev must go for rule r; it mirrors apply and
// applySeq's choice of which steps an event meets.
func (d *Detector) routeRule(r *crule, ev *schema.Event, sc *routeScratch, m *engine.PartitionSet) {
	n := len(d.workers)
	if !r.seq {
		if st := &r.steps[0]; st.hasType(ev.Type) && sc.eval.test(st, ev) {
			m.Add(d.home(ev))
		}
		return
	}
	if u := r.until; u != nil && u.hasType(ev.Type) && sc.eval.test(u, ev) {
		k, buf, ok := keyOf(ev, u.by, u.byOpt, sc.vals[:len(u.by)], sc.buf)
		sc.buf = buf
		if ok {
			m.Add(owner(r, k, n))
		}
		d.routeMissing(r, ev, sc, m) // an until event does nothing else, but may be a missing one too
		return
	}
	g, byGroup := groupTest{group: -1}, -1
	for _, i := range r.stepsOf(ev.Type) {
		st := &r.steps[i]
		if !g.test(sc.eval, st, ev) || st.byGroup == byGroup {
			continue // no match, or the same key as the step before
		}
		byGroup = st.byGroup
		k, buf, ok := keyOf(ev, st.by, st.byOpt, sc.vals[:len(st.by)], sc.buf)
		sc.buf = buf
		if ok {
			m.Add(owner(r, k, n))
		}
	}
	d.routeMissing(r, ev, sc, m)
}

// routeMissing adds to m where ev must go as an event of r's missing-event
// steps: they rule out the matches of their join key, so they go where
// its state lives, as until's do.
func (d *Detector) routeMissing(r *crule, ev *schema.Event, sc *routeScratch, m *engine.PartitionSet) {
	n := len(d.workers)
	for i := r.nPos; i < len(r.steps); i++ {
		st := &r.steps[i]
		if !st.hasType(ev.Type) || !sc.eval.test(st, ev) {
			continue
		}
		k, buf, ok := keyOf(ev, st.by, st.byOpt, sc.vals[:len(st.by)], sc.buf)
		sc.buf = buf
		if ok {
			m.Add(owner(r, k, n))
		}
	}
}

// home returns the partition that runs event rules on ev and counts it:
// its entity partition on the bus (Config.EntityPartition, required with
// more than one partition; a result out of range counts as partition 0).
func (d *Detector) home(ev *schema.Event) int {
	n := len(d.workers)
	if n <= 1 {
		return 0
	}
	if p := d.cfg.EntityPartition(ev.Entity); uint(p) < uint(n) {
		return p
	}
	return 0
}

// Routing describes, for people (kestrel validate and rules), how a rule's
// state is placed: its join key (the by fields whose values must be equal
// across steps: "user.name", "process.entity_id = process.parent.entity_id",
// or "global" for a sequence without by; "-" for an event rule) and how
// its events are routed.
func Routing(p *rule.Package) (joinKey, route string) {
	if p == nil || p.Query == nil || len(p.Query.Steps) == 0 {
		return "-", "-"
	}
	q := p.Query
	if !q.Sequence && !q.Sample {
		return "-", "entity partition (no copies)"
	}
	var keys []string
	for _, st := range q.Steps {
		var paths []string
		for _, f := range q.By {
			paths = append(paths, f.Path)
		}
		for _, f := range st.By {
			paths = append(paths, f.Path)
		}
		k := strings.Join(paths, ",")
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 1 && keys[0] == "" {
		return "global", "one partition holds the state; events matching a step or until are copied there"
	}
	return strings.Join(keys, " = "), "events matching a step or until are copied to the partition owning the key's values"
}
