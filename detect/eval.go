package detect

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// vfn is a compiled operand: it returns the operand's value for an event,
// Null when a field is missing or a function has no answer. It allocates
// nothing: a string it must build (concat, string) is written to the
// scratch's str arena, which the predicate that asked for it resets
// before it starts (see compileValueCompare); a substring of a field's
// value is a slice of it.
type vfn func(ev *schema.Event, sc *evalScratch) value.Value

// compileValueCompare compiles x op y over operands (Elastic's semantics:
// null on either side makes the comparison false, except against a
// literal null, which tests for null).
func (c *compiler) compileValueCompare(e *rule.ValueCompareExpr) pred {
	op := e.Op
	if l, ok := e.Y.(*rule.Literal); ok && l.Value.IsNull() {
		return c.compileIsNull(e.X, op == rule.OpEq)
	}
	if l, ok := e.X.(*rule.Literal); ok && l.Value.IsNull() {
		return c.compileIsNull(e.Y, op == rule.OpEq)
	}
	x, y := c.compileOperand(e.X), c.compileOperand(e.Y)
	return func(ev *schema.Event, sc *evalScratch) bool {
		sc.str = sc.str[:0]
		return compareValues(op, x(ev, sc), y(ev, sc))
	}
}

func (c *compiler) compileIsNull(o rule.Operand, want bool) pred {
	x := c.compileOperand(o)
	return func(ev *schema.Event, sc *evalScratch) bool {
		sc.str = sc.str[:0]
		return x(ev, sc).IsNull() == want
	}
}

// compileCallCond compiles a boolean function used as a condition.
func (c *compiler) compileCallCond(e *rule.CallExpr) pred {
	x := c.compileOperand(e)
	return func(ev *schema.Event, sc *evalScratch) bool {
		sc.str = sc.str[:0]
		b, ok := x(ev, sc).Bool()
		return ok && b
	}
}

// compareValues applies op to two values: strings by bytes, numbers by
// value across kinds, booleans for == and != only; false when either is
// null or their kinds differ.
func compareValues(op rule.CmpOp, a, b value.Value) bool {
	if a.IsNull() || b.IsNull() {
		return false
	}
	if s, ok := a.Str(); ok {
		t, ok := b.Str()
		return ok && ordered(op, strings.Compare(s, t))
	}
	if x, ok := a.Bool(); ok {
		y, ok := b.Bool()
		if !ok {
			return false
		}
		switch op {
		case rule.OpEq:
			return x == y
		case rule.OpNe:
			return x != y
		}
		return false
	}
	cm, ok := cmpNum(a, b)
	return ok && ordered(op, cm)
}

func (c *compiler) compileOperand(o rule.Operand) vfn {
	switch o := o.(type) {
	case *rule.Field:
		id := o.ID
		if id == 0 { // an optional field the schema lacks
			return func(*schema.Event, *evalScratch) value.Value { return value.NullValue() }
		}
		if o.Array {
			return arrayOperand(id) // array.go: the element being tried
		}
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			v, _ := ev.Get(id)
			return v
		}
	case *rule.Literal:
		v := o.Value
		return func(*schema.Event, *evalScratch) value.Value { return v }
	case *rule.ArithExpr:
		x, y, op := c.compileOperand(o.X), c.compileOperand(o.Y), o.Op
		return func(ev *schema.Event, sc *evalScratch) value.Value { return arith(op, x(ev, sc), y(ev, sc)) }
	case *rule.CallExpr:
		return c.compileCall(o)
	}
	return func(*schema.Event, *evalScratch) value.Value { return value.NullValue() }
}

// asInt returns v as an int64 when it is an integer that fits.
func asInt(v value.Value) (int64, bool) {
	if i, ok := v.I64(); ok {
		return i, true
	}
	if u, ok := v.U64(); ok && u <= math.MaxInt64 {
		return int64(u), true
	}
	return 0, false
}

func asFloat(v value.Value) (float64, bool) {
	if f, ok := v.F64(); ok {
		return f, true
	}
	if i, ok := v.I64(); ok {
		return float64(i), true
	}
	if u, ok := v.U64(); ok {
		return float64(u), true
	}
	return 0, false
}

