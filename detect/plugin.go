package detect

import (
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Tests on fields of plugin types (rule.Field.Plugin; see rule's
// plugin.go): ==, !=, orderings and in compare by the type's Compare, and
// cidrMatch runs the type's Match when it has one. A value that is not a
// valid value of the type (the wrong kind, or refused by its Validate)
// counts as absent: == and in are false, != true. The predicates add no
// allocation to what the type's functions do; the rule index does not
// guard these tests, since the type's equality need not be byte equality.

// pluginTest reports whether e is a test compiled by pluginPred.
func pluginTest(e rule.Expr) bool {
	switch e := e.(type) {
	case *rule.CompareExpr:
		return e.Field.Plugin != 0 && !e.Value.Value.IsNull()
	case *rule.InExpr:
		return e.Field.Plugin != 0
	case *rule.MatchExpr:
		return e.Field.Plugin != 0 && e.Op == rule.MatchCIDR && len(e.Matchers) == 0
	}
	return false
}

// pluginPred compiles a test on a field of a plugin type; nil when e is
// not one.
func pluginPred(e rule.Expr) pred {
	if !pluginTest(e) {
		return nil
	}
	switch e := e.(type) {
	case *rule.CompareExpr:
		return pluginCompare(e.Field, e.Op, e.Value.Value)
	case *rule.InExpr:
		return pluginIn(e)
	case *rule.MatchExpr:
		return pluginMatch(e)
	}
	return nil
}

// pluginValid returns the test of a value against f's type: its base kind,
// then its Validate.
func pluginValid(f *rule.Field) (schema.TypeDef, func(value.Value) bool) {
	def, _ := f.Plugin.Plugin()
	kind := def.Base.Kind()
	validate := def.Validate
	return def, func(v value.Value) bool {
		return (kind == value.KindNull || v.Kind() == kind) && (validate == nil || validate(v))
	}
}

func pluginCompare(f *rule.Field, op rule.CmpOp, lit value.Value) pred {
	_, valid := pluginValid(f)
	id, compare := f.ID, f.Plugin.Compare
	return func(ev *schema.Event, _ *evalScratch) bool {
		v, ok := ev.Get(id)
		if !ok || !valid(v) {
			return op == rule.OpNe
		}
		return ordered(op, compare(v, lit))
	}
}

func pluginIn(e *rule.InExpr) pred {
	_, valid := pluginValid(e.Field)
	id, compare := e.Field.ID, e.Field.Plugin.Compare
	var lits []value.Value
	hasNull := false
	for _, l := range e.Values {
		if l.Value.IsNull() {
			hasNull = true
		} else {
			lits = append(lits, l.Value)
		}
	}
	return func(ev *schema.Event, _ *evalScratch) bool {
		v, ok := ev.Get(id)
		if !ok || v.IsNull() {
			return hasNull
		}
		if !valid(v) {
			return false
		}
		for _, x := range lits {
			if compare(v, x) == 0 {
				return true
			}
		}
		return false
	}
}

func pluginMatch(e *rule.MatchExpr) pred {
	def, valid := pluginValid(e.Field)
	id, match := e.Field.ID, def.Match
	pats := make([]string, 0, len(e.Patterns))
	for _, l := range e.Patterns {
		s, _ := l.Value.Str() // Resolve checked they are strings
		pats = append(pats, s)
	}
	return func(ev *schema.Event, _ *evalScratch) bool {
		v, ok := ev.Get(id)
		if !ok || !valid(v) {
			return false
		}
		for _, p := range pats {
			if m, err := match(v, p); err == nil && m {
				return true
			}
		}
		return false
	}
}
