package rule

import (
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Pos is a position in rule text: 1-based line and column, the column
// counted in characters.
type Pos struct {
	Line, Col int
}

// String returns "line:col".
func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

// Query is a parsed EQL query: one event query (a single Step), a
// sequence or a sample. Parse returns it with names unresolved; Resolve
// binds field paths to FieldIDs and event names to event type IDs.
type Query struct {
	// Sequence is true for a sequence query, false for an event query or
	// a sample.
	Sequence bool
	// Sample is true for a sample query (sample by f [q1] [q2] ...): its
	// Steps are filters that events of one join key must all match, in any
	// order, each with a different event.
	Sample bool
	// By holds the sequence's (or sample's) own join fields (sequence by
	// a, b), shared by every step; empty for an event query.
	By []*Field
	// MaxSpan bounds the time from a sequence's first event to each later
	// one (inclusive); HasMaxSpan says whether the query set it, before or
	// after the steps.
	MaxSpan    time.Duration
	HasMaxSpan bool
	// Steps are the sequence's steps in order, or the event query's one
	// step. A step with Runs > 1 stands for that many identical steps.
	Steps []*Step
	// Until, when set, drops a sequence's partial matches for the join key
	// of an event it matches.
	Until *Step

	resolved bool
}

// Step is one bracketed event query of a sequence (or the whole of an event
// query): an event name, a condition, join fields and a repeat count.
type Step struct {
	// Pos is where the step starts (its '[' in a sequence).
	Pos Pos
	// Event is the event name as written ("process", "any");
	// EventPos where.
	Event    string
	EventPos Pos
	// Types are the event type IDs the name resolved to, ascending; nil
	// before Resolve, and nil after it when the step matches any type
	// (AnyType).
	Types   []schema.EventTypeID
	AnyType bool
	// Cond is the condition after where.
	Cond Expr
	// By holds the step's own join fields ([...] by a), which follow the
	// sequence's By in the join key.
	By []*Field
	// Runs is how many consecutive matching events the step stands for
	// (with runs=N); 1 when not given.
	Runs int
	// Missing marks a missing-event step of a sequence (![...]): a match
	// of the other steps counts only when no event matching this one, with
	// the same join values, comes where it stands (see the package doc).
	Missing bool
}

// Fields returns the fields the step's condition tests, each once, in the
// order they first appear.
func (s *Step) Fields() []*Field {
	var out []*Field
	seen := map[string]bool{}
	walk(s.Cond, func(f *Field) {
		if !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f)
		}
	})
	return out
}

// NumEvents returns how many events a match of q holds: the sum of the
// Runs of its steps that are not missing-event steps.
func (q *Query) NumEvents() int {
	n := 0
	for _, s := range q.Steps {
		if !s.Missing {
			n += s.Runs
		}
	}
	return n
}

// AllSteps returns q's Steps followed by its Until step, if any: every
// step whose fields and event types the query reads. The slice is q's own
// when there is no Until, a new one otherwise.
func (q *Query) AllSteps() []*Step {
	if q.Until == nil {
		return q.Steps
	}
	return append(q.Steps[:len(q.Steps):len(q.Steps)], q.Until)
}

// HasMissing reports whether q has a missing-event step (![...]).
func (q *Query) HasMissing() bool {
	for _, s := range q.Steps {
		if s.Missing {
			return true
		}
	}
	return false
}

// Resolved reports whether Resolve has bound q's names.
func (q *Query) Resolved() bool { return q.resolved }

// Field is a field reference: a dotted path, where it was written, and,
// after Resolve, its FieldID and declared type (for a plugin type, its base
// type: see schema.RegisterType).
type Field struct {
	Path string
	Pos  Pos
	ID   schema.FieldID
	Type schema.FieldDataType
	// Plugin is the field's declared plugin type (schema.RegisterType),
	// whose base type Type then is; 0 for a built-in type. See plugin.go.
	Plugin schema.FieldDataType
	// Optional is set for ?field: a field the schema lacks resolves to ID
	// 0, never present, instead of being an error.
	Optional bool
	// Array is set when the schema declares the field an array of strings
	// (schema.TypeStringArray): Type is then its element type, String, and
	// a test on the field holds when it holds for any element (array.go).
	Array bool
}

// String returns the path, backticking segments that need it, after a ?
// when the field is optional.
func (f *Field) String() string {
	if f.Optional {
		return "?" + quotePath(f.Path)
	}
	return quotePath(f.Path)
}