// arith applies op: integer arithmetic (wrapping, division truncating)
// when both are integers, float otherwise; null for a null or non-number
// operand and for a division or modulo by zero.
func arith(op rule.ArithOp, a, b value.Value) value.Value {
	if x, ok := asInt(a); ok {
		if y, ok := asInt(b); ok {
			switch op {
			case rule.OpAdd:
				return value.I64Value(x + y)
			case rule.OpSub:
				return value.I64Value(x - y)
			case rule.OpMul:
				return value.I64Value(x * y)
			case rule.OpDiv:
				if y == 0 || x == math.MinInt64 && y == -1 {
					return value.NullValue()
				}
				return value.I64Value(x / y)
			case rule.OpMod:
				if y == 0 || y == -1 {
					if y == -1 {
						return value.I64Value(0)
					}
					return value.NullValue()
				}
				return value.I64Value(x % y)
			}
			return value.NullValue()
		}
	}
	x, ok := asFloat(a)
	if !ok {
		return value.NullValue()
	}
	y, ok := asFloat(b)
	if !ok {
		return value.NullValue()
	}
	var r float64
	switch op {
	case rule.OpAdd:
		r = x + y
	case rule.OpSub:
		r = x - y
	case rule.OpMul:
		r = x * y
	case rule.OpDiv:
		if y == 0 {
			return value.NullValue()
		}
		r = x / y
	case rule.OpMod:
		if y == 0 {
			return value.NullValue()
		}
		r = math.Mod(x, y)
	}
	return value.F64Value(r)
}

func (c *compiler) compileCall(e *rule.CallExpr) vfn {
	args := make([]vfn, len(e.Args))
	for i, a := range e.Args {
		args[i] = c.compileOperand(a)
	}
	fold := e.Fold
	null := value.NullValue()
	arith2 := func(op rule.ArithOp) vfn {
		x, y := args[0], args[1]
		return func(ev *schema.Event, sc *evalScratch) value.Value { return arith(op, x(ev, sc), y(ev, sc)) }
	}
	switch e.Name {
	case "add":
		return arith2(rule.OpAdd)
	case "subtract":
		return arith2(rule.OpSub)
	case "multiply":
		return arith2(rule.OpMul)
	case "divide":
		return arith2(rule.OpDiv)
	case "modulo":
		return arith2(rule.OpMod)
	case "length":
		x := args[0]
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := x(ev, sc).Str()
			if !ok {
				return null
			}
			return value.I64Value(int64(utf8.RuneCountInString(s)))
		}
	case "concat":
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			start := len(sc.str)
			for _, a := range args {
				mark := len(sc.str)
				v := a(ev, sc) // may build its string at sc.str[mark:]
				if v.IsNull() {
					sc.str = sc.str[:start]
					return null
				}
				end := len(sc.str)
				sc.str = v.AppendText(sc.str)
				n := copy(sc.str[mark:], sc.str[end:]) // over what the argument built
				sc.str = sc.str[:mark+n]
			}
			return value.StringValue(scratchString(sc.str[start:]))
		}
	case "string":
		x := args[0]
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			v := x(ev, sc)
			if v.IsNull() || v.Kind() == value.KindString {
				return v
			}
			start := len(sc.str)
			sc.str = v.AppendText(sc.str)
			return value.StringValue(scratchString(sc.str[start:]))
		}
	case "number":
		x := args[0]
		var base vfn
		if len(args) > 1 {
			base = args[1]
		}
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := x(ev, sc).Str()
			if !ok {
				return null
			}
			b := int64(10)
			if base != nil {
				if b, ok = asInt(base(ev, sc)); !ok {
					return null
				}
			}
			return parseNumber(s, b)
		}
	case "substring":
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := args[0](ev, sc).Str()
			if !ok {
				return null
			}
			n := int64(utf8.RuneCountInString(s))
			start, ok := asInt(args[1](ev, sc))
			if !ok {
				return null
			}
			end := n
			if len(args) > 2 {
				if v := args[2](ev, sc); !v.IsNull() {
					if end, ok = asInt(v); !ok {
						return null
					}
				}
			}
			start, end = sliceIndex(start, n), sliceIndex(end, n)
			if start >= end {
				return value.StringValue("")
			}
			return value.StringValue(s[byteOffset(s, start):byteOffset(s, end)])
		}
	case "indexOf":
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := args[0](ev, sc).Str()
			if !ok {
				return null
			}
			sub, ok := args[1](ev, sc).Str()
			if !ok {
				return null
			}
			from := int64(0)
			if len(args) > 2 {
				if v := args[2](ev, sc); !v.IsNull() {
					if from, ok = asInt(v); !ok {
						return null
					}
				}
			}
			from = max(from, 0)
			if from > int64(utf8.RuneCountInString(s)) {
				return null
			}
			off := byteOffset(s, from)
			i := indexFold(s[off:], sub, fold)
			if i < 0 {
				return null
			}
			return value.I64Value(from + int64(utf8.RuneCountInString(s[off:off+i])))
		}
	case "between":
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := args[0](ev, sc).Str()
			if !ok {
				return null
			}
			left, ok1 := args[1](ev, sc).Str()
			right, ok2 := args[2](ev, sc).Str()
			if !ok1 || !ok2 {
				return null
			}
			greedy := false
			if len(args) > 3 {
				greedy, _ = args[3](ev, sc).Bool()
			}
			i := indexFold(s, left, fold)
			if i < 0 {
				return value.StringValue("")
			}
			rest := s[i+len(left):]
			var j int
			if greedy {
				j = lastIndexFold(rest, right, fold)
			} else {
				j = indexFold(rest, right, fold)
			}
			if j < 0 {
				return value.StringValue("")
			}
			return value.StringValue(rest[:j])
		}
	case "startsWith", "endsWith", "stringContains":
		test := hasPrefixFold
		if e.Name == "endsWith" {
			test = hasSuffixFold
		} else if e.Name == "stringContains" {
			test = func(s, sub string, fold bool) bool { return indexFold(s, sub, fold) >= 0 }
		}
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := args[0](ev, sc).Str()
			if !ok {
				return null
			}
			for _, a := range args[1:] {
				if p, ok := a(ev, sc).Str(); ok && test(s, p, fold) {
					return value.BoolValue(true)
				}
			}
			return value.BoolValue(false)
		}
	case "wildcard":
		match, _ := c.matchFn(e.Matchers)
		x := args[0]
		return func(ev *schema.Event, sc *evalScratch) value.Value {
			s, ok := x(ev, sc).Str()
			if !ok {
				return null
			}
			return value.BoolValue(match(s, sc))
		}
	}
	return func(*schema.Event, *evalScratch) value.Value { return null } // cidrMatch: refused by Resolve
}

