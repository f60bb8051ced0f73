package detect

import (
	"math"
	"strings"
	"unsafe"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// Invariants of a partition's sequence state (all owned by its worker):
//
//   - A keyState is in its rule's map, its rule's LRU list and the
//     worker's LRU list (linked) exactly when it is not empty: it has
//     active partials (live counts them), a leading missing-event mark
//     (leads > 0) or held matches; the counters' states, partials and held
//     gauges mirror the sums.
//   - A keyState with held matches is in its seqState's heldKeys (inHeld);
//     entries whose keyState no longer holds any are dropped lazily.
//   - slots[i] of a keyState holds the newest partial match that has matched
//     steps 0..i and waits for step i+1; its ids[0..i] and the values of
//     those steps' tested fields are set, firstTs is step 0's event time.
//   - lastTs is the latest event time that touched the keyState, and every
//     active partial's firstTs <= lastTs: so when lastTs + maxspan is past
//     the horizon, all its partials are expired. The LRU lists are in touch
//     order, most recent at the head.

// worker is one partition's detection state.
type worker struct {
	d         *Detector
	part      int
	n         int         // partitions
	seq       []*seqState // by rule index; nil for event rules
	watermark uint64      // newest event time seen in this partition

	// LRU of every keyState of the partition, for MaxStates and
	// MaxStateBytes.
	ghead, gtail *keyState
	nStates      int
	bytes        int // memory the partition's keyStates hold (keyState.bytes summed)

	// Scratch for join keys, computed at most once per event and join
	// group (the Detector's: compiler.joinGroups), whatever the rules that
	// join on it: keyEpoch[g] == epoch marks keys[g] (or keyMissing[g])
	// current; handle moves epoch on at each event.
	epoch      uint32
	keyBuf     []byte
	keyEpoch   []uint32
	keyMissing []bool
	keys       []joinKey
	keyVals    [][rule.MaxJoinFields]value.Value

	eval *evalScratch // the index's marks and the predicates' cut count
	slab alertSlab    // the memory of the alerts this worker raises

	held    int         // matches held over all rules (see keyState.held)
	samples []sampleHit // scratch for a sample: the join keys one event fills

	counters []ruleCounters // by rule index
	parts    partCounters
}

func newWorker(d *Detector, part int) *worker {
	w := &worker{d: d, part: part, n: len(d.workers), seq: make([]*seqState, len(d.rules)), counters: make([]ruleCounters, len(d.rules)),
		eval: newEvalScratch(d.index, len(d.rules))}
	groups := 1
	for _, r := range d.rules {
		if !r.seq {
			continue
		}
		w.seq[r.idx] = &seqState{r: r, keys: map[joinKey]*keyState{}, counters: &w.counters[r.idx]}
		for i := range r.steps {
			groups = max(groups, r.steps[i].byGroup+1)
		}
		if r.until != nil {
			groups = max(groups, r.until.byGroup+1)
		}
	}
	if d.index != nil {
		w.eval.live = make([]bool, len(d.rules))
	}
	w.keyEpoch = make([]uint32, groups)
	w.keyMissing = make([]bool, groups)
	w.keys = make([]joinKey, groups)
	w.keyVals = make([][rule.MaxJoinFields]value.Value, groups)
	w.keyBuf = make([]byte, 0, 256)
	return w
}

func (w *worker) handle(batch []*schema.Event) {
	d := w.d
	copies := 0
	for _, ev := range batch {
		if ev.TsMono > schema.TimestampMono(w.watermark) {
			w.watermark = uint64(ev.TsMono)
		}
		// Event rules run on the event's home partition only, so each of
		// their alerts is raised once; routed copies serve sequences.
		home := w.n == 1 || d.home(ev) == w.part
		if !home {
			copies++
		}
		// Join keys are the event's: computed once for all the rules
		// (join groups are the Detector's), current until the next event.
		if w.epoch++; w.epoch == 0 {
			clear(w.keyEpoch) // wrapped: no stale epoch may look current
			w.epoch = 1
		}
		if d.index != nil {
			for _, ri := range d.index.candidates(ev, w.eval) {
				w.apply(d.rules[ri], ev, home)
			}
		} else if t := int(ev.Type); t < len(d.byType) {
			for _, r := range d.byType[t] {
				w.apply(r, ev, home)
			}
		}
		for _, r := range d.anyRules {
			w.apply(r, ev, home)
		}
		if w.bytes > d.cfg.MaxStateBytes {
			w.shed()
		}
	}
	w.parts.events.Add(uint64(len(batch) - copies))
	if copies > 0 {
		w.parts.copies.Add(uint64(copies))
	}
	if w.eval.cut > 0 {
		w.parts.cuts.Add(w.eval.cut)
		w.eval.cut = 0
	}
	if w.held > 0 {
		w.release()
	}
	w.expire()
}

func (w *worker) apply(r *crule, ev *schema.Event, home bool) {
	if !r.seq {
		st := &r.steps[0]
		if home && st.hasType(ev.Type) && w.eval.test(st, ev) {
			w.alertEvent(r, ev)
		}
		return
	}
	w.applySeq(w.seq[r.idx], ev)
}

// owns reports whether this partition holds rule r's state for key k.
func (w *worker) owns(r *crule, k joinKey) bool {
	return w.n == 1 || owner(r, k, w.n) == w.part
}

// seqState is one sequence rule's state in one partition.
type seqState struct {
	r          *crule
	keys       map[joinKey]*keyState
	head, tail *keyState // LRU, most recently touched first
	n          int       // keyStates in keys
	free       *keyState // recycled keyStates, linked by next
	counters   *ruleCounters
	heldKeys   []*keyState // keyStates that hold matches (see keyState.inHeld)
}

// keyState holds the partial matches of one join key.
type keyState struct {
	key          joinKey
	prev, next   *keyState // rule LRU
	gprev, gnext *keyState // worker LRU
	lastTs       uint64
	live         int
	rule         int           // index of the rule (and seqState) it belongs to
	by           []value.Value // the join values (nil without by fields), in byArena
	byArena      []byte        // owns by's strings and bytes
	bytes        int           // memory counted for it: base size plus arena capacities
	slots        []partial
	linked       bool // in the map and lists (see the invariants)

	// The latest two distinct times of events of a leading missing-event
	// step for this key (leads of them valid, newest in lead): a match
	// starting at t is ruled by the latest one before t.
	lead, prevLead uint64
	leads          uint8
	// held are completed matches that wait for a trailing missing-event
	// step's window to pass; inHeld marks ks as listed in heldKeys.
	held   []heldMatch
	inHeld bool
}

// heldMatch is a completed match of a sequence with a trailing
// missing-event step: an event of that step after end and at or before
// deadline (in event time) rules it out; past deadline, or at the end of
// input, it is an alert.
type heldMatch struct {
	alert    *sink.Alert
	end      uint64 // the time of its last event
	deadline uint64
	bytes    int // memory counted for it
}

// partial is one partial match.
type partial struct {
	active  bool
	firstTs uint64
	ids     []uint64      // event ids, by step
	vals    []value.Value // tested-field values, laid out by cstep.valOff, in arena
	arena   []byte        // owns vals' strings and bytes: nothing points into events

	// For missing-event steps: lastTs is the time of the last step
	// matched; missTs (when missed) the first event of a missing-event
	// step after it, which rules the match out if the next step comes
	// later; doomed marks a match so ruled out (it still advances, as in
	// Elastic, and completes without an alert); leadTs (when hasLead) the
	// latest event of a leading missing-event step before firstTs.
	lastTs, missTs, leadTs  uint64
	missed, doomed, hasLead bool
	// mask is, in a sample, the filters the slot's event matches.
	mask uint64
}

// pass records that p matched a step at ts: a missing-event step's event
// that came strictly between its previous step and this one dooms it.
func (p *partial) pass(ts uint64) {
	if p.missed && p.missTs < ts {
		p.doomed = true
	}
	p.missed, p.lastTs = false, ts
}

// key computes (once per event and join group) the join key of ev for st.
func (w *worker) key(st *cstep, ev *schema.Event) (joinKey, []value.Value, bool) {
	g := st.byGroup
	vals := w.keyVals[g][:len(st.by)]
	if w.keyEpoch[g] == w.epoch {
		if w.keyMissing[g] {
			return joinKey{}, nil, false
		}
		return w.keys[g], vals, true
	}
	k, buf, ok := keyOf(ev, st.by, st.byOpt, vals, w.keyBuf)
	w.keyBuf = buf
	w.keyEpoch[g], w.keyMissing[g], w.keys[g] = w.epoch, !ok, k
	if !ok {
		return joinKey{}, nil, false
	}
	return k, vals, true
}

// lookup returns the keyState of key, or nil; a hash hit whose join
// values differ is a collision, counted and treated as a miss.
func (w *worker) lookup(s *seqState, key joinKey, vals []value.Value) *keyState {
	ks, _ := w.find(s, key, vals)
	return ks
}

// find is lookup that also reports whether key is taken: by its own state,
// or, on a collision (ks nil), by another join key's.
func (w *worker) find(s *seqState, key joinKey, vals []value.Value) (ks *keyState, taken bool) {
	ks = s.keys[key]
	if ks == nil {
		return nil, false
	}
	for i := range ks.by {
		if !joinEqual(ks.by[i], vals[i]) {
			s.counters.collisions.Add(1)
			return nil, true
		}
	}
	return ks, true
}

// applySeq runs one event through one sequence rule: until first (an until
// event drops its key's partial matches and is used for nothing else), then
// the steps from last to first, so that one event never advances the same
// partial match twice.
func (w *worker) applySeq(s *seqState, ev *schema.Event) {
	r := s.r
	if r.sample {
		w.applySample(s, ev)
		return
	}
	if u := r.until; u != nil && u.hasType(ev.Type) && w.eval.test(u, ev) {
		if s.n > 0 { // else no join key has partial matches: nothing to cancel
			if key, vals, ok := w.key(u, ev); ok && w.owns(r, key) {
				if ks := w.lookup(s, key, vals); ks != nil && ks.live > 0 {
					s.counters.terminated.Add(uint64(ks.live))
					w.terminate(s, ks)
				}
			}
		}
		if r.nPos < len(r.steps) {
			w.applyMissing(s, ev) // it may be a missing-event step's event too
		}
		return
	}
	ts := uint64(ev.TsMono)
	last := r.nPos - 1
	g := groupTest{group: -1}
	for _, i32 := range r.stepsOf(ev.Type) {
		i := int(i32)
		st := &r.steps[i]
		if !g.test(w.eval, st, ev) || i > 0 && s.n == 0 {
			continue // no match, or no partial match for it to advance
		}
		key, vals, ok := w.key(st, ev)
		if !ok || !w.owns(r, key) {
			continue // another partition holds this key's state
		}
		if i == 0 {
			if ks := w.start(s, key, vals, st, ev); ks != nil && last == 0 {
				w.complete(s, ks, &ks.slots[0], ev) // a single step: its match is whole
			}
			continue
		}
		ks := w.lookup(s, key, vals)
		if ks == nil {
			continue
		}
		p := &ks.slots[i-1]
		if !p.active {
			continue
		}
		if r.hasMaxSpan && ts > p.firstTs && ts-p.firstTs > r.maxSpan {
			// Too late for this partial match, and for any later step.
			p.active = false
			s.counters.expired.Add(1)
			w.dropPartial(s, ks)
			continue
		}
		if i == last {
			p.pass(ts)
			w.complete(s, ks, p, ev)
			continue
		}
		q := &ks.slots[i]
		if q.active {
			s.counters.replaced.Add(1)
			w.dropPartial(s, ks) // live stays > 0: p is still active
		}
		*p, *q = *q, *p // q takes p's match and buffers; p q's spare buffers
		p.active = false
		q.pass(ts)
		w.record(s, ks, q, i, st, ev)
		w.touch(s, ks, ts)
	}
	if r.nPos < len(r.steps) {
		w.applyMissing(s, ev)
	}
}

// applyMissing runs ev through r's missing-event steps, after its steps
// (so that an event starting a match is not its own leading event): a
// leading step's event marks its key, a middle one the partial match
// waiting in its gap, a trailing one settles the key's held matches.
func (w *worker) applyMissing(s *seqState, ev *schema.Event) {
	r := s.r
	ts := uint64(ev.TsMono)
	for i := r.nPos; i < len(r.steps); i++ {
		m := &r.steps[i]
		if !m.hasType(ev.Type) || !w.eval.test(m, ev) {
			continue
		}
		key, vals, ok := w.key(m, ev)
		if !ok || !w.owns(r, key) {
			continue
		}
		switch {
		case m.gap < 0:
			w.markLead(s, key, vals, ts)
		case m.gap == r.nPos-1:
			if ks := w.lookup(s, key, vals); ks != nil && len(ks.held) > 0 {
				w.trail(s, ks, ts)
			}
		default:
			if ks := w.lookup(s, key, vals); ks != nil {
				if p := &ks.slots[m.gap]; p.active && !p.missed && ts > p.lastTs {
					p.missed, p.missTs = true, ts
				}
			}
		}
	}
}

// markLead records an event of a leading missing-event step for key at
// ts, keeping the key's state (created if need be) for maxspan.
func (w *worker) markLead(s *seqState, key joinKey, vals []value.Value, ts uint64) {
	ks, taken := w.find(s, key, vals)
	if ks == nil {
		if taken {
			return // a collision, counted by find
		}
		ks = w.create(s, key, vals)
	}
	switch {
	case ks.leads == 0:
		ks.lead, ks.leads = ts, 1
	case ts > ks.lead:
		ks.prevLead, ks.lead, ks.leads = ks.lead, ts, 2
	}
	w.touch(s, ks, ts)
}

// trail settles ks's held matches that an event of a trailing
// missing-event step at ts follows: within the window it rules them out,
// past it (the earliest such event being past it) they are alerts.
func (w *worker) trail(s *seqState, ks *keyState, ts uint64) {
	n := 0
	for _, h := range ks.held {
		if ts <= h.end {
			ks.held[n] = h
			n++
			continue
		}
		if ts <= h.deadline {
			s.counters.vetoed.Add(1)
		} else {
			w.d.emit(s.counters, h.alert)
		}
		w.unhold(s, ks, h)
	}
	clear(ks.held[n:])
	ks.held = ks.held[:n]
	if ks.empty() {
		w.unlink(s, ks)
	}
}

// unhold accounts for h leaving ks's held matches.
func (w *worker) unhold(s *seqState, ks *keyState, h heldMatch) {
	w.account(s, ks, -h.bytes)
	s.counters.held.Add(-1)
	w.held--
}

// hold keeps the alert a of a completed match until deadline passes.
func (w *worker) hold(s *seqState, ks *keyState, a *sink.Alert, end, deadline uint64) {
	size := heldSize + len(a.EventIDs)*8 + cap(a.Fields)*alertFieldSize
	for _, f := range a.Fields {
		size += payloadLen(f.Value)
	}
	ks.held = append(ks.held, heldMatch{alert: a, end: end, deadline: deadline, bytes: size})
	w.account(s, ks, size)
	s.counters.held.Add(1)
	w.held++
	if !ks.inHeld {
		ks.inHeld = true
		s.heldKeys = append(s.heldKeys, ks)
	}
	w.touch(s, ks, end)
}

// releaseHeld turns into alerts the held matches whose deadline is before
// limit (all of them when all is set: the end of input), and drops from
// heldKeys the keyStates left without any.
func (w *worker) releaseHeld(s *seqState, limit uint64, all bool) {
	keep := s.heldKeys[:0]
	for _, ks := range s.heldKeys {
		if len(ks.held) > 0 {
			w.releaseKey(s, ks, limit, all)
			if ks.linked && ks.empty() {
				w.unlink(s, ks)
			}
		}
		if len(ks.held) > 0 {
			keep = append(keep, ks)
		} else {
			ks.inHeld = false
		}
	}
	clear(s.heldKeys[len(keep):])
	s.heldKeys = keep
}

// releaseKey emits ks's held matches due before limit (or all).
func (w *worker) releaseKey(s *seqState, ks *keyState, limit uint64, all bool) {
	n := 0
	for _, h := range ks.held {
		if !all && h.deadline >= limit {
			ks.held[n] = h
			n++
			continue
		}
		w.d.emit(s.counters, h.alert)
		w.unhold(s, ks, h)
	}
	clear(ks.held[n:])
	ks.held = ks.held[:n]
}

// release emits every held match whose window has passed at the
// partition's horizon (its newest event time, less Config.Lateness): no
// event of its missing-event step can come in time any more.
func (w *worker) release() {
	h := w.horizon()
	for _, s := range w.seq {
		if s != nil && len(s.heldKeys) > 0 {
			w.releaseHeld(s, h, false)
		}
	}
}

// terminate drops ks's partial matches (until); what else it keeps
// (held matches, leading marks) stays.
func (w *worker) terminate(s *seqState, ks *keyState) {
	for i := range ks.slots {
		if ks.slots[i].active {
			ks.slots[i].active = false
			s.counters.partials.Add(-1)
		}
	}
	ks.live = 0
	if ks.empty() {
		w.unlink(s, ks)
	}
}

// dropped is what evicting ks loses: its partial and held matches, and
// its leading mark as one.
func (ks *keyState) dropped() uint64 {
	n := ks.live + len(ks.held)
	if ks.leads > 0 {
		n++
	}
	return uint64(n)
}

// empty reports whether ks holds nothing: no partial match, leading mark
// or held match.
func (ks *keyState) empty() bool { return ks.live == 0 && ks.leads == 0 && len(ks.held) == 0 }

// start begins a partial match at step 0 for key, replacing an older one
// waiting at step 1, and returns its keyState (nil on a collision).
func (w *worker) start(s *seqState, key joinKey, vals []value.Value, st *cstep, ev *schema.Event) *keyState {
	ks, taken := w.find(s, key, vals)
	if ks == nil {
		if taken {
			return nil // a collision, counted by find
		}
		ks = w.create(s, key, vals)
	}
	p := &ks.slots[0]
	if p.active {
		s.counters.replaced.Add(1)
	} else {
		p.active = true
		ks.live++
		s.counters.partials.Add(1)
	}
	ts := uint64(ev.TsMono)
	p.firstTs, p.lastTs, p.missed, p.doomed, p.hasLead = ts, ts, false, false, false
	if ks.leads > 0 { // the latest leading event strictly before ts
		if ks.lead < ts {
			p.leadTs, p.hasLead = ks.lead, true
		} else if ks.leads == 2 {
			p.leadTs, p.hasLead = ks.prevLead, true
		}
	}
	w.record(s, ks, p, 0, st, ev)
	w.touch(s, ks, ts)
	return ks
}

// record keeps step i's event id and tested values in p, copying what
// they reference into p's arena (step 0 starts it afresh), and accounts for
// the arena's growth in ks.
func (w *worker) record(s *seqState, ks *keyState, p *partial, i int, st *cstep, ev *schema.Event) {
	p.ids[i] = ev.ID
	if i == 0 {
		clear(p.vals) // nothing may point into the arena it reuses
		p.arena = p.arena[:0]
	}
	need := 0
	for _, id := range st.fields {
		v, _ := ev.Get(id)
		need += payloadLen(v)
	}
	if len(p.arena)+need > cap(p.arena) {
		w.growArena(s, ks, p, need)
	}
	for k, id := range st.fields {
		v, _ := ev.Get(id)
		p.arena, p.vals[st.valOff+k] = ownInto(p.arena, v)
	}
}

// payloadLen is how many arena bytes ownInto takes for v.
func payloadLen(v value.Value) int {
	switch v.Kind() {
	case value.KindString:
		s, _ := v.Str()
		return len(s)
	case value.KindBytes:
		b, _ := v.Bytes()
		return len(b)
	}
	return 0
}

// growArena gives p an arena with room for need more bytes, moving the
// values already kept into it, so no value points into the old one.
func (w *worker) growArena(s *seqState, ks *keyState, p *partial, need int) {
	used := 0
	for _, v := range p.vals {
		used += payloadLen(v)
	}
	old := cap(p.arena)
	arena := make([]byte, 0, max(2*old, used+need, 64))
	for k, v := range p.vals {
		arena, p.vals[k] = ownInto(arena, v)
	}
	p.arena = arena
	w.account(s, ks, cap(arena)-old)
}

// account adds delta bytes to ks's, its rule's and the partition's count.
func (w *worker) account(s *seqState, ks *keyState, delta int) {
	ks.bytes += delta
	w.bytes += delta
	s.counters.bytes.Add(int64(delta))
}

// ownValue copies to the heap whatever a Value references: strings too,
// which may point into a decoder's block and would pin all of it.
func ownValue(v value.Value) value.Value {
	switch v.Kind() {
	case value.KindString:
		str, _ := v.Str()
		return value.StringValue(strings.Clone(str))
	case value.KindBytes:
		b, _ := v.Bytes()
		return value.BytesValue(append([]byte(nil), b...))
	case value.KindArray:
		a, _ := v.Array()
		c := make([]value.Value, len(a))
		for i, x := range a {
			c[i] = ownValue(x)
		}
		return value.ArrayValue(c...)
	}
	return v
}

// complete turns p, finished by ev, into an alert, unless a missing-event
// step rules it out (Elastic's rules, see doc.go), or holds it while one
// still may.
func (w *worker) complete(s *seqState, ks *keyState, p *partial, ev *schema.Event) {
	r := s.r
	end := uint64(ev.TsMono)
	veto, hold, deadline := p.doomed, false, uint64(0)
	if !veto && r.hasTrail {
		// Ruled out by the first trailing event after end within maxspan
		// of the start, or, with leading steps too, of the leading event
		// (none before the start: nothing to rule it out).
		ref, ok := p.firstTs, true
		if r.hasLead {
			ref, ok = p.leadTs, p.hasLead
		}
		if ok {
			deadline = satAdd(ref, r.maxSpan)
			hold = deadline > end
		}
	} else if !veto && r.hasLead && p.hasLead && end-p.leadTs <= r.maxSpan {
		veto = true // a leading event within maxspan of the end
	}
	if veto {
		p.active = false
		s.counters.vetoed.Add(1)
		w.dropPartial(s, ks)
		return
	}
	last := r.nPos - 1
	ids := w.slab.eventIDs(last + 1)
	copy(ids, p.ids[:last])
	ids[last] = ev.ID
	fields := w.slab.fieldList(len(ks.by) + r.nVals)
	// The alert outlives the partial's arenas: its values are copied out.
	for i, v := range ks.by {
		fields = append(fields, sink.AlertField{Path: r.byPaths[i], Value: w.slab.own(v)})
	}
	for i := range r.steps[:last] {
		st := &r.steps[i]
		for k, name := range st.names {
			if v := p.vals[st.valOff+k]; !v.IsNull() {
				fields = append(fields, sink.AlertField{Path: name, Value: w.slab.own(v)})
			}
		}
	}
	fields = w.appendEventFields(fields, &r.steps[last], ev)
	p.active = false
	a := w.newAlert(r, ids, ev, fields)
	if hold {
		w.hold(s, ks, a, end, deadline) // before dropPartial, which would free an empty ks
		w.dropPartial(s, ks)
		return
	}
	w.dropPartial(s, ks)
	w.d.emit(s.counters, a)
}

// satAdd is a + b, or the largest uint64 where that overflows.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// alertEvent raises an event rule's alert.
func (w *worker) alertEvent(r *crule, ev *schema.Event) {
	st := &r.steps[0]
	fields := w.appendEventFields(w.slab.fieldList(len(st.fields)), st, ev)
	ids := w.slab.eventIDs(1)
	ids[0] = ev.ID
	w.d.emit(&w.counters[r.idx], w.newAlert(r, ids, ev, fields))
}

func (w *worker) appendEventFields(dst []sink.AlertField, st *cstep, ev *schema.Event) []sink.AlertField {
	for k, id := range st.fields {
		if v, ok := ev.Get(id); ok && !v.IsNull() {
			dst = append(dst, sink.AlertField{Path: st.names[k], Value: w.slab.own(v)})
		}
	}
	return dst
}

// newAlert builds an alert in the worker's slab (alertslab.go), where
// ids and fields were carved; the alert goes back there once its
// consumer releases it.
func (w *worker) newAlert(r *crule, ids []uint64, ev *schema.Event, fields []sink.AlertField) *sink.Alert {
	id := w.slab.alertID(r.id, ids)
	sa := w.slab.take()
	a := &sa.a
	*a = sink.Alert{
		ID:       id,
		RuleID:   r.id,
		RuleName: r.name,
		Severity: r.severity,
		Tags:     r.tags,
		TsMono:   ev.TsMono,
		TsWall:   ev.TsWall,
		Entity:   ev.Entity,
		EventIDs: ids,
		Message:  r.message,
		Fields:   fields,
	}
	a.SetRecycler(sa)
	return a
}

// dropPartial accounts for one partial of ks going inactive, and frees ks
// when it was the last.
func (w *worker) dropPartial(s *seqState, ks *keyState) {
	ks.live--
	s.counters.partials.Add(-1)
	if ks.empty() {
		w.unlink(s, ks)
	}
}

// create makes a keyState for key, evicting to stay within capacity.
func (w *worker) create(s *seqState, key joinKey, vals []value.Value) *keyState {
	d := w.d
	if s.n >= d.cfg.MaxStatesPerRule {
		w.expireRule(s, w.horizon())
		if s.n >= d.cfg.MaxStatesPerRule {
			w.evict(s.tail)
		}
	}
	if w.nStates >= d.cfg.MaxStates {
		w.expire()
		if w.nStates >= d.cfg.MaxStates {
			w.evict(w.gtail)
		}
	}
	ks := s.free
	if ks != nil {
		s.free = ks.next
		ks.next = nil
	} else {
		ks = newKeyState(s.r)
	}
	ks.key = key
	ks.by = ks.by[:len(vals)]
	need := 0
	for _, v := range vals {
		need += payloadLen(v)
	}
	ks.byArena = ks.byArena[:0]
	if need > cap(ks.byArena) {
		ks.byArena = make([]byte, 0, need)
	}
	for i, v := range vals {
		ks.byArena, ks.by[i] = ownInto(ks.byArena, v)
	}
	ks.bytes, ks.linked = 0, true
	w.account(s, ks, s.r.stateBytes+cap(ks.byArena)+ks.arenaCaps())
	s.keys[key] = ks
	s.n++
	w.noteLive(s)
	w.nStates++
	s.counters.states.Add(1)
	// Link at the heads; touch moves it there again later.
	ks.next, s.head = s.head, ks
	if ks.next != nil {
		ks.next.prev = ks
	} else {
		s.tail = ks
	}
	ks.gnext, w.ghead = w.ghead, ks
	if ks.gnext != nil {
		ks.gnext.gprev = ks
	} else {
		w.gtail = ks
	}
	return ks
}

// arenaCaps sums the capacities of ks's partial arenas.
func (ks *keyState) arenaCaps() int {
	n := 0
	for i := range ks.slots {
		n += cap(ks.slots[i].arena)
	}
	return n
}

// Sizes for a keyState's fixed memory (see stateBytes in compile.go).
const (
	keyStateSize = int(unsafe.Sizeof(keyState{}))
	partialSize  = int(unsafe.Sizeof(partial{}))
	valueSize    = int(unsafe.Sizeof(value.Value{}))
	// keepArena is the largest arena a recycled keyState keeps: larger
	// ones go back to the heap with the state, so the free list holds
	// little that the byte budget does not count.
	keepArena = 256
	// heldSize and alertFieldSize size a held match's alert (hold adds its
	// ids and the values' payloads).
	heldSize       = int(unsafe.Sizeof(heldMatch{}) + unsafe.Sizeof(sink.Alert{}))
	alertFieldSize = int(unsafe.Sizeof(sink.AlertField{}))
)

func newKeyState(r *crule) *keyState {
	n := r.nSlots
	ks := &keyState{slots: make([]partial, n), by: make([]value.Value, 0, r.nBy), rule: r.idx}
	ids := make([]uint64, n*r.nPos)
	vals := make([]value.Value, n*r.nVals)
	for i := range ks.slots {
		ks.slots[i].ids = ids[i*r.nPos : (i+1)*r.nPos]
		ks.slots[i].vals = vals[i*r.nVals : (i+1)*r.nVals]
	}
	return ks
}

// shed evicts least recently used keyStates until the partition's state
// is within MaxStateBytes, counting them as memory evictions; expired ones
// go first.
func (w *worker) shed() {
	w.expire()
	for w.bytes > w.d.cfg.MaxStateBytes && w.gtail != nil {
		ks := w.gtail
		s := w.seq[ks.rule]
		s.counters.memory.Add(ks.dropped())
		w.remove(s, ks)
	}
}

// evict drops ks and its partial matches for capacity.
func (w *worker) evict(ks *keyState) {
	if ks == nil {
		return
	}
	s := w.seq[ks.rule]
	s.counters.capacity.Add(ks.dropped())
	w.remove(s, ks)
}

// remove drops ks with whatever partial and held matches it holds
// (counted by the caller).
func (w *worker) remove(s *seqState, ks *keyState) {
	for i := range ks.slots {
		if ks.slots[i].active {
			ks.slots[i].active = false
			s.counters.partials.Add(-1)
		}
	}
	for _, h := range ks.held {
		w.unhold(s, ks, h)
		h.alert.Release() // never emitted: back to its slab
	}
	clear(ks.held)
	ks.held = ks.held[:0]
	ks.live = 0
	w.unlink(s, ks)
}

// noteLive tells the index's scratch whether s holds join keys, after
// s.n changed (see laterStep).
func (w *worker) noteLive(s *seqState) {
	if w.eval.live != nil {
		w.eval.live[s.r.idx] = s.n > 0
	}
}

// unlink takes an empty ks out of the map and lists and recycles it.
func (w *worker) unlink(s *seqState, ks *keyState) {
	delete(s.keys, ks.key)
	if ks.prev != nil {
		ks.prev.next = ks.next
	} else {
		s.head = ks.next
	}
	if ks.next != nil {
		ks.next.prev = ks.prev
	} else {
		s.tail = ks.prev
	}
	if ks.gprev != nil {
		ks.gprev.gnext = ks.gnext
	} else {
		w.ghead = ks.gnext
	}
	if ks.gnext != nil {
		ks.gnext.gprev = ks.gprev
	} else {
		w.gtail = ks.gprev
	}
	s.n--
	w.noteLive(s)
	w.nStates--
	s.counters.states.Add(-1)
	ks.linked, ks.leads = false, 0
	clear(ks.by) // nothing may point into the arenas it reuses
	if cap(ks.byArena) > keepArena {
		ks.byArena = nil
	}
	for i := range ks.slots {
		clear(ks.slots[i].vals)
		if cap(ks.slots[i].arena) > keepArena {
			ks.slots[i].arena = nil
		}
	}
	w.account(s, ks, -ks.bytes)
	ks.prev, ks.gprev, ks.gnext, ks.lastTs = nil, nil, nil, 0
	ks.next, s.free = s.free, ks
}

// touch moves ks to the heads of its LRU lists and records the time.
func (w *worker) touch(s *seqState, ks *keyState, ts uint64) {
	ks.lastTs = max(ks.lastTs, ts)
	if s.head != ks {
		ks.prev.next = ks.next
		if ks.next != nil {
			ks.next.prev = ks.prev
		} else {
			s.tail = ks.prev
		}
		ks.prev, ks.next = nil, s.head
		s.head.prev = ks
		s.head = ks
	}
	if w.ghead != ks {
		ks.gprev.gnext = ks.gnext
		if ks.gnext != nil {
			ks.gnext.gprev = ks.gprev
		} else {
			w.gtail = ks.gprev
		}
		ks.gprev, ks.gnext = nil, w.ghead
		w.ghead.gprev = ks
		w.ghead = ks
	}
}

// horizon is the time before which partial matches may be expired and
// held matches released: the newest event time this partition has seen,
// less Config.Lateness, capped by Config.Clock.
func (w *worker) horizon() uint64 {
	h := w.watermark
	if l := uint64(w.d.cfg.Lateness); l > 0 {
		h -= min(h, l)
	}
	if c := w.d.cfg.Clock; c != nil {
		h = min(h, c.NowMono())
	}
	return h
}

// expire drops the keyStates of every rule whose partial matches are all
// past their maxspan.
func (w *worker) expire() {
	if w.nStates == 0 {
		return
	}
	h := w.horizon()
	for _, s := range w.seq {
		if s != nil && s.n > 0 {
			w.expireRule(s, h)
		}
	}
}

// expireRule walks s's LRU from its oldest end while keyStates are past
// maxspan at horizon h.
func (w *worker) expireRule(s *seqState, h uint64) {
	r := s.r
	if !r.hasMaxSpan || h <= r.maxSpan {
		return
	}
	limit := h - r.maxSpan // lastTs < limit: lastTs + maxspan < h
	for ks := s.tail; ks != nil && ks.lastTs < limit; ks = s.tail {
		if len(ks.held) > 0 {
			// Their deadlines are at most lastTs + maxspan: passed.
			w.releaseKey(s, ks, h, false)
		}
		s.counters.expired.Add(uint64(ks.live + len(ks.held)))
		w.remove(s, ks)
	}
}
