package detect

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// crule is a rule compiled for matching: its steps expanded (runs=N gives
// N steps), predicates built, join fields and alert field names laid out.
// It is immutable and shared by every partition.
type crule struct {
	idx      int
	id       string
	name     string
	severity schema.Severity
	tags     []string
	message  string

	seq    bool   // a sequence or a sample: state per join key
	sample bool   // a sample: steps are unordered filters
	salt   uint64 // XXH3 of the rule id: spreads rules' keys over partitions
	// steps holds the positive steps (runs expanded), then a sequence's
	// missing-event steps (one each, runs being the same condition): the
	// index guards them all, the matcher reads steps[:nPos] as the steps.
	steps      []cstep
	nPos       int
	until      *cstep
	maxSpan    uint64 // nanoseconds; valid when hasMaxSpan
	hasMaxSpan bool

	// byPaths names the join values in alerts: the sequence's by fields,
	// then the first step's own.
	byPaths []string
	nBy     int // join fields per step (sequence by + step by)
	nVals   int // tested-field values a partial match keeps, over all steps
	// stateBytes is a keyState's fixed memory for this rule: the struct,
	// its slots, their ids and values, its join values (arenas apart).
	stateBytes int

	// Missing-event steps: hasLead and hasTrail say whether some come
	// before the first step or after the last; gapMiss[g] whether some
	// stand between steps g and g+1.
	hasLead, hasTrail bool
	gapMiss           []bool
	// nSlots is the number of partials a keyState holds: one per step
	// waiting for the next (at least one: a single-step sequence
	// completes in it), or one per filter of a sample.
	nSlots int

	// stepsFor lists, by event type ID, the positive steps that accept the type,
	// last first (the order a sequence tries them in); anySteps the steps
	// accepting any type, for IDs past the table.
	stepsFor [][]int32
	anySteps []int32
}

// stepsOf returns the steps an event of type t may match, last first.
func (r *crule) stepsOf(t schema.EventTypeID) []int32 {
	if int(t) < len(r.stepsFor) {
		return r.stepsFor[t]
	}
	return r.anySteps
}

// cstep is one compiled step.
type cstep struct {
	pred    pred             // the condition
	conj    []pred           // the predicates of cond's conjuncts (compileCond)
	rest    pred             // with an index, what a hit of guard leaves to decide, when it decides a conjunct (nil: pred)
	cond    rule.Expr        // the condition pred was compiled from
	guard   int32            // the index's guard slot (see index.go); -1: unguarded, always run
	group   int              // steps expanded from one step (runs) share a group and so a predicate result
	anyType bool             // matches every event type
	types   []bool           // by event type ID, when !anyType
	by      []schema.FieldID // join fields: the sequence's, then the step's
	byOpt   uint64           // bit i: by[i] is optional (?field), joining on null
	byGroup int              // steps with the same join fields share a key computation
	fields  []schema.FieldID
	names   []string // alert field names of fields
	valOff  int      // where this step's values start in a partial's value buffer
	// gap places a missing-event step: it stands after positive step gap
	// (-1: before the first; nPos-1: after the last).
	gap int
}

func (s *cstep) hasType(t schema.EventTypeID) bool {
	return s.anyType || int(t) < len(s.types) && s.types[t]
}

// compileRule compiles one rule package.
func compileRule(idx int, p *rule.Package, c *compiler) (*crule, error) {
	r, err := newCrule(idx, p)
	if err != nil {
		return nil, err
	}
	q := p.Query
	groups := c.joinGroups
	if groups == nil {
		groups = map[string]int{}
	}
	sb := &stepBuilder{q: q, groups: groups}
	missing := r.compileSteps(c, sb)
	r.placeMissing(missing)
	r.indexStepTypes()
	if r.seq {
		r.nSlots = max(r.nPos-1, 1)
		if r.sample {
			r.nSlots = r.nPos
		}
		n := r.nSlots
		r.stateBytes = keyStateSize + n*partialSize + n*r.nPos*8 + n*r.nVals*valueSize + r.nBy*valueSize
	}
	if len(missing) > 0 && !r.hasMaxSpan {
		// Parse refuses these; a query built by hand may hold them.
		return nil, &RuleError{Index: idx, RuleID: r.id, Err: errors.New("a sequence with a missing-event step needs a maxspan")}
	}
	if q.Until != nil {
		pr, conj := c.compileCond(q.Until.Cond)
		u := sb.step(q.Until, pr, conj, -1, 0)
		u.fields, u.names = nil, nil // until's fields never reach an alert
		r.until = &u
	}
	if c.err != nil {
		return nil, &RuleError{Index: idx, RuleID: r.id, Err: c.err}
	}
	return r, nil
}

