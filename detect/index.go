package detect

import (
	"math"
	"slices"
	"unicode/utf8"

	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// The rule index. Rules were always indexed by event type; within a type
// most rules test a field against literals (process.name in (...),
// file.path : "*.exe", process.args : "*-enc*"), and an event's value of
// that field meets few of them. The index finds those few from the value:
// exact literals through a hash of the value (of its folded image for the
// case-insensitive forms), prefixes, suffixes and substrings through one
// automaton per field and form. A rule's predicates then run only where
// the index says they can be true.
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
// false (a wildcard's literal part, a hash collision): the predicate
// decides, the index only skips. So the alerts are exactly the plain
// matcher's; TestIndexMatchesPlain and FuzzIndex check it.

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
// false when no such set is known. Any expression kind not listed here
// (NotExpr, ValueCompareExpr, CallExpr, ...) is unguarded: its rule always
// runs, which is always sound.
func guardOf(e rule.Expr) (atoms []atom, ok bool) {
	if pluginTest(e) { // compared by the type, not byte for byte (plugin.go)
		return nil, false
	}
	switch e := e.(type) {
	case *rule.BoolLit:
		return nil, !e.Value
	case *rule.BinaryExpr:
		terms := e.Terms()
		if e.Op == rule.OpOr {
			for _, t := range terms {
				g, ok := guardOf(t)
				if !ok {
					return nil, false
				}
				atoms = append(atoms, g...)
			}
			return atoms, true
		}
		best, bestCost := []atom(nil), -1
		for _, t := range terms {
			if g, ok := guardOf(t); ok {
				if c := guardCost(g); bestCost < 0 || c < bestCost {
					best, bestCost = g, c
				}
			}
		}
		return best, bestCost >= 0
	case *rule.CompareExpr:
		if e.Op != rule.OpEq {
			break
		}
		if s, isStr := e.Value.Value.Str(); isStr {
			return []atom{{field: e.Field.ID, anchor: rule.AnchorExact, lit: s}}, true
		}
		if k, isInt := intKey(e.Value.Value); isInt {
			return []atom{{field: e.Field.ID, anchor: rule.AnchorExact, num: true, numKey: k}}, true
		}
	case *rule.InExpr:
		for _, l := range e.Values {
			if s, isStr := l.Value.Str(); isStr {
				atoms = append(atoms, atom{field: e.Field.ID, anchor: rule.AnchorExact, fold: e.Fold, lit: s})
			} else if k, isInt := intKey(l.Value); isInt {
				atoms = append(atoms, atom{field: e.Field.ID, anchor: rule.AnchorExact, num: true, numKey: k})
			} else {
				return nil, false // null, floats, booleans: not indexed
			}
		}
		return atoms, true
	case *rule.MatchExpr:
		for _, m := range e.Matchers {
			sh := m.Shape()
			if sh.Anchor == rule.AnchorNone {
				return nil, false
			}
			for _, l := range sh.Literals {
				atoms = append(atoms, atom{field: e.Field.ID, anchor: sh.Anchor, fold: sh.Fold, lit: l})
			}
		}
		return atoms, true
	}
	return nil, false
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
	types    []typeIndex
	slotRule []int32 // the rule of each guard slot
	maxFold  int     // longest folded exact literal: the scratch it needs
	maxBytes int     // how much of a field substring scans read (-1: all)
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
	// nums: integer literals -> slots; numAll: all those slots, hit by a
	// float too large to compare exactly (float64(int) rounds).
	nums   map[numKey][]int32
	numAll []int32
}

// fieldSet holds one field's atoms of one folding.
type fieldSet struct {
	exact    map[uint64][]int32 // xxh3 of the literal (folded image) -> slots
	maxExact int
	prefix   *automaton
	suffix   *automaton // of the reversed literals
	contains *automaton
}

// buildIndex indexes d's rules by the guards of their steps and untils,
// setting each indexed cstep's guard slot. maxBytes is the byte cap of
// substring scans (Config.MaxPatternBytes; -1 for none).
func buildIndex(rules []*crule, byType [][]*crule, maxBytes int) *ruleIndex {
	ix := &ruleIndex{maxBytes: maxBytes}
	// One slot per guarded step group and until of the rules not in
	// anyRules.
	var slots [][]atom
	newSlot := func(r *crule, cond rule.Expr) int32 {
		g, ok := guardOf(cond)
		if !ok {
			return -1 // unguarded: run for every event of its types
		}
		slots = append(slots, g)
		ix.slotRule = append(ix.slotRule, int32(r.idx))
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
				st.guard = r.steps[i-1].guard
				continue
			}
			group = st.group
			st.guard = newSlot(r, st.cond)
		}
		if u := r.until; u != nil {
			u.guard = newSlot(r, u.cond)
		}
	}
	ix.types = make([]typeIndex, len(byType))
	for t, l := range byType {
		ti := &ix.types[t]
		type key struct {
			field  schema.FieldID
			fold   int
			anchor rule.Anchor
		}
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
		lits := map[key][]string{}
		litSlots := map[key][]int32{}
		var order []key
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
					if a.num {
						fi := fieldOf(a.field)
						if fi.nums == nil {
							fi.nums = map[numKey][]int32{}
						}
						if !slices.Contains(fi.nums[a.numKey], st.guard) {
							fi.nums[a.numKey] = append(fi.nums[a.numKey], st.guard)
						}
						if !slices.Contains(fi.numAll, st.guard) {
							fi.numAll = append(fi.numAll, st.guard)
						}
						continue
					}
					k := key{a.field, 0, a.anchor}
					lit := a.lit
					if a.fold {
						k.fold, lit = 1, string(appendFold(nil, lit))
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
					litSlots[k] = append(litSlots[k], st.guard)
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
				fs.exact = map[uint64][]int32{}
				for i, l := range ls {
					h := xxh3.HashString(l)
					if !slices.Contains(fs.exact[h], ss[i]) {
						fs.exact[h] = append(fs.exact[h], ss[i])
					}
					fs.maxExact = max(fs.maxExact, len(l))
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
		if failed {
			// Too large to index: every rule of the type runs, as before,
			// and its guarded steps are opened for every event.
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
	return ix
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
	cands    []int32
	fold     []byte
	cut      uint64
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
		if r := sc.slotRule[s]; sc.ruleMark[r] != sc.epoch {
			sc.ruleMark[r] = sc.epoch
			sc.cands = append(sc.cands, r)
		}
	}
}

// can reports whether st's condition may be true of the event the index
// last looked at: unguarded, or its guard was hit.
func (sc *evalScratch) can(st *cstep) bool {
	return st.guard < 0 || sc.slotMark[st.guard] == sc.epoch
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
	for i := range ti.fields {
		fi := &ti.fields[i]
		v, _ := ev.Get(fi.id)
		s, ok := v.Str()
		if !ok {
			if a, isArr := v.Array(); isArr {
				ix.lookArray(&fi.sets, a, sc) // array.go: any element may satisfy an atom
				continue
			}
			if fi.nums != nil {
				fi.lookNum(v, sc)
			}
			continue // every other indexed test needs a string
		}
		ix.look(&fi.sets[0], s, false, sc)
		ix.look(&fi.sets[1], s, true, sc)
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
	if l, ok := fi.nums[k]; ok {
		sc.markAll(l)
	}
}

// look reports the atoms of fs that s satisfies.
func (ix *ruleIndex) look(fs *fieldSet, s string, fold bool, sc *evalScratch) {
	if fs.exact != nil {
		if !fold {
			if len(s) <= fs.maxExact {
				if l, ok := fs.exact[xxh3.HashString(s)]; ok {
					sc.markAll(l)
				}
			}
		} else if img, ok := foldInto(sc.fold[:0], s, fs.maxExact); ok {
			if l, ok := fs.exact[xxh3.Hash(img)]; ok {
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
		if ix.maxBytes >= 0 && len(s) > ix.maxBytes {
			s = s[:cutAt(s, ix.maxBytes)] // what the predicates read
			sc.cut++
		}
		fs.contains.scan(s, fold, sc)
	}
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
