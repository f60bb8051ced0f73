package rule

import (
	"errors"
	"slices"
	"strings"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// maxResolveErrors bounds the errors Resolve reports at once.
const maxResolveErrors = 10

// Compile parses src (named name in errors) and resolves it against reg.
func Compile(name, src string, reg *schema.Registry) (*Query, error) {
	q, err := ParseFile(name, src)
	if err != nil {
		return nil, err
	}
	if err := q.Resolve(name, reg); err != nil {
		return nil, err
	}
	return q, nil
}

// Resolve binds q to reg: every field path to its FieldID and declared type,
// every event name to the event types it stands for, every literal coerced
// to its field's type, every pattern compiled. name is the file named in
// errors. It reports up to 10 problems, joined, each an *Error matching
// ErrUnknownField, ErrUnknownEventType, ErrTypeMismatch or ErrSyntax (a bad
// regular expression). Resolving a query again, for example against a
// newer registry, is allowed.
//
// An event name matches the registered event type of that name and every
// type whose name starts with it followed by an underscore: process
// stands for process_exec, process_exit, ...; any for every type.
func (q *Query) Resolve(name string, reg *schema.Registry) error {
	q.resolved = false // until this resolution succeeds: it rewrites the IDs
	if reg == nil {
		return &Error{File: name, Msg: "no schema registry", Err: ErrUnknownField}
	}
	r := &resolver{file: name, reg: reg, types: eventTypes(reg)}
	for _, f := range q.By {
		r.field(f)
	}
	steps := q.AllSteps()
	for _, st := range steps {
		r.step(st)
	}
	// Join fields are compared by position: their types must agree.
	for i := range q.Steps[0].By {
		first := q.Steps[0].By[i]
		for _, st := range steps[1:] {
			f := st.By[i]
			if f.ID != 0 && first.ID != 0 && !joinable(first.Type, f.Type) {
				r.fail(f.Pos, f.Path, "join field "+f.Path+" ("+f.Type.String()+") can never equal "+
					first.Path+" ("+first.Type.String()+")", ErrTypeMismatch)
			}
		}
	}
	if len(r.errs) > 0 {
		return errors.Join(r.errs...)
	}
	q.resolved = true
	return nil
}

func joinable(a, b schema.FieldDataType) bool {
	num := func(t schema.FieldDataType) bool { return t == schema.TypeI64 || t == schema.TypeU64 }
	return a == b || a == schema.TypeAny || b == schema.TypeAny || num(a) && num(b)
}

type eventType struct {
	id   schema.EventTypeID
	name string
}

// eventTypes lists reg's event types; IDs are dense from 1.
func eventTypes(reg *schema.Registry) []eventType {
	var out []eventType
	for id := schema.EventTypeID(1); id != 0; id++ {
		name, ok := reg.EventTypeName(id)
		if !ok {
			break
		}
		out = append(out, eventType{id, name})
	}
	return out
}

type resolver struct {
	file  string
	reg   *schema.Registry
	types []eventType
	errs  []error
}

func (r *resolver) fail(p Pos, tok, msg string, err error) {
	if len(r.errs) < maxResolveErrors {
		r.errs = append(r.errs, &Error{File: r.file, Line: p.Line, Col: p.Col, Token: tok, Msg: msg, Err: err})
	}
}

func (r *resolver) step(st *Step) {
	st.Types = nil
	if !st.AnyType {
		for _, t := range r.types {
			if t.name == st.Event || strings.HasPrefix(t.name, st.Event) && len(t.name) > len(st.Event) && t.name[len(st.Event)] == '_' {
				st.Types = append(st.Types, t.id)
			}
		}
		if len(st.Types) == 0 {
			r.fail(st.EventPos, st.Event, "unknown event type "+st.Event, ErrUnknownEventType)
		}
		slices.Sort(st.Types)
	}
	for _, f := range st.By {
		r.field(f)
	}
	r.expr(st.Cond)
}

// field resolves f; it reports whether f is known.
func (r *resolver) field(f *Field) bool {
	f.Plugin, f.Array = 0, false
	id, ok := r.reg.FieldID(f.Path)
	why := ""
	if !ok {
		id, why = r.dynamic(f.Path) // dynamic.go
		ok = id != 0
	}
	if !ok && f.Optional {
		// ?field: a field the schema lacks is never present (null).
		f.ID, f.Type = 0, schema.TypeAny
		return true
	}
	if !ok {
		msg := "unknown field " + f.Path + why
		if r.reg.IsGroup(f.Path) {
			msg = f.Path + " is a group of fields, not a field"
		}
		r.fail(f.Pos, f.Path, msg, ErrUnknownField)
		f.ID, f.Type = 0, schema.TypeAny
		return false
	}
	def, _ := r.reg.Field(id)
	// A plugin type's values are of its base type, which is what the
	// language compares them as.
	f.ID, f.Type, f.Plugin = id, def.DataType.Base(), pluginOf(def.DataType)
	f.Type, f.Array = elementType(f.Type) // array.go
	return true
}

func (r *resolver) expr(e Expr) {
	switch e := e.(type) {
	case *NotExpr:
		r.expr(e.X)
	case *BinaryExpr:
		r.expr(e.X)
		r.expr(e.Y)
	case *CompareExpr:
		if r.field(e.Field) {
			r.compare(e)
		}
	case *InExpr:
		if r.field(e.Field) {
			r.in(e)
		}
	case *MatchExpr:
		if r.field(e.Field) {
			r.match(e)
		}
	case *ValueCompareExpr:
		r.valueCompare(e)
	case *OperandInExpr:
		r.operandIn(e)
	case *OperandMatchExpr:
		r.operandMatch(e)
	case *CallExpr:
		if t := r.call(e); t != tyBool {
			r.fail(e.P, e.Name, e.Name+" returns "+t.String()+", not a boolean: compare it with a value", ErrTypeMismatch)
		}
	case *FieldExpr:
		if r.field(e.Field) && e.Field.Type != schema.TypeBool && e.Field.Type != schema.TypeAny {
			r.fail(e.Field.Pos, e.Field.Path, "field "+e.Field.Path+" ("+e.Field.Type.String()+
				") is not a boolean: compare it with a value", ErrTypeMismatch)
		}
	}
}

// coerce converts a literal to f's type, reporting a mismatch.
func (r *resolver) coerce(f *Field, lit *Literal) bool {
	v, err := f.Type.Coerce(lit.Value)
	if err != nil {
		r.fail(lit.Pos, lit.Raw, "field "+f.Path+" is "+f.Type.String()+"; "+lit.Raw+" is "+
			kindName(lit.Value), ErrTypeMismatch)
		return false
	}
	lit.Value = v
	return true
}

func kindName(v value.Value) string {
	switch v.Kind() {
	case value.KindI64, value.KindU64:
		return "an integer"
	case value.KindF64:
		return "a floating-point number"
	case value.KindString:
		return "a string"
	case value.KindBool:
		return "a boolean"
	}
	return v.Kind().String()
}

func (r *resolver) compare(e *CompareExpr) {
	if e.Field.Plugin != 0 {
		r.pluginCompare(e) // plugin.go
		return
	}
	lit := &e.Value
	if lit.Value.IsNull() {
		if e.Op != OpEq && e.Op != OpNe {
			r.fail(lit.Pos, lit.Raw, "null can only be compared with == or !=", ErrTypeMismatch)
		}
		return
	}
	if lit.Value.Kind() == value.KindF64 && (e.Field.Type == schema.TypeI64 || e.Field.Type == schema.TypeU64) {
		return // an integer field against a float: compared by value
	}
	if !r.coerce(e.Field, lit) {
		return
	}
	if e.Op == OpEq || e.Op == OpNe {
		return
	}
	switch lit.Value.Kind() {
	case value.KindI64, value.KindU64, value.KindF64, value.KindString:
	default:
		r.fail(lit.Pos, lit.Raw, e.Op.String()+" needs a number or a string, not "+kindName(lit.Value), ErrTypeMismatch)
	}
}

func (r *resolver) in(e *InExpr) {
	if e.Field.Plugin != 0 {
		r.pluginIn(e) // plugin.go
		return
	}
	if e.Fold && !stringish(e.Field.Type) {
		r.fail(e.P, e.Field.Path, "in~ needs a string field; "+e.Field.Path+" is "+e.Field.Type.String(), ErrTypeMismatch)
		return
	}
	for i := range e.Values {
		lit := &e.Values[i]
		if e.Fold && lit.Value.Kind() != value.KindString && !lit.Value.IsNull() {
			r.fail(lit.Pos, lit.Raw, "in~ compares strings; "+lit.Raw+" is "+kindName(lit.Value), ErrTypeMismatch)
			continue
		}
		if lit.Value.Kind() == value.KindF64 && (e.Field.Type == schema.TypeI64 || e.Field.Type == schema.TypeU64) {
			continue // compared by value
		}
		r.coerce(e.Field, lit)
	}
}

// operandIn resolves X in (...) on an expression: the literals must be
// of the expression's type (strings for in~), or null.
func (r *resolver) operandIn(e *OperandInExpr) {
	t := r.operand(e.X)
	if e.Fold && !fits(t, tyString) {
		r.fail(e.P, e.X.String(), "in~ needs a string; "+e.X.String()+" is "+t.String(), ErrTypeMismatch)
		return
	}
	if t == tyOther {
		r.fail(e.P, e.X.String(), "in needs a scalar; "+e.X.String()+" is "+t.String(), ErrTypeMismatch)
		return
	}
	for _, lit := range e.Values {
		lt := typeOfValue(lit.Value)
		if lt == tyNull || t == tyAny || t == tyNull || lt == t {
			continue
		}
		r.fail(lit.Pos, lit.Raw, e.X.String()+" is "+t.String()+"; "+lit.Raw+" is "+kindName(lit.Value), ErrTypeMismatch)
	}
}

// operandMatch resolves a pattern test on an expression, compiling its
// patterns as match does for a field.
func (r *resolver) operandMatch(e *OperandMatchExpr) {
	if t := r.operand(e.X); !fits(t, tyString) {
		r.fail(e.P, e.X.String(), e.Op.String()+" needs a string; "+e.X.String()+" is "+t.String(), ErrTypeMismatch)
		return
	}
	e.Matchers = r.matchers(e.Op, e.Fold, e.Patterns)
}

func stringish(t schema.FieldDataType) bool { return t == schema.TypeString || t == schema.TypeAny }

func (r *resolver) match(e *MatchExpr) {
	if !stringish(e.Field.Type) {
		r.fail(e.P, e.Field.Path, e.Op.String()+" needs a string field; "+e.Field.Path+" is "+e.Field.Type.String(), ErrTypeMismatch)
		return
	}
	if r.pluginMatch(e) { // plugin.go
		return
	}
	e.Matchers = r.matchers(e.Op, e.Fold, e.Patterns)
}

// matchers compiles the patterns of a test into a fresh slice (a compiled
// rule may hold the old one), reporting bad ones.
func (r *resolver) matchers(op MatchOp, fold bool, patterns []Literal) []*Matcher {
	var out []*Matcher
	for _, lit := range patterns {
		s, ok := lit.Value.Str()
		if !ok {
			r.fail(lit.Pos, lit.Raw, op.String()+" takes string patterns; "+lit.Raw+" is "+kindName(lit.Value), ErrTypeMismatch)
			continue
		}
		var m *Matcher
		switch op {
		case MatchWildcard, MatchLike:
			m = NewWildcard(s, fold)
		case MatchStartsWith:
			m = NewPrefix(s, fold)
		case MatchEndsWith:
			m = NewSuffix(s, fold)
		case MatchContains:
			m = NewContains(s, fold)
		case MatchCIDR:
			var err error
			if m, err = NewCIDR(s); err != nil {
				r.fail(lit.Pos, lit.Raw, "invalid CIDR prefix: "+err.Error(), ErrSyntax)
				continue
			}
		case MatchRegex:
			var err error
			if m, err = NewRegex(s, fold); err != nil {
				r.fail(lit.Pos, lit.Raw, "invalid regular expression: "+err.Error(), ErrSyntax)
				continue
			}
		}
		out = append(out, m)
	}
	return out
}
