package detect

import (
	"strings"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Array fields (schema.TypeStringArray, rule.Field.Array): a test holds
// when it holds for any String element, as Elasticsearch matches a
// multi-valued field; a single String is a one-element array. != and the
// negations (not, not in) are the negation of that: true when no element
// equals. A field that is missing, Null, or holds no String element (an
// empty array) is a missing field: equal to null only, and every other
// test false. The loops read the event's elements in place and allocate
// nothing.

// arrayPred compiles e when it tests an array field, else returns nil.
func (c *compiler) arrayPred(e rule.Expr) pred {
	switch e := e.(type) {
	case *rule.CompareExpr:
		if e.Field.Array {
			return compileArrayCompare(e.Field.ID, e.Op, e.Value.Value)
		}
	case *rule.InExpr:
		if e.Field.Array {
			return compileArrayIn(e)
		}
	case *rule.MatchExpr:
		if e.Field.Array {
			match, _ := c.matchFn(e.Matchers)
			return anyElement(e.Field.ID, match, false)
		}
	}
	return nil
}

// anyElement returns a predicate true when test holds for any String
// element of field id (or for its value, when it is a String), and missing
// when the field holds no String at all.
func anyElement(id schema.FieldID, test func(string, *evalScratch) bool, missing bool) pred {
	return func(ev *schema.Event, sc *evalScratch) bool {
		v, _ := ev.Get(id)
		hit, present := anyString(v, test, sc)
		return hit || !present && missing
	}
}

// anyString applies test to v's String elements (v itself when a String)
// until one passes; present reports whether v holds any String.
func anyString(v value.Value, test func(string, *evalScratch) bool, sc *evalScratch) (hit, present bool) {
	if s, ok := v.Str(); ok {
		return test(s, sc), true
	}
	a, _ := v.Array()
	for _, e := range a {
		if s, ok := e.Str(); ok {
			present = true
			if test(s, sc) {
				return true, true
			}
		}
	}
	return false, present
}

// hasString reports whether v is a String or an Array holding one: an
// array field that is not null.
func hasString(v value.Value) bool {
	if v.Kind() == value.KindString {
		return true
	}
	a, _ := v.Array()
	for _, e := range a {
		if e.Kind() == value.KindString {
			return true
		}
	}
	return false
}

func compileArrayCompare(id schema.FieldID, op rule.CmpOp, lit value.Value) pred {
	if lit.IsNull() {
		eq := op == rule.OpEq
		return func(ev *schema.Event, sc *evalScratch) bool {
			v, _ := ev.Get(id)
			return hasString(v) != eq
		}
	}
	s, ok := lit.Str()
	if !ok {
		return predFalse // Resolve coerces literals to String: not reached
	}
	switch op {
	case rule.OpEq:
		return anyElement(id, func(got string, _ *evalScratch) bool { return got == s }, false)
	case rule.OpNe:
		eq := anyElement(id, func(got string, _ *evalScratch) bool { return got == s }, false)
		return func(ev *schema.Event, sc *evalScratch) bool { return !eq(ev, sc) }
	}
	return anyElement(id, func(got string, _ *evalScratch) bool { return ordered(op, strings.Compare(got, s)) }, false)
}

func compileArrayIn(e *rule.InExpr) pred {
	l := newInList(e.Values, e.Fold)
	return anyElement(e.Field.ID, l.hasStr, l.hasNull)
}

// lookArray reports the atoms of sets that any String element of a
// satisfies, as candidates does for a String value: a test on an array
// field holds when it holds for one element, so the rule is a candidate
// when one element hits its guard.
func (ix *ruleIndex) lookArray(sets *[2]fieldSet, a []value.Value, sc *evalScratch) {
	for _, e := range a {
		if s, ok := e.Str(); ok {
			ix.look(&sets[0], s, false, sc)
			ix.look(&sets[1], s, true, sc)
		}
	}
}

// arrayBinding is the array element an expression is being tried on: a
// field operand of array field id reads val instead of the whole array.
type arrayBinding struct {
	id  schema.FieldID
	val value.Value
}

// arrayOperand reads array field id as an operand: the element bound in
// the scratch while an expression is tried element by element, else the
// field's value (a String, or the whole Array, which the string functions
// take for null).
func arrayOperand(id schema.FieldID) vfn {
	return func(ev *schema.Event, sc *evalScratch) value.Value {
		if sc.elem.id == id {
			return sc.elem.val
		}
		v, _ := ev.Get(id)
		return v
	}
}

// arrayExprPred compiles a condition over expressions (a comparison of
// operands, in, a pattern test or a boolean function on an expression)
// that reads exactly one array field, perhaps several times: it holds when
// it holds with the field bound to any one of its elements, every
// occurrence to the same one (length(registry.data.strings) > 0); an empty
// array is tried as null. With no array field, or two different ones, it
// returns nil and the condition reads whole values.
func (c *compiler) arrayExprPred(e rule.Expr) pred {
	var inner func() pred
	var ops []rule.Operand
	switch e := e.(type) {
	case *rule.ValueCompareExpr:
		inner, ops = func() pred { return c.compileValueCompare(e) }, []rule.Operand{e.X, e.Y}
	case *rule.OperandInExpr:
		inner, ops = func() pred { return c.compileOperandIn(e) }, []rule.Operand{e.X}
	case *rule.OperandMatchExpr:
		inner, ops = func() pred { return c.compileOperandMatch(e) }, []rule.Operand{e.X}
	case *rule.CallExpr:
		inner, ops = func() pred { return c.compileCallCond(e) }, []rule.Operand{e}
	default:
		return nil
	}
	var id schema.FieldID
	for _, o := range ops {
		if !arrayFieldOf(o, &id) {
			return nil // two array fields: no element-wise pairing
		}
	}
	if id == 0 {
		return nil
	}
	p := inner()
	return func(ev *schema.Event, sc *evalScratch) bool {
		v, _ := ev.Get(id)
		a, isArr := v.Array()
		if !isArr {
			return p(ev, sc) // a String is its own one element; null is null
		}
		saved := sc.elem
		sc.elem.id = id
		hit := false
		if len(a) == 0 {
			sc.elem.val = value.NullValue()
			hit = p(ev, sc)
		}
		for _, x := range a {
			if sc.elem.val = x; p(ev, sc) {
				hit = true
				break
			}
		}
		sc.elem = saved
		return hit
	}
}

// arrayFieldOf finds the array fields o reads: it sets *id to the one
// found and reports false when o reads another one too.
func arrayFieldOf(o rule.Operand, id *schema.FieldID) bool {
	switch o := o.(type) {
	case *rule.Field:
		if o.Array && o.ID != 0 {
			if *id != 0 && *id != o.ID {
				return false
			}
			*id = o.ID
		}
	case *rule.ArithExpr:
		return arrayFieldOf(o.X, id) && arrayFieldOf(o.Y, id)
	case *rule.CallExpr:
		for _, a := range o.Args {
			if !arrayFieldOf(a, id) {
				return false
			}
		}
	}
	return true
}