// parseNumber parses s as an integer in base (a 0x prefix allowed in base
// 16), or in base 10 as a float; null when it is neither.
func parseNumber(s string, base int64) value.Value {
	if base == 16 && len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if base < 2 || base > 36 {
		return value.NullValue()
	}
	if i, err := strconv.ParseInt(s, int(base), 64); err == nil {
		return value.I64Value(i)
	}
	if u, err := strconv.ParseUint(s, int(base), 64); err == nil {
		return value.U64Value(u)
	}
	if base == 10 {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return value.F64Value(f)
		}
	}
	return value.NullValue()
}

// sliceIndex clamps a Python-style index (negative counts from the end)
// into [0, n].
func sliceIndex(i, n int64) int64 {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

// byteOffset returns the byte offset of character i of s.
func byteOffset(s string, i int64) int {
	if i <= 0 {
		return 0
	}
	n := int64(0)
	for off := range s {
		if n == i {
			return off
		}
		n++
	}
	return len(s)
}

// indexFold is strings.Index, or with fold a search under simple Unicode
// case folding of windows the length of sub.
func indexFold(s, sub string, fold bool) int {
	if !fold {
		return strings.Index(s, sub)
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func lastIndexFold(s, sub string, fold bool) int {
	if !fold {
		return strings.LastIndex(s, sub)
	}
	for i := len(s) - len(sub); i >= 0; i-- {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func hasPrefixFold(s, p string, fold bool) bool {
	return len(s) >= len(p) && (s[:len(p)] == p || fold && strings.EqualFold(s[:len(p)], p))
}

func hasSuffixFold(s, p string, fold bool) bool {
	t := s[max(len(s)-len(p), 0):]
	return len(s) >= len(p) && (t == p || fold && strings.EqualFold(t, p))
}
