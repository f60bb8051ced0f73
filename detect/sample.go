package detect

import (
	"math/bits"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// A sample (sample by f [q1] [q2] ...) is Elastic's unordered
// correlation: a join key alerts once each filter has its own event with
// that key, in any order. Its keyState holds one partial per filter: the
// event assigned to it (ids[0]), the filters that event matches (mask),
// and the event's tested values for every filter it matches (its vals row
// is laid out by cstep.valOff over all filters), so an event can move to
// another filter it matches when a newcomer needs its place: assigning
// each event along an augmenting path finds a full assignment as soon as
// the events seen allow one, and an event that cannot be placed when it
// comes can never be part of one later (Kuhn's lemma), so it is not kept.
// After its alert the key starts afresh.

// sampleHit is one join key an event fills, with the filters it matches
// under that key.
type sampleHit struct {
	key  joinKey
	vals [rule.MaxJoinFields]value.Value // the join values
	nv   int
	mask uint64
}

// applySample runs ev through sample rule s: it evaluates every filter
// of ev's type, groups those it matches by join key, and offers ev to
// each key this partition owns.
func (w *worker) applySample(s *seqState, ev *schema.Event) {
	r := s.r
	hits := w.samples[:0]
	g := groupTest{group: -1}
	for _, i32 := range r.stepsOf(ev.Type) {
		i := int(i32)
		st := &r.steps[i]
		if !g.test(w.eval, st, ev) {
			continue
		}
		key, vals, ok := w.key(st, ev)
		if !ok || !w.owns(r, key) {
			continue
		}
		found := false
		for h := range hits {
			if hits[h].key == key && valuesJoin(hits[h].vals[:hits[h].nv], vals) {
				hits[h].mask |= 1 << uint(i)
				found = true
				break
			}
		}
		if !found {
			h := sampleHit{key: key, nv: len(vals), mask: 1 << uint(i)}
			copy(h.vals[:], vals)
			hits = append(hits, h)
		}
	}
	for h := range hits {
		w.sampleAdd(s, hits[h].key, hits[h].vals[:hits[h].nv], hits[h].mask, ev)
	}
	clear(hits) // nothing may keep ev's strings alive
	w.samples = hits[:0]
}

func valuesJoin(a, b []value.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !joinEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// sampleAdd gives ev, matching the filters in mask, a filter of key's
// sample if one can be freed for it, and raises the alert when every
// filter has its event.
func (w *worker) sampleAdd(s *seqState, key joinKey, vals []value.Value, mask uint64, ev *schema.Event) {
	ks, taken := w.find(s, key, vals)
	if ks == nil {
		if taken {
			return // a collision, counted by find
		}
		ks = w.create(s, key, vals)
	}
	var seen uint64
	j := assign(ks.slots, mask, &seen)
	if j < 0 {
		if ks.empty() {
			w.unlink(s, ks)
		}
		return // every filter it matches keeps an event that cannot move
	}
	p := &ks.slots[j]
	p.active, p.mask = true, mask
	ks.live++
	s.counters.partials.Add(1)
	w.recordSample(s, ks, p, ev)
	w.touch(s, ks, uint64(ev.TsMono))
	if ks.live == len(ks.slots) {
		w.completeSample(s, ks, ev)
	}
}

// assign finds a filter in mask (not in seen) for a new event: a free
// one, or one whose event moves, recursively, to another filter it
// matches. It returns the filter, now free, or -1.
func assign(slots []partial, mask uint64, seen *uint64) int {
	for m := mask; m != 0; m &= m - 1 {
		j := bits.TrailingZeros64(m)
		if *seen&(1<<uint(j)) != 0 {
			continue
		}
		*seen |= 1 << uint(j)
		if !slots[j].active {
			return j
		}
		if k := assign(slots, slots[j].mask, seen); k >= 0 {
			slots[j], slots[k] = slots[k], slots[j] // k takes j's event; j gets k's spare buffers
			return j
		}
	}
	return -1
}

// recordSample keeps ev's id and, for each filter it matches, the values
// of that filter's tested fields, owned by p's arena.
func (w *worker) recordSample(s *seqState, ks *keyState, p *partial, ev *schema.Event) {
	r := s.r
	p.ids[0] = ev.ID
	clear(p.vals)
	p.arena = p.arena[:0]
	need := 0
	for m := p.mask; m != 0; m &= m - 1 {
		for _, id := range r.steps[bits.TrailingZeros64(m)].fields {
			v, _ := ev.Get(id)
			need += payloadLen(v)
		}
	}
	if need > cap(p.arena) {
		w.growArena(s, ks, p, need)
	}
	for m := p.mask; m != 0; m &= m - 1 {
		st := &r.steps[bits.TrailingZeros64(m)]
		for k, id := range st.fields {
			v, _ := ev.Get(id)
			p.arena, p.vals[st.valOff+k] = ownInto(p.arena, v)
		}
	}
}

// completeSample raises the alert of ks's full sample, completed by ev,
// and empties ks: the key starts afresh.
func (w *worker) completeSample(s *seqState, ks *keyState, ev *schema.Event) {
	r := s.r
	ids := w.slab.eventIDs(len(ks.slots))
	fields := w.slab.fieldList(len(ks.by) + r.nVals)
	for i, v := range ks.by {
		fields = append(fields, sink.AlertField{Path: r.byPaths[i], Value: w.slab.own(v)})
	}
	for j := range ks.slots {
		p := &ks.slots[j]
		ids[j] = p.ids[0]
		st := &r.steps[j]
		for k, name := range st.names {
			if v := p.vals[st.valOff+k]; !v.IsNull() {
				fields = append(fields, sink.AlertField{Path: name, Value: w.slab.own(v)})
			}
		}
	}
	a := w.newAlert(r, ids, ev, fields)
	w.terminate(s, ks) // not counted as terminated: the sample completed
	w.d.emit(s.counters, a)
}
