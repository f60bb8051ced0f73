package detect

import (
	"cmp"
	"math"
	"strings"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// pred is a compiled condition. It reads fields by FieldID with
// schema.Event.Get (a scan of the event's few inline fields, no map) and
// allocates nothing.
type pred func(ev *schema.Event, sc *evalScratch) bool

func predTrue(*schema.Event, *evalScratch) bool  { return true }
func predFalse(*schema.Event, *evalScratch) bool { return false }

// compileExpr turns a resolved condition into a predicate.
//
// Missing fields: a field the event lacks (or holds as Null) equals only
// null; == with anything else is false, != true, and orderings, in and
// pattern tests are false.
func (c *compiler) compileExpr(e rule.Expr) pred {
	if p := pluginPred(e); p != nil { // plugin.go
		return p
	}
	if p := c.arrayPred(e); p != nil { // array.go
		return p
	}
	if p := c.arrayExprPred(e); p != nil { // array.go
		return p
	}
	switch e := e.(type) {
	case *rule.BoolLit:
		if e.Value {
			return predTrue
		}
		return predFalse
	case *rule.NotExpr:
		x := c.compileExpr(e.X)
		return func(ev *schema.Event, sc *evalScratch) bool { return !x(ev, sc) }
	case *rule.BinaryExpr:
		// Flatten chains (a and b and c) into one loop.
		var terms []pred
		for _, x := range e.Terms() {
			terms = append(terms, c.compileExpr(x))
		}
		if e.Op == rule.OpAnd {
			return andPreds(terms)
		}
		return orPreds(terms)
	case *rule.CompareExpr:
		return compileCompare(e.Field.ID, e.Op, e.Value.Value)
	case *rule.InExpr:
		return compileIn(e)
	case *rule.MatchExpr:
		return c.compileMatch(e)
	case *rule.ValueCompareExpr:
		return c.compileValueCompare(e)
	case *rule.OperandInExpr:
		return c.compileOperandIn(e)
	case *rule.OperandMatchExpr:
		return c.compileOperandMatch(e)
	case *rule.CallExpr:
		return c.compileCallCond(e)
	case *rule.FieldExpr:
		id := e.Field.ID
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			b, ok := v.Bool()
			return ok && b
		}
	}
	return predFalse
}

// compileCond compiles a step's condition: the predicate, and the
// predicates of its conjuncts (rule.BinaryExpr.Terms of a top-level and,
// else the condition alone), which the index uses to run only the
// conjuncts its hits do not decide (index.go).
func (c *compiler) compileCond(e rule.Expr) (p pred, conj []pred) {
	if b, ok := e.(*rule.BinaryExpr); ok && b.Op == rule.OpAnd {
		for _, x := range b.Terms() {
			conj = append(conj, c.compileExpr(x))
		}
		return andPreds(conj), conj
	}
	p = c.compileExpr(e)
	return p, []pred{p}
}

// andPreds returns the conjunction of terms (true for none).
func andPreds(terms []pred) pred {
	switch len(terms) {
	case 0:
		return predTrue
	case 1:
		return terms[0]
	case 2:
		x, y := terms[0], terms[1]
		return func(ev *schema.Event, sc *evalScratch) bool { return x(ev, sc) && y(ev, sc) }
	}
	return func(ev *schema.Event, sc *evalScratch) bool {
		for _, t := range terms {
			if !t(ev, sc) {
				return false
			}
		}
		return true
	}
}

// orPreds returns the disjunction of terms (false for none).
func orPreds(terms []pred) pred {
	switch len(terms) {
	case 0:
		return predFalse
	case 1:
		return terms[0]
	case 2:
		x, y := terms[0], terms[1]
		return func(ev *schema.Event, sc *evalScratch) bool { return x(ev, sc) || y(ev, sc) }
	}
	return func(ev *schema.Event, sc *evalScratch) bool {
		for _, t := range terms {
			if t(ev, sc) {
				return true
			}
		}
		return false
	}
}

