package detect

import (
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/rule"
)

// Reload hands sequence state from one Detector to the next.
//
// A rule's partial matches are kept when its compiled form is unchanged:
// the same rule id (which places its join keys on partitions), the same
// rule.eql text, the same effective maxspan (the query's, or the
// manifest's max_span_ms), and the same schema under the fields and event
// types it references (IDs and types, as resolved). Its name, severity,
// tags and description may change: a carried match completes as an
// alert of the new manifest. Every other rule's partial matches are
// dropped and counted as Evictions.Reload, on the rule of the old
// Detector.
//
// The state of a partition belongs to its worker goroutine, so it moves
// there too: the first batch a partition hands the new Detector first
// takes over that partition's state from the old one (from the one before
// it, if the old one never ran that partition). Until then the old
// Detector's Stats still show it. Nothing is shared between goroutines,
// and Handle stays free of locks.

// ReloadReport says which rules' partial matches a Reload carries over
// and which it drops. Event rules hold no state and are in neither list.
type ReloadReport struct {
	// Kept are the new set's sequence rules whose state carries over.
	Kept []string
	// Dropped are the old set's sequence rules whose state is dropped:
	// changed or removed (a changed rule may be in the new set, under the
	// same id, starting afresh).
	Dropped []string
}

// Reload compiles cfg.Rules as New does and returns a Detector to hand
// the bus's batches to instead of d, which keeps the partial matches of
// every rule whose compiled form is unchanged (see ReloadReport). The
// caller switches between batches: once a partition's worker called the
// new Detector's Handle, it must not call d's again for that partition
// (a later call would find d's state moved and start afresh).
//
// cfg.Partitions must equal d's, since where a join key's state lives
// depends on it; otherwise Reload fails with a *ConfigError. A changed
// MaxPatternBytes or PatternBudget changes what every pattern test reads,
// so nothing is carried then. Errors match ErrInvalidConfig, as New's.
func (d *Detector) Reload(cfg Config) (*Detector, ReloadReport, error) {
	var rep ReloadReport
	if p := max(cfg.Partitions, 1); p != len(d.workers) {
		return nil, rep, &ConfigError{"Partitions", strconv.Itoa(p) + " differs from the running Detector's " +
			strconv.Itoa(len(d.workers)) + ": partial matches live on the partition their join key hashes to"}
	}
	nd, err := New(cfg)
	if err != nil {
		return nil, rep, err
	}
	same := nd.cfg.MaxPatternBytes == d.cfg.MaxPatternBytes && nd.cfg.PatternBudget == d.cfg.PatternBudget
	old := map[string]int{} // match key -> old rule index
	for j, r := range d.rules {
		if r.seq && same {
			old[matchKey(d.cfg.Rules[j])] = j
		}
	}
	nd.carry = make([]int, len(nd.rules))
	kept := make([]bool, len(d.rules))
	for i, r := range nd.rules {
		nd.carry[i] = -1
		if !r.seq {
			continue
		}
		if j, ok := old[matchKey(cfg.Rules[i])]; ok && !kept[j] {
			nd.carry[i], kept[j] = j, true
			rep.Kept = append(rep.Kept, r.id)
		}
	}
	for j, r := range d.rules {
		if r.seq && !kept[j] {
			rep.Dropped = append(rep.Dropped, r.id)
		}
	}
	nd.from = make([]*worker, len(d.workers))
	copy(nd.from, d.workers)
	nd.log.Debug("detect: reloaded", "kept", rep.Kept, "dropped", rep.Dropped)
	return nd, rep, nil
}

// inherit moves partition p's state from the Detector this one was
// reloaded from; it runs on p's worker goroutine, before p's first batch.
func (d *Detector) inherit(p int) {
	old := d.from[p]
	d.from[p] = nil
	if od := old.d; od.from != nil && od.from[p] != nil {
		od.inherit(p) // the old Detector never ran p: its state is further back
	}
	w := d.workers[p]
	w.watermark = max(w.watermark, old.watermark)
	// The alerts the old worker raised come back to its slab: take it.
	w.slab, old.slab = old.slab, w.slab
	kept := make([]bool, len(old.seq))
	for _, j := range d.carry {
		if j >= 0 {
			kept[j] = true
		}
	}
	for j, s := range old.seq {
		if s == nil || kept[j] {
			continue
		}
		for s.head != nil {
			ks := s.head
			s.counters.reload.Add(ks.dropped())
			old.remove(s, ks)
		}
	}
	// w is empty: Handle runs inherit before p's first batch.
	for i, j := range d.carry {
		if j < 0 {
			continue
		}
		// The whole seqState changes hands (the new worker's empty one goes
		// to the old worker), re-pointed at the new rule and counters.
		moved, empty := old.seq[j], w.seq[i]
		moved.r, empty.r = empty.r, moved.r
		moved.counters, empty.counters = empty.counters, moved.counters
		w.seq[i], old.seq[j] = moved, empty
		w.noteLive(moved)
		old.noteLive(empty)
		for ks := moved.head; ks != nil; ks = ks.next {
			ks.rule = i
		}
		for ks := moved.free; ks != nil; ks = ks.next {
			ks.rule = i
		}
		from, to := empty.counters, moved.counters
		to.states.Add(from.states.Swap(0))
		to.partials.Add(from.partials.Swap(0))
		to.bytes.Add(from.bytes.Swap(0))
		to.held.Add(from.held.Swap(0))
	}
	// Matches held for a trailing missing-event step move with their
	// keyStates; those of dropped rules were released from old.held above.
	w.ghead, w.gtail, w.nStates, w.bytes, w.held = old.ghead, old.gtail, old.nStates, old.bytes, old.held
	old.ghead, old.gtail, old.nStates, old.bytes, old.held = nil, nil, 0, 0, 0
}

// matchKey is what must be equal for a rule's partial matches to mean the
// same under a new compilation: its id (the salt of its join keys'
// partitions), its text, its effective maxspan, and the IDs and types the
// schema gave the fields and event types it references.
func matchKey(p *rule.Package) string {
	var b strings.Builder
	b.WriteString(p.ID())
	b.WriteByte(0)
	b.WriteString(p.Source)
	b.WriteByte(0)
	if d, ok := p.MaxSpan(); ok {
		b.WriteString(strconv.FormatInt(int64(d), 10))
	}
	q := p.Query
	field := func(f *rule.Field) {
		b.WriteString("|" + f.Path + ":" + strconv.FormatUint(uint64(f.ID), 10) + ":" + strconv.Itoa(int(f.Type)))
		if f.Optional {
			b.WriteByte('?')
		}
		if f.Array {
			b.WriteString("[]") // tested element-wise: a change of compiled form
		}
	}
	for _, f := range q.By {
		field(f)
	}
	for _, st := range q.AllSteps() {
		b.WriteString("\x00" + st.Event + ":" + strconv.Itoa(st.Runs))
		if st.AnyType {
			b.WriteString(":any")
		}
		for _, t := range st.Types {
			b.WriteString("," + strconv.FormatUint(uint64(t), 10))
		}
		for _, f := range st.By {
			field(f)
		}
		for _, f := range st.Fields() {
			field(f)
		}
	}
	return b.String()
}
