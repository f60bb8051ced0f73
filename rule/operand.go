package rule

import (
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Operand is an expression that yields a value rather than true or false:
// a *Field, a *Literal, an *ArithExpr or a *CallExpr. Operands appear on
// either side of a comparison (process.name == process.parent.name,
// length(file.name) > 20) and as function arguments.
type Operand interface {
	// Position returns where the operand starts.
	Position() Pos
	// String returns the operand in EQL.
	String() string
	isOperand()
}

// ArithOp is an arithmetic operator.
type ArithOp uint8

// The arithmetic operators, as in Elastic EQL: + - * / %.
const (
	OpAdd ArithOp = iota + 1
	OpSub
	OpMul
	OpDiv
	OpMod
)

var arithNames = [...]string{OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpMod: "%"}

// String returns the operator as written.
func (o ArithOp) String() string {
	if int(o) < len(arithNames) && o != 0 {
		return arithNames[o]
	}
	return "ArithOp(" + strconv.Itoa(int(o)) + ")"
}

// ArithExpr is X Op Y over numbers. Integers stay integers (division
// truncates, as Elastic's does); a float on either side makes the result a
// float; null on either side, or a division or modulo by zero, gives null.
type ArithExpr struct {
	P    Pos
	Op   ArithOp
	X, Y Operand
}

// CallExpr is a function call on operands: length(process.name),
// concat(a, "-", b), startsWith~(between(a, "x", "y"), "z"). Name is the
// function's canonical spelling (see Functions); Fold is its ~ form.
// CallExpr is also an Expr: a call of a boolean function is a condition.
type CallExpr struct {
	P    Pos
	Name string
	Fold bool
	Args []Operand
	// Matchers holds wildcard()'s compiled patterns after Resolve, when its
	// first argument is not a plain field.
	Matchers []*Matcher
}

// ValueCompareExpr compares two operands where at least one is not a plain
// field against a literal (that case is a CompareExpr): field to field,
// field to expression. Null on either side makes every comparison false,
// except with a literal null: X == null is true when X is null, X != null
// when it is not.
type ValueCompareExpr struct {
	P  Pos
	X  Operand
	Op CmpOp
	Y  Operand
}

func (*Field) isOperand()     {}
func (*Literal) isOperand()   {}
func (*ArithExpr) isOperand() {}
func (*CallExpr) isOperand()  {}

func (*CallExpr) isExpr()         {}
func (*ValueCompareExpr) isExpr() {}

// Position implements Operand.
func (f *Field) Position() Pos { return f.Pos }

// Position implements Operand.
func (l *Literal) Position() Pos { return l.Pos }

// String implements Operand.
func (l *Literal) String() string { return formatLiteral(l.Value) }

// Position implements Operand.
func (e *ArithExpr) Position() Pos { return e.P }

// String implements Operand; the parentheses keep the grouping.
func (e *ArithExpr) String() string {
	return "(" + e.X.String() + " " + e.Op.String() + " " + e.Y.String() + ")"
}

// Position implements Operand and Expr.
func (e *CallExpr) Position() Pos { return e.P }

// String implements Operand and Expr.
func (e *CallExpr) String() string {
	var b strings.Builder
	b.WriteString(e.Name)
	if e.Fold {
		b.WriteString("~")
	}
	b.WriteString("(")
	for i, a := range e.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteString(")")
	return b.String()
}

// Position implements Expr.
func (e *ValueCompareExpr) Position() Pos { return e.P }

// String implements Expr.
func (e *ValueCompareExpr) String() string {
	return e.X.String() + " " + e.Op.String() + " " + e.Y.String()
}

// walkOperand calls fn for every field an operand references.
func walkOperand(o Operand, fn func(*Field)) {
	switch o := o.(type) {
	case *Field:
		fn(o)
	case *ArithExpr:
		walkOperand(o.X, fn)
		walkOperand(o.Y, fn)
	case *CallExpr:
		for _, a := range o.Args {
			walkOperand(a, fn)
		}
	}
}

// funcResult is the type a function returns.
type funcResult uint8

// The result types of functions.
const (
	resultString funcResult = iota + 1
	resultNumber
	resultBool
)

// funcSpec describes one function: its canonical name, argument counts,
// whether it has a ~ form, what it returns and what its arguments are.
type funcSpec struct {
	name     string
	min, max int // max -1: any number
	fold     bool
	result   funcResult
	// args gives each argument's type ('s' string, 'n' number, 'b' a
	// boolean literal, 'a' any scalar); the last repeats.
	args string
}

// functions are Elastic EQL's functions
// (https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-function-ref.html),
// by lower-case name.
var functions = map[string]funcSpec{
	"add":            {"add", 2, 2, false, resultNumber, "nn"},
	"between":        {"between", 3, 4, true, resultString, "sssb"},
	"cidrmatch":      {"cidrMatch", 2, -1, false, resultBool, "ss"},
	"concat":         {"concat", 1, -1, false, resultString, "a"},
	"divide":         {"divide", 2, 2, false, resultNumber, "nn"},
	"endswith":       {"endsWith", 2, -1, true, resultBool, "ss"},
	"indexof":        {"indexOf", 2, 3, true, resultNumber, "ssn"},
	"length":         {"length", 1, 1, false, resultNumber, "s"},
	"modulo":         {"modulo", 2, 2, false, resultNumber, "nn"},
	"multiply":       {"multiply", 2, 2, false, resultNumber, "nn"},
	"number":         {"number", 1, 2, false, resultNumber, "sn"},
	"startswith":     {"startsWith", 2, -1, true, resultBool, "ss"},
	"string":         {"string", 1, 1, false, resultString, "a"},
	"stringcontains": {"stringContains", 2, -1, true, resultBool, "ss"},
	"substring":      {"substring", 2, 3, false, resultString, "snn"},
	"subtract":       {"subtract", 2, 2, false, resultNumber, "nn"},
	"wildcard":       {"wildcard", 2, -1, true, resultBool, "ss"},
}

func functionNames() string {
	return "add, between, cidrMatch, concat, divide, endsWith, indexOf, length, modulo, multiply, number, " +
		"startsWith, string, stringContains, substring, subtract, wildcard"
}

// opType is an operand's type as far as Resolve knows it.
type opType uint8

const (
	tyAny opType = iota // a field of type any: known only at run time
	tyNull
	tyString
	tyNumber
	tyBool
	tyOther // bytes, arrays: never compared by operands
)

func (t opType) String() string {
	return [...]string{"any", "null", "a string", "a number", "a boolean", "not a scalar"}[t]
}

// typeOfField is the type of a field of type t: that of its values' kind;
// any for TypeAny; not a scalar for the types whose values are of no one
// kind (Array<String>, plugin types).
func typeOfField(t schema.FieldDataType) opType {
	if t == schema.TypeAny {
		return tyAny
	}
	if k := t.Kind(); k != value.KindNull {
		return typeOfKind(k)
	}
	return tyOther
}

func typeOfValue(v value.Value) opType { return typeOfKind(v.Kind()) }

func typeOfKind(k value.Kind) opType {
	switch k {
	case value.KindNull:
		return tyNull
	case value.KindString:
		return tyString
	case value.KindI64, value.KindU64, value.KindF64:
		return tyNumber
	case value.KindBool:
		return tyBool
	}
	return tyOther
}

// fits reports whether an operand of type t may stand where want is
// expected.
func fits(t, want opType) bool { return t == want || t == tyAny || t == tyNull }

// operand resolves o and returns its type.
func (r *resolver) operand(o Operand) opType {
	switch o := o.(type) {
	case *Field:
		if !r.field(o) {
			return tyAny
		}
		return typeOfField(o.Type)
	case *Literal:
		return typeOfValue(o.Value)
	case *ArithExpr:
		for _, x := range []Operand{o.X, o.Y} {
			if t := r.operand(x); !fits(t, tyNumber) {
				r.fail(x.Position(), x.String(), o.Op.String()+" needs numbers; "+x.String()+" is "+t.String(), ErrTypeMismatch)
			}
		}
		return tyNumber
	case *CallExpr:
		return r.call(o)
	}
	return tyAny
}

// call resolves a function call and returns its result type.
func (r *resolver) call(c *CallExpr) opType {
	spec, ok := functions[strings.ToLower(c.Name)]
	if !ok || len(c.Args) < spec.min || spec.max >= 0 && len(c.Args) > spec.max {
		// Parse refuses these; a query built by hand may hold them.
		r.fail(c.P, c.Name, "unknown function or wrong number of arguments: "+c.Name, ErrUnsupported)
		return tyAny
	}
	c.Name = spec.name
	for i, a := range c.Args {
		t := r.operand(a)
		want := spec.args[min(i, len(spec.args)-1)]
		switch want {
		case 's':
			if !fits(t, tyString) {
				r.fail(a.Position(), a.String(), spec.name+" argument "+strconv.Itoa(i+1)+" must be a string; "+a.String()+" is "+t.String(), ErrTypeMismatch)
			}
		case 'n':
			if !fits(t, tyNumber) {
				r.fail(a.Position(), a.String(), spec.name+" argument "+strconv.Itoa(i+1)+" must be a number; "+a.String()+" is "+t.String(), ErrTypeMismatch)
			}
		case 'b':
			if l, ok := a.(*Literal); !ok || l.Value.Kind() != value.KindBool {
				r.fail(a.Position(), a.String(), spec.name+" argument "+strconv.Itoa(i+1)+" must be true or false", ErrTypeMismatch)
			}
		case 'a':
			if t == tyOther {
				r.fail(a.Position(), a.String(), spec.name+" argument "+strconv.Itoa(i+1)+" must be a scalar", ErrTypeMismatch)
			}
		}
	}
	switch c.Name {
	case "cidrMatch":
		// As a condition with literal blocks it is a MatchExpr or an
		// OperandMatchExpr; what is left is a block that is not a literal
		// (Elastic takes none either) or a use as a value.
		r.fail(c.P, c.Name, "cidrMatch takes literal CIDR blocks and stands alone as a condition, as in Elastic EQL", ErrUnsupported)
	case "wildcard":
		c.Matchers = nil
		for _, a := range c.Args[1:] {
			l, ok := a.(*Literal)
			s, isStr := "", false
			if ok {
				s, isStr = l.Value.Str()
			}
			if !isStr {
				r.fail(a.Position(), a.String(), "wildcard patterns must be literal strings, as in Elastic EQL", ErrUnsupported)
				continue
			}
			c.Matchers = append(c.Matchers, NewWildcard(s, true))
		}
	}
	switch spec.result {
	case resultString:
		return tyString
	case resultNumber:
		return tyNumber
	}
	return tyBool
}

// valueCompare resolves x op y.
func (r *resolver) valueCompare(e *ValueCompareExpr) {
	tx, ty := r.operand(e.X), r.operand(e.Y)
	if tx == tyNull || ty == tyNull {
		if e.Op != OpEq && e.Op != OpNe {
			r.fail(e.P, e.Op.String(), "null can only be compared with == or !=", ErrTypeMismatch)
		}
		return
	}
	if tx == tyOther || ty == tyOther || tx != tyAny && ty != tyAny && tx != ty {
		r.fail(e.P, e.Op.String(), e.X.String()+" ("+tx.String()+") and "+e.Y.String()+" ("+ty.String()+") cannot be compared", ErrTypeMismatch)
		return
	}
	if e.Op != OpEq && e.Op != OpNe && (tx == tyBool || ty == tyBool) {
		r.fail(e.P, e.Op.String(), e.Op.String()+" needs numbers or strings, not booleans", ErrTypeMismatch)
	}
}

// OperandInExpr is X in (Values...) (in~ when Fold) where X is an
// expression rather than a field: length(process.name) in (3, 4),
// substring(a, 0, 3) in~ ("cmd"). A field on the left is an InExpr, which
// the rule index reads; this form is never indexed.
type OperandInExpr struct {
	P      Pos
	X      Operand
	Values []Literal
	Fold   bool
}

// OperandMatchExpr is a pattern test (:, like, like~, regex, regex~, or
// cidrMatch with literal blocks) on an expression rather than a field:
// concat(a, b) : "x*", cidrMatch(string(x), "10.0.0.0/8"). A field on the
// left is a MatchExpr; this form is never indexed. Resolve compiles the
// patterns into Matchers.
type OperandMatchExpr struct {
	P        Pos
	X        Operand
	Op       MatchOp
	Fold     bool
	Patterns []Literal
	// Matchers holds one compiled matcher per pattern, after Resolve.
	Matchers []*Matcher
}

func (*OperandInExpr) isExpr()    {}
func (*OperandMatchExpr) isExpr() {}

// Position implements Expr.
func (e *OperandInExpr) Position() Pos { return e.P }

// Position implements Expr.
func (e *OperandMatchExpr) Position() Pos { return e.P }

// String implements Expr.
func (e *OperandInExpr) String() string {
	op := " in "
	if e.Fold {
		op = " in~ "
	}
	return e.X.String() + op + formatList(e.Values)
}

// String implements Expr.
func (e *OperandMatchExpr) String() string {
	if e.Op == MatchCIDR {
		var b strings.Builder
		b.WriteString("cidrMatch(")
		b.WriteString(e.X.String())
		for _, p := range e.Patterns {
			b.WriteString(", ")
			b.WriteString(formatLiteral(p.Value))
		}
		b.WriteString(")")
		return b.String()
	}
	op, fold := e.Op.String(), ""
	if e.Fold && e.Op != MatchWildcard {
		fold = "~"
	}
	rhs := formatList(e.Patterns)
	if len(e.Patterns) == 1 {
		rhs = formatLiteral(e.Patterns[0].Value)
	}
	return e.X.String() + " " + op + fold + " " + rhs
}