func compileCompare(id schema.FieldID, op rule.CmpOp, lit value.Value) pred {
	if lit.IsNull() {
		isNull := func(ev *schema.Event, sc *evalScratch) bool {
			v, ok := ev.Get(id)
			return !ok || v.IsNull()
		}
		if op == rule.OpEq {
			return isNull
		}
		return func(ev *schema.Event, sc *evalScratch) bool { return !isNull(ev, sc) }
	}
	if s, ok := lit.Str(); ok {
		switch op {
		case rule.OpEq:
			return func(ev *schema.Event, sc *evalScratch) bool {
				v, _ := ev.Get(id)
				got, ok := v.Str()
				return ok && got == s
			}
		case rule.OpNe:
			return func(ev *schema.Event, sc *evalScratch) bool {
				v, _ := ev.Get(id)
				got, ok := v.Str()
				return !ok || got != s
			}
		}
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			got, ok := v.Str()
			return ok && ordered(op, strings.Compare(got, s))
		}
	}
	if b, ok := lit.Bool(); ok {
		eq := op == rule.OpEq
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			got, ok := v.Bool()
			return ok && got == b == eq || !ok && !eq
		}
	}
	// Numbers. The common case, an I64 literal against an I64 value, takes
	// the fast path; any other mix compares by value.
	if i, ok := lit.I64(); ok && op == rule.OpEq {
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			if got, ok := v.I64(); ok {
				return got == i
			}
			c, ok := cmpNum(v, lit)
			return ok && c == 0
		}
	}
	if u, ok := lit.U64(); ok && op == rule.OpEq {
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			if got, ok := v.U64(); ok {
				return got == u
			}
			c, ok := cmpNum(v, lit)
			return ok && c == 0
		}
	}
	if op == rule.OpNe {
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			c, ok := cmpNum(v, lit)
			return !ok || c != 0
		}
	}
	return func(ev *schema.Event, sc *evalScratch) bool {
		v, _ := ev.Get(id)
		c, ok := cmpNum(v, lit)
		return ok && ordered(op, c)
	}
}

// ordered applies op to the result c of a three-way comparison.
func ordered(op rule.CmpOp, c int) bool {
	switch op {
	case rule.OpEq:
		return c == 0
	case rule.OpNe:
		return c != 0
	case rule.OpLt:
		return c < 0
	case rule.OpLe:
		return c <= 0
	case rule.OpGt:
		return c > 0
	}
	return c >= 0
}

// cmpNum compares two numeric values of any numeric kinds exactly for
// integers (an I64 and a U64 compare by value) and as float64 when either is
// an F64. ok is false when either is not a number, or for NaN.
func cmpNum(a, b value.Value) (int, bool) {
	switch a.Kind() {
	case value.KindI64:
		x, _ := a.I64()
		switch b.Kind() {
		case value.KindI64:
			y, _ := b.I64()
			return cmp.Compare(x, y), true
		case value.KindU64:
			y, _ := b.U64()
			if x < 0 {
				return -1, true
			}
			return cmp.Compare(uint64(x), y), true
		case value.KindF64:
			y, _ := b.F64()
			return cmpFloat(float64(x), y)
		}
	case value.KindU64:
		x, _ := a.U64()
		switch b.Kind() {
		case value.KindI64:
			y, _ := b.I64()
			if y < 0 {
				return 1, true
			}
			return cmp.Compare(x, uint64(y)), true
		case value.KindU64:
			y, _ := b.U64()
			return cmp.Compare(x, y), true
		case value.KindF64:
			y, _ := b.F64()
			return cmpFloat(float64(x), y)
		}
	case value.KindF64:
		x, _ := a.F64()
		switch b.Kind() {
		case value.KindI64:
			y, _ := b.I64()
			return cmpFloat(x, float64(y))
		case value.KindU64:
			y, _ := b.U64()
			return cmpFloat(x, float64(y))
		case value.KindF64:
			y, _ := b.F64()
			return cmpFloat(x, y)
		}
	}
	return 0, false
}

func cmpFloat(x, y float64) (int, bool) {
	if math.IsNaN(x) || math.IsNaN(y) {
		return 0, false
	}
	return cmp.Compare(x, y), true
}

// smallList is the list length up to which in (...) scans rather than
// looks up a set.
const smallList = 8

// inList is the literal list of an in (...) test split by kind, so a
// value is compared only with the literals of its own kind: strings
// exactly (folded for in~, through a set when the list is long), bools,
// numbers by value. Field, expression and array-element tests share it.
type inList struct {
	strs    []string
	set     map[string]struct{} // strs, when more than smallList and not folded
	nums    []value.Value
	bools   []bool
	hasNull bool // null is in the list
	fold    bool
}

func newInList(lits []rule.Literal, fold bool) *inList {
	l := &inList{fold: fold}
	for _, lit := range lits {
		v := lit.Value
		switch {
		case v.IsNull():
			l.hasNull = true
		case v.Kind() == value.KindString:
			s, _ := v.Str()
			l.strs = append(l.strs, s)
		case v.Kind() == value.KindBool:
			b, _ := v.Bool()
			l.bools = append(l.bools, b)
		default:
			l.nums = append(l.nums, v)
		}
	}
	if !fold && len(l.strs) > smallList {
		l.set = make(map[string]struct{}, len(l.strs))
		for _, s := range l.strs {
			l.set[s] = struct{}{}
		}
	}
	return l
}