// Expr is a condition: one of *BoolLit, *NotExpr, *BinaryExpr,
// *CompareExpr, *InExpr, *MatchExpr, *FieldExpr, *ValueCompareExpr,
// *OperandInExpr, *OperandMatchExpr or *CallExpr (a boolean function on
// operands).
type Expr interface {
	// Position returns where the expression starts.
	Position() Pos
	// String returns the expression in EQL; parsing it gives the same
	// expression back.
	String() string
	isExpr()
}

// BoolLit is true or false.
type BoolLit struct {
	P     Pos
	Value bool
}

// NotExpr is not X.
type NotExpr struct {
	P Pos
	X Expr
}

// LogicOp is and or or.
type LogicOp uint8

// The logical operators.
const (
	OpAnd LogicOp = iota + 1
	OpOr
)

// String returns "and" or "or".
func (o LogicOp) String() string {
	if o == OpOr {
		return "or"
	}
	return "and"
}

// BinaryExpr is X and Y, or X or Y.
type BinaryExpr struct {
	P    Pos
	Op   LogicOp
	X, Y Expr
}

// Terms returns the operands of the chain of e's operator that e heads,
// flattened left to right: a and (b and c) gives [a b c]; an operand with
// another operator (a or b inside an and) is one term.
func (e *BinaryExpr) Terms() []Expr {
	var terms []Expr
	var collect func(Expr)
	collect = func(x Expr) {
		if b, ok := x.(*BinaryExpr); ok && b.Op == e.Op {
			collect(b.X)
			collect(b.Y)
			return
		}
		terms = append(terms, x)
	}
	collect(e)
	return terms
}

// CmpOp is a comparison operator.
type CmpOp uint8

// The comparison operators.
const (
	OpEq CmpOp = iota + 1
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
)

var cmpNames = [...]string{OpEq: "==", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">="}

// String returns the operator as written ("==", "<=", ...).
func (o CmpOp) String() string {
	if int(o) < len(cmpNames) && o != 0 {
		return cmpNames[o]
	}
	return "CmpOp(" + strconv.Itoa(int(o)) + ")"
}

// flip returns the operator with its operands swapped (5 < x is x > 5).
func (o CmpOp) flip() CmpOp {
	switch o {
	case OpLt:
		return OpGt
	case OpLe:
		return OpGe
	case OpGt:
		return OpLt
	case OpGe:
		return OpLe
	}
	return o
}

// CompareExpr compares a field with a literal: Field Op Value.
type CompareExpr struct {
	P     Pos
	Field *Field
	Op    CmpOp
	Value Literal
}

// InExpr is Field in (Values...), or in~ (case-insensitive) when Fold.
type InExpr struct {
	P      Pos
	Field  *Field
	Values []Literal
	Fold   bool
}

// MatchOp is a string matching operator.
type MatchOp uint8

// The string matching operators and functions.
const (
	// MatchWildcard is field : "pattern", case-insensitive, * and ?.
	MatchWildcard MatchOp = iota + 1
	// MatchLike is like (case-sensitive) or like~ (Fold), * and ?.
	MatchLike
	// MatchRegex is regex or regex~ (Fold): RE2 matching the whole string.
	MatchRegex
	// MatchStartsWith is startsWith(field, s...) (or startsWith~).
	MatchStartsWith
	// MatchEndsWith is endsWith(field, s...) (or endsWith~).
	MatchEndsWith
	// MatchContains is stringContains(field, s...) (or stringContains~).
	MatchContains
	// MatchCIDR is cidrMatch(field, "10.0.0.0/8", ...): an address (a
	// string field, such as one of a plugin ip type) inside a prefix.
	MatchCIDR
)

var matchNames = [...]string{MatchWildcard: ":", MatchLike: "like", MatchRegex: "regex",
	MatchStartsWith: "startsWith", MatchEndsWith: "endsWith", MatchContains: "stringContains", MatchCIDR: "cidrMatch"}

// String returns the operator or function name.
func (o MatchOp) String() string {
	if int(o) < len(matchNames) && o != 0 {
		return matchNames[o]
	}
	return "MatchOp(" + strconv.Itoa(int(o)) + ")"
}

// isFunc reports whether the operator is written as a function call.
func (o MatchOp) isFunc() bool { return o >= MatchStartsWith }

// MatchExpr matches a string field against one or more patterns; it is
// true when any matches. Resolve compiles the patterns into Matchers.
type MatchExpr struct {
	P        Pos
	Field    *Field
	Op       MatchOp
	Fold     bool
	Patterns []Literal
	// Matchers holds one compiled matcher per pattern, after Resolve.
	Matchers []*Matcher
}

