package rule

import (
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Plugin field types in rules.
//
// A field whose declared type is a plugin type (schema.RegisterType) keeps
// its base type in Field.Type and the plugin type in Field.Plugin. Resolve
// then reads the literals it is compared with through the type: a string
// literal by the type's Parse ("2001:0db8::1" as an ip), any other literal
// coerced to it (the base type's rules, then Validate). Package detect
// compares such a field with ==, !=, <, <=, >, >= and in by the type's
// Compare, and cidrMatch runs the type's Match when it has one; the other
// pattern tests, join keys and functions see the base value.

// pluginCompare resolves a comparison with a field of a plugin type.
func (r *resolver) pluginCompare(e *CompareExpr) {
	lit := &e.Value
	if lit.Value.IsNull() {
		if e.Op != OpEq && e.Op != OpNe {
			r.fail(lit.Pos, lit.Raw, "null can only be compared with == or !=", ErrTypeMismatch)
		}
		return
	}
	r.pluginLiteral(e.Field, lit)
}

// pluginIn resolves in (...) on a field of a plugin type.
func (r *resolver) pluginIn(e *InExpr) {
	if e.Fold {
		r.fail(e.P, e.Field.Path, "in~ folds case, which the type "+e.Field.Plugin.String()+" of "+e.Field.Path+
			" does not define: use in, which compares by the type", ErrTypeMismatch)
		return
	}
	for i := range e.Values {
		if lit := &e.Values[i]; !lit.Value.IsNull() {
			r.pluginLiteral(e.Field, lit)
		}
	}
}

// pluginLiteral reads lit as a value of f's plugin type.
func (r *resolver) pluginLiteral(f *Field, lit *Literal) {
	var (
		v   value.Value
		err error
	)
	if s, ok := lit.Value.Str(); ok {
		v, err = f.Plugin.Parse(s)
	} else {
		v, err = f.Plugin.Coerce(lit.Value)
	}
	if err != nil {
		r.fail(lit.Pos, lit.Raw, "field "+f.Path+" is "+f.Plugin.String()+"; "+lit.Raw+" is not a valid "+
			f.Plugin.String()+" value", ErrTypeMismatch)
		return
	}
	lit.Value = v
}

// pluginMatch resolves cidrMatch on a field of a plugin type that has its
// own Match, checking each pattern by calling Match once with a Null value;
// it reports whether it did (other pattern tests use the base kind's).
func (r *resolver) pluginMatch(e *MatchExpr) bool {
	if e.Field.Plugin == 0 || e.Op != MatchCIDR {
		return false
	}
	def, ok := e.Field.Plugin.Plugin()
	if !ok || def.Match == nil {
		return false
	}
	e.Matchers = nil // detect matches through the type
	for _, lit := range e.Patterns {
		s, ok := lit.Value.Str()
		if !ok {
			r.fail(lit.Pos, lit.Raw, e.Op.String()+" takes string patterns; "+lit.Raw+" is "+kindName(lit.Value), ErrTypeMismatch)
			continue
		}
		if _, err := def.Match(value.Value{}, s); err != nil {
			r.fail(lit.Pos, lit.Raw, "invalid "+e.Field.Plugin.String()+" pattern: "+err.Error(), ErrSyntax)
		}
	}
	return true
}

// pluginOf returns t when it is a plugin type, 0 for a built-in one.
func pluginOf(t schema.FieldDataType) schema.FieldDataType {
	if _, ok := t.Plugin(); ok {
		return t
	}
	return 0
}