// hasStr reports whether s is in the list.
func (l *inList) hasStr(s string, _ *evalScratch) bool {
	if l.set != nil {
		_, ok := l.set[s]
		return ok
	}
	for _, x := range l.strs {
		if x == s || l.fold && strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// has reports whether v, not null, is in the list.
func (l *inList) has(v value.Value) bool {
	switch v.Kind() {
	case value.KindString:
		s, _ := v.Str()
		return l.hasStr(s, nil)
	case value.KindBool:
		b, _ := v.Bool()
		for _, x := range l.bools {
			if x == b {
				return true
			}
		}
	default:
		for _, x := range l.nums {
			if c, ok := cmpNum(v, x); ok && c == 0 {
				return true
			}
		}
	}
	return false
}

func compileIn(e *rule.InExpr) pred {
	id := e.Field.ID
	l := newInList(e.Values, e.Fold)
	return func(ev *schema.Event, sc *evalScratch) bool {
		v, ok := ev.Get(id)
		if !ok || v.IsNull() {
			return l.hasNull
		}
		return l.has(v)
	}
}

// compileMatch compiles a pattern test. A literal matcher reads the
// whole value in linear time (literal.go); any other (a regexp, a
// wildcard with ?) reads at most the first c.limit(m) bytes of the value
// (cut back to a rune boundary), and each test so cut counts in
// Stats.PatternCuts.
func (c *compiler) compileMatch(e *rule.MatchExpr) pred {
	id := e.Field.ID
	match, one := c.matchFn(e.Matchers)
	if one != nil {
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			s, ok := v.Str()
			return ok && one(s)
		}
	}
	return func(ev *schema.Event, sc *evalScratch) bool {
		v, _ := ev.Get(id)
		s, ok := v.Str()
		return ok && match(s, sc)
	}
}

// matchFn returns a test of a string against any of matchers: the
// linear tests of the literal ones first, then the others, each read
// within its cost limit. one is the whole test when it is a single linear
// test (it needs no scratch).
func (c *compiler) matchFn(matchers []*rule.Matcher) (match func(string, *evalScratch) bool, one func(string) bool) {
	type cm struct {
		m     *rule.Matcher
		limit int // bytes read; -1: all
	}
	tests, linear := linearTests(matchers)
	c.nScan = 0
	for i, m := range matchers {
		if !linear[i] && nsPerByte(m.Shape()) > 0 {
			c.nScan++
		}
	}
	var ms []cm
	for i, m := range matchers {
		if !linear[i] {
			ms = append(ms, cm{m, c.limit(m)})
		}
	}
	if len(ms) == 0 && len(tests) == 1 {
		one = tests[0]
	}
	match = func(s string, sc *evalScratch) bool {
		for _, t := range tests {
			if t(s) {
				return true
			}
		}
		for i := range ms {
			x := &ms[i]
			t := s
			if x.limit >= 0 && len(t) > x.limit {
				t = t[:cutAt(t, x.limit)]
				sc.cut++
			}
			if x.m.Match(t) {
				return true
			}
		}
		return false
	}
	return match, one
}

// compileOperandIn compiles X in (...) on an expression: the value X
// yields is looked up as a field's would be (null in gives null's
// membership; strings exactly, or folded for in~; numbers by value).
func (c *compiler) compileOperandIn(e *rule.OperandInExpr) pred {
	x := c.compileOperand(e.X)
	l := newInList(e.Values, e.Fold)
	return func(ev *schema.Event, sc *evalScratch) bool {
		sc.str = sc.str[:0]
		v := x(ev, sc)
		if v.Kind() == value.KindNull {
			return l.hasNull
		}
		return l.has(v)
	}
}

// compileOperandMatch compiles a pattern test (:, like, regex, cidrMatch)
// on the string an expression yields, each pattern read within its cost
// limit as for a field.
func (c *compiler) compileOperandMatch(e *rule.OperandMatchExpr) pred {
	x := c.compileOperand(e.X)
	match, _ := c.matchFn(e.Matchers)
	return func(ev *schema.Event, sc *evalScratch) bool {
		sc.str = sc.str[:0]
		s, ok := x(ev, sc).Str()
		return ok && match(s, sc)
	}
}