// FieldExpr is a field alone as a condition: true when the (boolean)
// field is true.
type FieldExpr struct {
	Field *Field
}

// Literal is a constant in a condition. Value holds it as parsed, and after
// Resolve as coerced to the field's type (see schema.FieldDataType.Coerce).
type Literal struct {
	Pos   Pos
	Value value.Value
	// Raw is the literal as written.
	Raw string
}

func (*BoolLit) isExpr()     {}
func (*NotExpr) isExpr()     {}
func (*BinaryExpr) isExpr()  {}
func (*CompareExpr) isExpr() {}
func (*InExpr) isExpr()      {}
func (*MatchExpr) isExpr()   {}
func (*FieldExpr) isExpr()   {}

// Position implements Expr.
func (e *BoolLit) Position() Pos { return e.P }

// Position implements Expr.
func (e *NotExpr) Position() Pos { return e.P }

// Position implements Expr.
func (e *BinaryExpr) Position() Pos { return e.P }

// Position implements Expr.
func (e *CompareExpr) Position() Pos { return e.P }

// Position implements Expr.
func (e *InExpr) Position() Pos { return e.P }

// Position implements Expr.
func (e *MatchExpr) Position() Pos { return e.P }

// Position implements Expr.
func (e *FieldExpr) Position() Pos { return e.Field.Pos }

// String implements Expr.
func (e *BoolLit) String() string { return strconv.FormatBool(e.Value) }

// String implements Expr.
func (e *NotExpr) String() string { return "not " + e.X.String() }

// String implements Expr.
func (e *BinaryExpr) String() string {
	return "(" + e.X.String() + " " + e.Op.String() + " " + e.Y.String() + ")"
}

// String implements Expr.
func (e *CompareExpr) String() string {
	return e.Field.String() + " " + e.Op.String() + " " + formatLiteral(e.Value.Value)
}

// String implements Expr.
func (e *InExpr) String() string {
	op := " in "
	if e.Fold {
		op = " in~ "
	}
	return e.Field.String() + op + formatList(e.Values)
}

// String implements Expr.
func (e *MatchExpr) String() string {
	fold := ""
	if e.Fold {
		fold = "~"
	}
	if e.Op.isFunc() {
		var b strings.Builder
		b.WriteString(e.Op.String())
		b.WriteString(fold)
		b.WriteString("(")
		b.WriteString(e.Field.String())
		for _, p := range e.Patterns {
			b.WriteString(", ")
			b.WriteString(formatLiteral(p.Value))
		}
		b.WriteString(")")
		return b.String()
	}
	op := e.Op.String()
	if e.Op == MatchWildcard {
		fold = ""
	}
	var rhs string
	if len(e.Patterns) == 1 {
		rhs = formatLiteral(e.Patterns[0].Value)
	} else {
		rhs = formatList(e.Patterns)
	}
	return e.Field.String() + " " + op + fold + " " + rhs
}

// String implements Expr.
func (e *FieldExpr) String() string { return e.Field.String() }

// String returns the step in EQL: [event where cond] by f with runs=N for
// a sequence step (the brackets are left to the caller for an event
// query, see Query.String).
func (s *Step) String() string {
	var b strings.Builder
	if s.Missing {
		b.WriteString("!")
	}
	b.WriteString("[")
	b.WriteString(s.body())
	b.WriteString("]")
	if len(s.By) > 0 {
		b.WriteString(" by ")
		b.WriteString(formatFields(s.By))
	}
	if s.Runs > 1 {
		b.WriteString(" with runs=")
		b.WriteString(strconv.Itoa(s.Runs))
	}
	return b.String()
}

func (s *Step) body() string {
	name := quotePath(s.Event)
	if s.AnyType {
		name = "any"
	} else if s.Event == "any" {
		name = "`any`"
	}
	return name + " where " + s.Cond.String()
}

// String returns q in EQL, on one line for an event query and one line per
// step for a sequence; parsing it gives an equal query back.
func (q *Query) String() string {
	if !q.Sequence && !q.Sample {
		if len(q.Steps) == 0 {
			return ""
		}
		return q.Steps[0].body()
	}
	var b strings.Builder
	if q.Sample {
		b.WriteString("sample")
	} else {
		b.WriteString("sequence")
	}
	if len(q.By) > 0 {
		b.WriteString(" by ")
		b.WriteString(formatFields(q.By))
	}
	if q.HasMaxSpan {
		b.WriteString(" with maxspan=")
		b.WriteString(FormatDuration(q.MaxSpan))
	}
	for _, s := range q.Steps {
		b.WriteString("\n  ")
		b.WriteString(s.String())
	}
	if q.Until != nil {
		b.WriteString("\nuntil ")
		b.WriteString(q.Until.String())
	}
	return b.String()
}