// newCrule checks p and returns its rule with what the manifest and the
// query's by fields say, and no steps yet.
func newCrule(idx int, p *rule.Package) (*crule, error) {
	if p == nil || p.Manifest == nil || p.Query == nil {
		return nil, &RuleError{Index: idx, Err: errors.New("package has no manifest or query")}
	}
	q := p.Query
	if !q.Resolved() {
		return nil, &RuleError{Index: idx, RuleID: p.Manifest.RuleID, Err: errors.New("query not resolved against a schema")}
	}
	sev := p.Manifest.Severity // the same type as an alert's (schema.Severity)
	if sev >= schema.NumSeverities {
		return nil, &RuleError{Index: idx, RuleID: p.Manifest.RuleID, Err: fmt.Errorf("%w: %d", schema.ErrUnknownSeverity, uint8(sev))}
	}
	r := &crule{
		idx: idx, id: p.Manifest.RuleID, name: p.Manifest.RuleName, severity: sev,
		tags: p.Manifest.Tags, seq: q.Sequence || q.Sample, sample: q.Sample, message: p.Manifest.RuleName,
	}
	r.salt = xxh3.HashString(r.id)
	if d := p.Manifest.Description; d != "" {
		r.message = p.Manifest.RuleName + ": " + d
	}
	if d, ok := p.MaxSpan(); ok && q.Sequence {
		r.maxSpan, r.hasMaxSpan = uint64(d), true
	}
	for _, f := range q.By {
		r.byPaths = append(r.byPaths, f.Path)
	}
	if len(q.Steps) > 0 {
		for _, f := range q.Steps[0].By {
			r.byPaths = append(r.byPaths, f.Path)
		}
	}
	r.nBy = len(r.byPaths)
	return r, nil
}

// stepBuilder compiles the steps of one query, numbering their join
// field lists so that steps joining on the same fields share a group.
type stepBuilder struct {
	q      *rule.Query
	groups map[string]int // join fields' key → byGroup
}

// step compiles st with its predicate pr (conjuncts conj), as step number
// (from 1, for alert field names; 0 for until and missing steps) of
// group.
func (sb *stepBuilder) step(st *rule.Step, pr pred, conj []pred, group, number int) cstep {
	q := sb.q
	cs := cstep{pred: pr, conj: conj, cond: st.Cond, guard: -1, group: group, anyType: st.AnyType}
	if !st.AnyType {
		maxT := schema.EventTypeID(0)
		for _, t := range st.Types {
			maxT = max(maxT, t)
		}
		cs.types = make([]bool, int(maxT)+1)
		for _, t := range st.Types {
			cs.types[t] = true
		}
	}
	key := ""
	for _, f := range append(q.By[:len(q.By):len(q.By)], st.By...) {
		if f.Optional {
			cs.byOpt |= 1 << uint(len(cs.by))
			key += "?"
		}
		cs.by = append(cs.by, f.ID)
		key += strconv.Itoa(int(f.ID)) + ","
	}
	g, ok := sb.groups[key]
	if !ok {
		g = len(sb.groups)
		sb.groups[key] = g
	}
	cs.byGroup = g
	for _, f := range st.Fields() {
		if f.ID == 0 {
			continue // an optional field the schema lacks: never present
		}
		cs.fields = append(cs.fields, f.ID)
		name := f.Path
		if q.Sequence || q.Sample {
			name = "step" + strconv.Itoa(number) + "." + f.Path
		}
		cs.names = append(cs.names, name)
	}
	return cs
}

// compileSteps compiles the query's positive steps into r.steps (runs=N
// expanded into N steps sharing a predicate) and returns its missing-event
// steps, each with its gap.
func (r *crule) compileSteps(c *compiler, sb *stepBuilder) (missing []cstep) {
	number := 0
	for g, st := range sb.q.Steps {
		pr, conj := c.compileCond(st.Cond) // shared by the steps runs=N expands into
		if st.Missing {
			cs := sb.step(st, pr, conj, g, 0)
			cs.fields, cs.names = nil, nil // nothing of a missing event reaches an alert
			cs.gap = number - 1
			missing = append(missing, cs)
			continue
		}
		for range st.Runs {
			number++
			cs := sb.step(st, pr, conj, g, number)
			cs.valOff = r.nVals
			r.nVals += len(cs.fields)
			r.steps = append(r.steps, cs)
		}
	}
	r.nPos = len(r.steps)
	return missing
}

// placeMissing records where the missing-event steps stand (leading,
// trailing, in a gap) and appends them after the positive steps.
func (r *crule) placeMissing(missing []cstep) {
	if len(missing) == 0 {
		return
	}
	r.gapMiss = make([]bool, max(r.nPos-1, 0))
	for i := range missing {
		switch g := missing[i].gap; {
		case g < 0:
			r.hasLead = true
		case g == r.nPos-1:
			r.hasTrail = true
		default:
			r.gapMiss[g] = true
		}
	}
	r.steps = append(r.steps, missing...)
}

// indexStepTypes lists, for each event type, the positive steps an event
// of it may match, last first (stepsOf).
func (r *crule) indexStepTypes() {
	maxT := 0
	for i := range r.steps {
		maxT = max(maxT, len(r.steps[i].types)-1)
	}
	r.stepsFor = make([][]int32, maxT+1)
	for i := r.nPos - 1; i >= 0; i-- {
		st := &r.steps[i]
		for t := range r.stepsFor {
			if st.hasType(schema.EventTypeID(t)) {
				r.stepsFor[t] = append(r.stepsFor[t], int32(i))
			}
		}
		if st.anyType {
			r.anySteps = append(r.anySteps, int32(i))
		}
	}
}

// RuleError reports a rule package that cannot be compiled for matching.
type RuleError struct {
	Index  int    // position in Config.Rules
	RuleID string // empty when unknown
	Err    error
}

// Error returns "detect: rule N (id): reason".
func (e *RuleError) Error() string {
	s := "detect: rule " + strconv.Itoa(e.Index)
	if e.RuleID != "" {
		s += " (" + e.RuleID + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns ErrInvalidConfig and the cause.
func (e *RuleError) Unwrap() []error { return []error{ErrInvalidConfig, e.Err} }
