package detect

import (
	"cmp"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// The rule index. Rules were always indexed by event type; within a type
// most rules test a field against literals (process.name in (...),
// file.path : "*.exe", process.args : "*-enc*"), and an event's value of
// that field meets few of them. The index finds those few from the value:
// exact literals through a map keyed by the value (by its folded image for
// the case-insensitive forms), prefixes, suffixes and substrings through
// one automaton per field and form. A rule's predicates then run only
// where the index says they can be true.
//
// Soundness: a guard is a set of atoms (field, literal, how it must
// relate) such that whenever a step's condition is true at least one atom
// is true of the event. It is found only where that is certain:
//
//   - a positive equality with a string or an integer, an in list of
//     strings and integers, a pattern test whose matchers all require a
//     literal (rule.Matcher's Shape);
//   - a conjunction is guarded by any one guarded conjunct;
//   - a disjunction by the union of its terms' guards, when all have one;
//   - false by the empty guard (never a candidate).
//
// Anything else (not, an ordering, a null, float or boolean test, a bare
// regexp, a field alone) has no guard, and its step runs for every event
// of its type, as before. An atom may be true where its predicate is
// false (a wildcard's literal part, an integer matched by a float past
// 2^53): the predicate decides, the index only skips. So the alerts are
// exactly the plain matcher's; TestIndexMatchesPlain and FuzzIndex check
// it.
//
// Decided conjuncts: a guard is exact when its atoms hold exactly when its
// expression does: string equality and in lists of strings (the map
// compares the value itself), and pattern tests whose matchers are their
// literals (equality, prefix, suffix, substrings, literal regexps; not a
// wildcard with an inner * or ?), read whole as the predicates read them
// (literal.go); disjunctions of exact terms. When a step's guard is exact
// for its condition, or for one of its top-level conjuncts, a hit runs only
// the other conjuncts (cstep.rest, evalScratch.test): at a thousand rules
// most candidates are decided outright (process.name in (...)).

// atom is one indexable test: the event's field relates to lit as anchor
// says (under folding when fold; lit is then the folded image).
type atom struct {
	field  schema.FieldID
	anchor rule.Anchor
	fold   bool
	lit    string
	num    bool   // an integer equality instead: the value equals num
	numKey numKey // (with anchor AnchorExact)
}

// numKey is an integer as numeric equality (cmpNum) sees it, whatever
// its kind: I64 5 and U64 5 are one key.
type numKey struct {
	neg bool
	mag uint64 // two's complement bits when neg
}

// sign is 1 for a negative key, else 0.
func (k numKey) sign() int {
	if k.neg {
		return 1
	}
	return 0
}

// intKey returns the key of an integer Value; ok is false for others.
func intKey(v value.Value) (numKey, bool) {
	if i, ok := v.I64(); ok {
		return numKey{i < 0, uint64(i)}, true
	}
	if u, ok := v.U64(); ok {
		return numKey{false, u}, true
	}
	return numKey{}, false
}

// guardOf returns atoms such that e true implies one of them true; ok is
// false when no such set is known. exact says more: e is true exactly
// when one of them is (see decided). Any expression kind not listed here
// (NotExpr, ValueCompareExpr, CallExpr, ...) is unguarded: its rule always
// runs, which is always sound.
func guardOf(e rule.Expr) (atoms []atom, ok, exact bool) {
	if pluginTest(e) { // compared by the type, not byte for byte (plugin.go)
		return nil, false, false
	}
	switch e := e.(type) {
	case *rule.BoolLit:
		return nil, !e.Value, true
	case *rule.BinaryExpr:
		if e.Op == rule.OpOr {
			exact = true
			for _, t := range e.Terms() {
				g, ok, x := guardOf(t)
				if !ok {
					return nil, false, false
				}
				atoms, exact = append(atoms, g...), exact && x
			}
			return atoms, true, exact
		}
		g, _, ok, _ := bestConjunct(e.Terms())
		return g, ok, false
	case *rule.CompareExpr:
		if e.Op != rule.OpEq {
			break
		}
		if s, isStr := e.Value.Value.Str(); isStr {
			return []atom{{field: e.Field.ID, anchor: rule.AnchorExact, lit: s}}, true, true
		}
		if k, isInt := intKey(e.Value.Value); isInt {
			return []atom{{field: e.Field.ID, anchor: rule.AnchorExact, num: true, numKey: k}}, true, false
		}
	case *rule.InExpr:
		exact = true
		for _, l := range e.Values {
			if s, isStr := l.Value.Str(); isStr {
				atoms = append(atoms, atom{field: e.Field.ID, anchor: rule.AnchorExact, fold: e.Fold, lit: s})
			} else if k, isInt := intKey(l.Value); isInt {
				atoms = append(atoms, atom{field: e.Field.ID, anchor: rule.AnchorExact, num: true, numKey: k})
				exact = false // a float past 2^53 marks every integer atom
			} else {
				return nil, false, false // null, floats, booleans: not indexed
			}
		}
		return atoms, true, exact
	case *rule.MatchExpr:
		exact = true
		for _, m := range e.Matchers {
			sh := m.Shape()
			if sh.Anchor == rule.AnchorNone {
				return nil, false, false
			}
			// A wildcard's literal part is necessary only; the literals of
			// the other matchers are the matcher.
			exact = exact && sh.Glob == 0 && sh.Program == 0
			for _, l := range sh.Literals {
				atoms = append(atoms, atom{field: e.Field.ID, anchor: sh.Anchor, fold: sh.Fold, lit: l})
			}
		}
		return atoms, true, exact
	}
	return nil, false, false
}

// bestConjunct returns the guard of the conjunction of terms: the
// cheapest guard of a term (an exact one on a tie), which term it is
// (-1 for none), and whether it is exact for that term.
func bestConjunct(terms []rule.Expr) (atoms []atom, term int, ok, exact bool) {
	term, bestCost := -1, -1
	for i, t := range terms {
		g, ok, x := guardOf(t)
		if !ok {
			continue
		}
		if c := guardCost(g); bestCost < 0 || c < bestCost || c == bestCost && x && !exact {
			atoms, term, bestCost, exact = g, i, c, x
		}
	}
	return atoms, term, term >= 0, exact
}

// stepGuard returns the guard of a step's condition, as guardOf, and
// the predicate that decides the condition once the guard is hit: nil
// unless the guard is exact for the whole condition or for one of its
// top-level conjuncts (conj holds their predicates), and then the
// conjunction of the others (predTrue for none). For a conjunction, term
// is the conjunct the guard decides and terms are all of them (nil
// otherwise), so that buildIndex can decide more of them (seconds).
func stepGuard(cond rule.Expr, conj []pred) (atoms []atom, ok bool, rest pred, terms []rule.Expr, term int) {
	if b, isAnd := cond.(*rule.BinaryExpr); isAnd && b.Op == rule.OpAnd {
		terms := b.Terms()
		g, term, ok, exact := bestConjunct(terms)
		if !ok || !exact || len(conj) != len(terms) {
			return g, ok, nil, nil, -1
		}
		return g, true, andPreds(without(conj, term)), terms, term
	}
	g, ok, exact := guardOf(cond)
	if ok && exact {
		rest = predTrue
	}
	return g, ok, rest, nil, -1
}

// without returns a copy of ps less ps[i].
func without(ps []pred, i int) []pred {
	out := make([]pred, 0, len(ps)-1)
	out = append(out, ps[:i]...)
	return append(out, ps[i+1:]...)
}

// seconds returns the slots of the conjuncts of a decided step (other
// than the one its guard decides) that the index can decide too, for
// free: their guards are exact and every atom of theirs falls in a map or
// automaton the type's guards build anyway (has), on every type the step
// is of. A hit then needs no predicate for them: at a thousand rules,
// process.name in (...) and process.command_line : ("*a*", "*b*") is
// decided by the name's map and the command line's scan. It returns the
// rest left to run: the slots' marks, then the other conjuncts.
func seconds(x *decided, has func(x *decided, g []atom) bool, newSlot func(g []atom) int32) pred {
	var marks []int32
	var left []pred
	for j, t := range x.terms {
		if j == x.term {
			continue
		}
		if g, ok, exact := guardOf(t); ok && exact && has(x, g) {
			marks = append(marks, newSlot(g))
			continue
		}
		left = append(left, x.st.conj[j])
	}
	if len(marks) == 0 {
		return x.rest
	}
	ps := make([]pred, 0, len(marks)+len(left))
	for _, s := range marks {
		ps = append(ps, func(_ *schema.Event, sc *evalScratch) bool { return sc.slotMark[s] == sc.epoch })
	}
	return andPreds(append(ps, left...))
}

// guardCost ranks guards for a conjunction: exact literals before
// anchored ones before substrings; fewer and longer literals first.
func guardCost(g []atom) int {
	c := 0
	for _, a := range g {
		switch a.anchor {
		case rule.AnchorExact:
			c += 1
		case rule.AnchorPrefix, rule.AnchorSuffix:
			c += 4
		default:
			c += 8 + max(0, 8-len(a.lit))
		}
	}
	return c
}

// ruleIndex is the index of one Detector, by event type ID.
type ruleIndex struct {
	types []typeIndex
	// slotRule is the rule of each guard slot: -1 for a second slot
	// (seconds), which marks no rule; -2-r for rule r's slot of a step
	// that needs a partial match to do anything (laterStep).
	slotRule []int32
	maxFold  int // longest folded exact literal: the scratch it needs
}

// typeIndex indexes the rules of one event type.
type typeIndex struct {
	always []int32 // rules with an unguarded step (or until) of the type, by index
	fields []fieldIndex
	// open lists guard slots to mark for every event of the type: those of
	// a type the index gave up on (its rules are all in always).
	open []int32
}

// fieldIndex indexes the atoms on one field: sets[0] bytewise, sets[1]
// folded.
type fieldIndex struct {
	id   schema.FieldID
	sets [2]fieldSet
	// nums: integer literals -> slots, by sign (nums[1] the negative ones,
	// by their two's complement bits: a uint64 key hashes several times
	// faster than a numKey); numAll: all those slots, hit by a float too
	// large to compare exactly (float64(int) rounds).
	nums    [2]map[uint64][]int32
	numAll  []int32
	numBits bitFilter // the integer literals' magnitudes, for lookNum
}

// fieldSet holds one field's atoms of one folding.
type fieldSet struct {
	// used says the set holds an atom: candidates looks at no other
	// (most fields are indexed under one folding only).
	used      bool
	exact     map[string][]int32 // the literal (folded image) -> slots: a hit is an equality
	prefix    *automaton
	suffix    *automaton // of the reversed literals
	contains  *automaton
	maxExact  int
	exactBits bitFilter // the literals' lengths and end bytes, for look
}

// decided is a step whose guard decides a conjunct, and what is left to
// run once it is hit (buildIndex).
type decided struct {
	r     *crule
	st    *cstep
	rest  pred
	terms []rule.Expr // a conjunction's conjuncts (stepGuard)
	term  int         // the one the guard decides
}

// indexKey names the map or automaton of one type that an atom goes to.
type indexKey struct {
	field  schema.FieldID
	fold   int
	anchor rule.Anchor
}

// indexKeyOf returns the key of a (a string atom).
func indexKeyOf(a atom) indexKey {
	k := indexKey{a.field, 0, a.anchor}
	if a.fold {
		k.fold = 1
	}
	return k
}

// buildIndex indexes d's rules by the guards of their steps and untils,
// setting each indexed cstep's guard slot.
func buildIndex(rules []*crule, byType [][]*crule) *ruleIndex {
	ix := &ruleIndex{}
	// One slot per guarded step group and until of the rules not in
	// anyRules, then the second slots of decided steps (seconds), which
	// mark no rule.
	var slots [][]atom
	// decide: the steps whose guard decides a conjunct; applied below,
	// unless the index gave up on one of the step's types.
	var decide []decided
	newSlot := func(r *crule, st *cstep) int32 {
		g, ok, rest, terms, term := stepGuard(st.cond, st.conj)
		if !ok {
			return -1 // unguarded: run for every event of its types
		}
		slots = append(slots, g)
		if laterStep(r, st) {
			ix.slotRule = append(ix.slotRule, -2-int32(r.idx))
		} else {
			ix.slotRule = append(ix.slotRule, int32(r.idx))
		}
		if rest != nil {
			decide = append(decide, decided{r: r, st: st, rest: rest, terms: terms, term: term})
		}
		return int32(len(slots) - 1)
	}
	inByType := make([]bool, len(rules))
	for _, l := range byType {
		for _, r := range l {
			inByType[r.idx] = true
		}
	}
	for _, r := range rules {
		if !inByType[r.idx] {
			continue // an any-type rule: run for every event, unindexed
		}
		group := -1
		for i := range r.steps {
			st := &r.steps[i]
			if st.group == group {
				st.guard = r.steps[i-1].guard // decided, if at all, with its group's first step
				continue
			}
			group = st.group
			st.guard = newSlot(r, st)
		}
		if u := r.until; u != nil {
			u.guard = newSlot(r, u)
		}
	}
	// The maps and automata each type builds for the guards, and its rules.
	built := make([]map[indexKey]bool, len(byType))
	ruleIn := make([][]bool, len(byType))
	for t, l := range byType {
		built[t], ruleIn[t] = map[indexKey]bool{}, make([]bool, len(rules))
		add := func(st *cstep) {
			if st.guard >= 0 && st.hasType(schema.EventTypeID(t)) {
				for _, a := range slots[st.guard] {
					if !a.num {
						built[t][indexKeyOf(a)] = true
					}
				}
			}
		}
		for _, r := range l {
			ruleIn[t][r.idx] = true
			for i := range r.steps {
				add(&r.steps[i])
			}
			if r.until != nil {
				add(r.until)
			}
		}
	}
	has := func(x *decided, g []atom) bool {
		for t := range byType {
			if !x.st.hasType(schema.EventTypeID(t)) {
				continue
			}
			if !ruleIn[t][x.r.idx] {
				return false
			}
			for _, a := range g {
				if !built[t][indexKeyOf(a)] {
					return false
				}
			}
		}
		return true
	}
	second := map[int32][]int32{} // a decided guard slot -> its second slots
	rests := map[int32]pred{}     // a decided guard slot -> what its hit leaves to run
	for i := range decide {
		x := &decide[i]
		g := x.st.guard
		if _, done := rests[g]; done {
			continue
		}
		rests[g] = seconds(x, has, func(atoms []atom) int32 {
			slots = append(slots, atoms)
			ix.slotRule = append(ix.slotRule, -1)
			s := int32(len(slots) - 1)
			second[g] = append(second[g], s)
			return s
		})
	}
	gaveUp := make([]bool, len(byType)) // by type: the index could not be built
	ix.types = make([]typeIndex, len(byType))
	for t, l := range byType {
		ti := &ix.types[t]
		fieldAt := map[schema.FieldID]int{}
		fieldOf := func(id schema.FieldID) *fieldIndex {
			fi, ok := fieldAt[id]
			if !ok {
				fi = len(ti.fields)
				fieldAt[id] = fi
				ti.fields = append(ti.fields, fieldIndex{id: id})
			}
			return &ti.fields[fi]
		}
		lits := map[indexKey][]string{}
		litSlots := map[indexKey][]int32{}
		var order []indexKey
		addAtom := func(a atom, slot int32) {
			if a.num {
				fi := fieldOf(a.field)
				m := &fi.nums[a.numKey.sign()]
				if *m == nil {
					*m = map[uint64][]int32{}
				}
				if !slices.Contains((*m)[a.numKey.mag], slot) {
					(*m)[a.numKey.mag] = append((*m)[a.numKey.mag], slot)
				}
				fi.numBits.add(uint(a.numKey.mag))
				if !slices.Contains(fi.numAll, slot) {
					fi.numAll = append(fi.numAll, slot)
				}
				return
			}
			k, lit := indexKeyOf(a), a.lit
			if a.fold {
				lit = string(appendFold(nil, lit))
			}
			if k.anchor == rule.AnchorSuffix {
				b := []byte(lit)
				slices.Reverse(b)
				lit = string(b)
			}
			if _, seen := lits[k]; !seen {
				order = append(order, k)
			}
			lits[k] = append(lits[k], lit)
			litSlots[k] = append(litSlots[k], slot)
		}
		for _, r := range l {
			always := false
			visit := func(st *cstep) {
				if !st.hasType(schema.EventTypeID(t)) {
					return
				}
				if st.guard < 0 {
					always = true
					return
				}
				for _, a := range slots[st.guard] {
					addAtom(a, st.guard)
				}
				for _, s := range second[st.guard] {
					for _, a := range slots[s] {
						addAtom(a, s)
					}
				}
			}
			for i := range r.steps {
				visit(&r.steps[i])
			}
			if r.until != nil {
				visit(r.until)
			}
			if always {
				ti.always = append(ti.always, int32(r.idx))
			}
		}
		failed := false
		for _, k := range order {
			fs := &fieldOf(k.field).sets[k.fold]
			ls, ss := lits[k], litSlots[k]
			switch k.anchor {
			case rule.AnchorExact:
				fs.exact = map[string][]int32{}
				for i, l := range ls {
					if !slices.Contains(fs.exact[l], ss[i]) {
						fs.exact[l] = append(fs.exact[l], ss[i])
					}
					fs.maxExact = max(fs.maxExact, len(l))
					fs.exactBits.add(strBits(l))
					if k.fold == 1 {
						ix.maxFold = max(ix.maxFold, len(l))
					}
				}
			case rule.AnchorPrefix:
				fs.prefix = buildAutomaton(ls, ss, false, k.fold == 1)
				failed = failed || fs.prefix == nil
			case rule.AnchorSuffix:
				fs.suffix = buildAutomaton(ls, ss, false, k.fold == 1)
				failed = failed || fs.suffix == nil
			case rule.AnchorContains:
				fs.contains = buildAutomaton(ls, ss, true, k.fold == 1)
				failed = failed || fs.contains == nil
			}
		}
		slices.SortFunc(ti.fields, func(a, b fieldIndex) int { return cmp.Compare(a.id, b.id) }) // for candidates' merge walk
		for i := range ti.fields {
			for k := range ti.fields[i].sets {
				fs := &ti.fields[i].sets[k]
				fs.used = fs.exact != nil || fs.prefix != nil || fs.suffix != nil || fs.contains != nil
			}
		}
		if failed {
			// Too large to index: every rule of the type runs, as before,
			// and its guarded steps are opened for every event.
			gaveUp[t] = true
			ti.fields = nil
			ti.always = ti.always[:0]
			for _, r := range l {
				ti.always = append(ti.always, int32(r.idx))
				for i := range r.steps {
					if g := r.steps[i].guard; g >= 0 && r.steps[i].hasType(schema.EventTypeID(t)) && !slices.Contains(ti.open, g) {
						ti.open = append(ti.open, g)
					}
				}
				if u := r.until; u != nil && u.guard >= 0 && u.hasType(schema.EventTypeID(t)) && !slices.Contains(ti.open, u.guard) {
					ti.open = append(ti.open, u.guard)
				}
			}
		}
	}
	// A guard that decides a conjunct spares its predicate, where the
	// index marks it only when it holds: not on a type it gave up on,
	// whose slots are open for every event.
	for _, r := range rules {
		for i := range r.steps {
			st := &r.steps[i]
			if rest, ok := rests[st.guard]; ok && st.guard >= 0 && !openOn(gaveUp, st) {
				st.rest = rest
			}
		}
		if u := r.until; u != nil && u.guard >= 0 {
			if rest, ok := rests[u.guard]; ok && !openOn(gaveUp, u) {
				u.rest = rest
			}
		}
	}
	return ix
}

// laterStep reports whether st is a step of r that an event can meet
// only to advance or cancel a partial match: a step after the first, or
// the until, of a sequence with no missing-event steps (applySeq skips
// them while the rule holds no join key). A worker's index then leaves the
// rule out of the candidates an event hits only with such steps while the
// rule is idle (evalScratch.live).
func laterStep(r *crule, st *cstep) bool {
	if !r.seq || r.sample || r.nPos != len(r.steps) {
		return false
	}
	return st == r.until || st != &r.steps[0] && st.group != r.steps[0].group
}

// openOn reports whether st is of a type the index gave up on.
func openOn(gaveUp []bool, st *cstep) bool {
	for t := range gaveUp {
		if gaveUp[t] && st.hasType(schema.EventTypeID(t)) {
			return true
		}
	}
	return false
}

// evalScratch is what one evaluation of events needs: the candidate marks
// of the index (current when equal to epoch), a buffer for folded values,
// and the count of pattern tests cut at the byte cap. A worker owns one;
// Route takes one from its pool.
type evalScratch struct {
	epoch    uint32
	slotMark []uint32
	ruleMark []uint32
	slotRule []int32
	// live, by rule, says a worker's sequence holds join keys (seqState.n
	// > 0); nil (Route's scratch) marks every rule, as if all were live.
	live  []bool
	cands []int32
	fold  []byte
	cut   uint64
	// str holds the strings operands build (concat, string); each
	// predicate over operands empties it before it starts.
	str []byte
	// elem is the array element an expression is being tried on (array.go).
	elem arrayBinding
}

func newEvalScratch(ix *ruleIndex, nRules int) *evalScratch {
	sc := &evalScratch{}
	if ix != nil {
		sc.slotMark = make([]uint32, len(ix.slotRule))
		sc.ruleMark = make([]uint32, nRules)
		sc.slotRule = ix.slotRule
		sc.cands = make([]int32, 0, nRules)
		sc.fold = make([]byte, 0, ix.maxFold+2*utf8.UTFMax)
	}
	return sc
}

// markAll marks slots and their rules as candidates.
func (sc *evalScratch) markAll(slots []int32) {
	for _, s := range slots {
		if sc.slotMark[s] == sc.epoch {
			continue
		}
		sc.slotMark[s] = sc.epoch
		r := sc.slotRule[s]
		if r < 0 {
			if r = sc.gated(r); r < 0 {
				continue
			}
		}
		if sc.ruleMark[r] != sc.epoch {
			sc.ruleMark[r] = sc.epoch
			sc.cands = append(sc.cands, r)
		}
	}
}

// gated returns the rule a negative slotRule entry marks, or -1: none
// for a second slot, and none for a later step's while its rule is idle.
func (sc *evalScratch) gated(r int32) int32 {
	if r == -1 {
		return -1
	}
	if r = -2 - r; sc.live != nil && !sc.live[r] {
		return -1
	}
	return r
}

// groupTest runs a step group's condition once per event: the steps
// of one group (a step's runs) share a predicate result and stand together
// in stepsOf, so a loop over them keeps the last group's result here.
type groupTest struct {
	group   int // -1: none yet
	matched bool
}

// test reports whether st's condition is true of ev, reusing the result of
// the step before when it is of the same group.
func (g *groupTest) test(sc *evalScratch, st *cstep, ev *schema.Event) bool {
	if st.group != g.group {
		g.group, g.matched = st.group, sc.test(st, ev)
	}
	return g.matched
}

// test reports whether st's condition is true of ev, the event the index
// last looked at (or any event, without an index): an unguarded step runs
// its predicate; a guarded one is false unless its guard was hit, and then
// runs what the guard does not decide (st.rest, or all of st.pred).
func (sc *evalScratch) test(st *cstep, ev *schema.Event) bool {
	if st.guard < 0 {
		return st.pred(ev, sc)
	}
	if sc.slotMark[st.guard] != sc.epoch {
		return false
	}
	if st.rest != nil {
		return st.rest(ev, sc)
	}
	return st.pred(ev, sc)
}

// candidates returns, in rule order, the rules of ev's type whose
// condition the index cannot rule out, and marks their guarded steps.
func (ix *ruleIndex) candidates(ev *schema.Event, sc *evalScratch) []int32 {
	if sc.epoch++; sc.epoch == 0 {
		clear(sc.slotMark)
		clear(sc.ruleMark)
		sc.epoch = 1
	}
	t := int(ev.Type)
	if t >= len(ix.types) {
		return nil
	}
	ti := &ix.types[t]
	if len(ti.fields) == 0 {
		for _, g := range ti.open {
			sc.slotMark[g] = sc.epoch
		}
		return ti.always
	}
	sc.cands = sc.cands[:0]
	// ti.fields and the event's fields are both sorted by ID: one merge
	// walk finds them all, where a Get each would search again.
	fs, j := ev.Fields(), 0
	for i := range ti.fields {
		fi := &ti.fields[i]
		for j < len(fs) && fs[j].ID < fi.id {
			j++
		}
		if j == len(fs) {
			break
		}
		if fs[j].ID != fi.id {
			continue // absent: no atom holds of a missing field
		}
		v := fs[j].Value
		s, ok := v.Str()
		if !ok {
			if a, isArr := v.Array(); isArr {
				ix.lookArray(&fi.sets, a, sc) // array.go: any element may satisfy an atom
				continue
			}
			if fi.numAll != nil {
				fi.lookNum(v, sc)
			}
			continue // every other indexed test needs a string
		}
		if fi.sets[0].used {
			ix.look(&fi.sets[0], s, false, sc)
		}
		if fi.sets[1].used {
			ix.look(&fi.sets[1], s, true, sc)
		}
	}
	if len(sc.cands) == 0 {
		return ti.always
	}
	for _, r := range ti.always {
		if sc.ruleMark[r] != sc.epoch {
			sc.ruleMark[r] = sc.epoch
			sc.cands = append(sc.cands, r)
		}
	}
	slices.Sort(sc.cands)
	return sc.cands
}

// lookNum reports the integer atoms v may equal (as cmpNum compares).
func (fi *fieldIndex) lookNum(v value.Value, sc *evalScratch) {
	k, ok := intKey(v)
	if !ok {
		f, isF := v.F64()
		switch {
		case !isF || f != f || f != math.Trunc(f):
			return // not a number, NaN, or not an integer: equals no integer
		case math.Abs(f) >= 1<<53:
			sc.markAll(fi.numAll) // integers round to it: let the predicates decide
			return
		}
		k = numKey{f < 0, uint64(int64(f))}
	}
	if !fi.numBits.has(uint(k.mag)) {
		return
	}
	if l, ok := fi.nums[k.sign()][k.mag]; ok {
		sc.markAll(l)
	}
}

// look reports the atoms of fs that s satisfies.
func (ix *ruleIndex) look(fs *fieldSet, s string, fold bool, sc *evalScratch) {
	if fs.exact != nil {
		if !fold {
			if len(s) <= fs.maxExact && fs.exactBits.has(strBits(s)) {
				if l, ok := fs.exact[s]; ok {
					sc.markAll(l)
				}
			}
		} else if img, ok := foldInto(sc.fold[:0], s, fs.maxExact); ok && fs.exactBits.has(strBits(img)) {
			if l, ok := fs.exact[string(img)]; ok { // no copy: the compiler looks up with the bytes
				sc.markAll(l)
			}
		}
	}
	if fs.prefix != nil {
		fs.prefix.prefixes(s, fold, sc)
	}
	if fs.suffix != nil {
		fs.suffix.suffixes(s, fold, sc)
	}
	if fs.contains != nil {
		// The whole value, as the predicates' literal tests read it: a
		// pattern that is cut (a regexp, a wildcard with ?) may be marked
		// for a literal past its cut, and its predicate then says no.
		fs.contains.scan(s, fold, sc)
	}
}

// bitFilter is a set of small hashes, one bit each: a lookup whose hash
// is not in it cannot hit, and is spared the map's hashing and probing
// (at a thousand rules most process names and ports meet no literal).
type bitFilter [64]uint64

func (f *bitFilter) add(h uint) { f[h/64%64] |= 1 << (h % 64) }

func (f *bitFilter) has(h uint) bool { return f[h/64%64]&(1<<(h%64)) != 0 }

// strBits is the filter hash of a string: its length and its first and
// last bytes, which takes no pass over it.
func strBits[T string | []byte](s T) uint {
	if len(s) == 0 {
		return 0
	}
	return uint(len(s))*0x9e5 ^ uint(s[0])<<4 ^ uint(s[len(s)-1])*0x3b
}

// foldInto writes s's folded image into dst (within its capacity); ok is
// false when the image is longer than limit.
func foldInto(dst []byte, s string, limit int) ([]byte, bool) {
	for i := 0; i < len(s); {
		if len(dst) > limit {
			return dst, false
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += w
	}
	return dst, len(dst) <= limit
}

// cutAt returns the length of s's longest prefix of at most n bytes that
// does not split a UTF-8 sequence (n itself when s[n] starts a rune or
// is not UTF-8).
func cutAt(s string, n int) int {
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return n
}