// walk calls fn for every field an expression references, in order.
func walk(e Expr, fn func(*Field)) {
	switch e := e.(type) {
	case *NotExpr:
		walk(e.X, fn)
	case *BinaryExpr:
		walk(e.X, fn)
		walk(e.Y, fn)
	case *CompareExpr:
		fn(e.Field)
	case *InExpr:
		fn(e.Field)
	case *MatchExpr:
		fn(e.Field)
	case *FieldExpr:
		fn(e.Field)
	case *ValueCompareExpr:
		walkOperand(e.X, fn)
		walkOperand(e.Y, fn)
	case *CallExpr:
		walkOperand(e, fn)
	case *OperandInExpr:
		walkOperand(e.X, fn)
	case *OperandMatchExpr:
		walkOperand(e.X, fn)
	}
}

func formatFields(fs []*Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return strings.Join(parts, ", ")
}

func formatList(ls []Literal) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = formatLiteral(l.Value)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// formatLiteral writes a literal value as EQL source.
func formatLiteral(v value.Value) string {
	switch v.Kind() {
	case value.KindNull:
		return "null"
	case value.KindBool:
		b, _ := v.Bool()
		return strconv.FormatBool(b)
	case value.KindI64:
		i, _ := v.I64()
		return strconv.FormatInt(i, 10)
	case value.KindU64:
		u, _ := v.U64()
		return strconv.FormatUint(u, 10)
	case value.KindF64:
		f, _ := v.F64()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return "null" // not reachable from parsed text
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case value.KindString:
		s, _ := v.Str()
		return QuoteString(s)
	}
	return QuoteString(v.String())
}

// QuoteString returns s as an EQL double-quoted string literal, escaping
// quotes, backslashes and control characters.
func QuoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f || !unicode.IsPrint(r) && r != utf8.RuneError {
				b.WriteString(`\u{`)
				b.WriteString(strconv.FormatInt(int64(r), 16))
				b.WriteString(`}`)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quotePath backticks the segments of a path that are not plain names.
func quotePath(p string) string {
	if isPlainPath(p) && !isKeyword(p) {
		return p
	}
	segs := strings.Split(p, ".")
	for i, s := range segs {
		if !isPlainSegment(s) || (i == 0 && len(segs) == 1 && isKeyword(s)) {
			segs[i] = "`" + s + "`"
		}
	}
	return strings.Join(segs, ".")
}

func isPlainSegment(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

func isPlainPath(p string) bool {
	for _, s := range strings.Split(p, ".") {
		if !isPlainSegment(s) {
			return false
		}
	}
	return true
}

// durationUnits are EQL's duration units, largest first: what
// parseDuration reads and FormatDuration writes.
var durationUnits = [...]struct {
	name string
	d    time.Duration
}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second},
	{"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", time.Nanosecond}}

// FormatDuration writes d in the largest EQL unit that holds it exactly
// (d, h, m, s, ms, us, ns): 90s is "90s", 2h is "2h".
func FormatDuration(d time.Duration) string {
	for _, u := range durationUnits {
		if d != 0 && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// Matcher is a compiled string pattern: a wildcard (like, like~, :), a
// prefix, suffix or substring, or an RE2 regular expression. It matches
// without allocating.
type Matcher struct {
	kind   matcherKind
	lit    string
	fold   bool
	re     *regexp.Regexp
	source string
	// lower is lit in ASCII lower case when fold is set and lit is ASCII:
	// then an ASCII input is matched bytewise, which for ASCII strings is
	// the same as Unicode simple folding.
	lower string
	ascii bool
	// A regular expression that is a finite set of strings is matched as
	// literals: litKind says how (exact, prefix, suffix, contains); lits
	// holds them as expanded, litsLower in ASCII lower case when fold is
	// set and they are all ASCII.
	litKind   matcherKind
	lits      []string
	litsLower []string
	// prefix is a cidrMatch matcher's network.
	prefix netip.Prefix
}

type matcherKind uint8

const (
	mExact matcherKind = iota
	mPrefix
	mSuffix
	mContains
	mGlob
	mRegex
	mLits
	mCIDR
)
