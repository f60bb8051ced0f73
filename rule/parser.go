package rule

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/value"
)

// Bounds on what Parse accepts; a rule past one is an error matching
// ErrLimit, so that hostile or broken rule text cannot exhaust memory or
// stack.
const (
	// MaxSourceBytes bounds the text of one rule.
	MaxSourceBytes = 1 << 20
	// MaxDepth bounds the nesting of parentheses and not.
	MaxDepth = 64
	// MaxNodes bounds the conditions (comparisons, and, or, not) of one
	// query.
	MaxNodes = 4096
	// MaxEvents bounds the events of one sequence match: the sum of its
	// steps' runs.
	MaxEvents = 64
	// MaxRuns bounds with runs=N, as Elastic does.
	MaxRuns = 100
	// MaxJoinFields bounds the by fields of a sequence plus those of a step.
	MaxJoinFields = 8
)

// keywords are reserved: a field path equal to one must be backticked.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "like": true, "regex": true,
	"where": true, "sequence": true, "sample": true, "by": true, "with": true, "until": true,
	"true": true, "false": true, "null": true,
}

func isKeyword(s string) bool { return keywords[strings.ToLower(s)] }

// Parse parses one EQL query. Errors are *Error values matching ErrSyntax
// (or ErrUnsupported, ErrLimit) with the line, column and token at fault.
func Parse(src string) (*Query, error) { return ParseFile("", src) }

// ParseFile is Parse with a file name for error messages.
func ParseFile(name, src string) (*Query, error) {
	if len(src) > MaxSourceBytes {
		return nil, &Error{File: name, Msg: "rule text longer than " + strconv.Itoa(MaxSourceBytes) + " bytes", Err: ErrLimit}
	}
	p := &parser{lx: newLexer(name, src), file: name}
	if err := p.advance(); err != nil {
		return nil, err
	}
	q, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	return q, nil
}

type parser struct {
	lx    *lexer
	file  string
	tok   token
	ahead []token // tokens read past tok, for one-token lookahead
	depth int
	nodes int
}

func (p *parser) advance() error {
	if len(p.ahead) > 0 {
		p.tok = p.ahead[0]
		p.ahead = p.ahead[1:]
		return nil
	}
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// peek returns the token after tok.
func (p *parser) peek() (token, error) {
	if len(p.ahead) == 0 {
		t, err := p.lx.next()
		if err != nil {
			return token{}, err
		}
		p.ahead = append(p.ahead, t)
	}
	return p.ahead[0], nil
}

func (p *parser) errTok(t token, err error, msg string) *Error {
	return &Error{File: p.file, Line: t.pos.Line, Col: t.pos.Col, Token: t.raw, Msg: msg, Err: err}
}

// fail reports a syntax error at the current token.
func (p *parser) fail(msg string) *Error {
	if p.tok.kind == tEOF {
		return p.errTok(p.tok, ErrSyntax, msg+", found end of input")
	}
	return p.errTok(p.tok, ErrSyntax, msg)
}

// kw reports whether the current token is the keyword word.
func (p *parser) kw(word string) bool { return isKw(p.tok, word) }

func isKw(t token, word string) bool {
	return t.kind == tIdent && !t.quoted && strings.EqualFold(t.raw, word)
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	if p.tok.kind != k {
		return token{}, p.fail("expected " + what)
	}
	t := p.tok
	return t, p.advance()
}

func (p *parser) expectKw(word string) error {
	if !p.kw(word) {
		return p.fail("expected " + strconv.Quote(word))
	}
	return p.advance()
}

// checkEnd refuses what may follow a complete query.
func (p *parser) checkEnd() error {
	switch {
	case p.tok.kind == tEOF:
		return nil
	case p.tok.kind == tPipe:
		return p.errTok(p.tok, ErrUnsupported, pipeMsg)
	}
	return p.fail("unexpected token after the end of the query")
}

func (p *parser) parseQuery() (*Query, error) {
	if p.kw("sequence") {
		return p.parseSequence()
	}
	if p.kw("sample") {
		return p.parseSample()
	}
	if p.kw("join") {
		return nil, p.errTok(p.tok, ErrUnsupported, "join queries are not supported (Elastic EQL has none either): "+
			"use a sequence, or a sample for events in any order")
	}
	st, err := p.parseEventQuery(p.tok.pos)
	if err != nil {
		return nil, err
	}
	if err := p.checkEnd(); err != nil {
		return nil, err
	}
	return &Query{Steps: []*Step{st}}, nil
}

// parseEventQuery reads "event where condition".
func (p *parser) parseEventQuery(start Pos) (*Step, error) {
	if p.tok.kind != tIdent || (!p.tok.quoted && isKeyword(p.tok.raw)) {
		if p.tok.kind == tBang {
			return nil, p.errTok(p.tok, ErrSyntax, "a missing-event step (![...]) belongs in a sequence, between or around its steps")
		}
		return nil, p.fail("expected an event name (process, file, network, any, ...)")
	}
	st := &Step{Pos: start, Event: p.tok.text, EventPos: p.tok.pos, Runs: 1}
	if !p.tok.quoted && strings.EqualFold(p.tok.raw, "any") {
		st.AnyType, st.Event = true, "any"
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expectKw("where"); err != nil {
		return nil, err
	}
	cond, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	st.Cond = cond
	return st, nil
}

// parseClauses reads clauses in any order until neither follows: with
// maxspan, or the one that begins with the keyword kw, which clause reads.
func (p *parser) parseClauses(q *Query, kw string, clause func() error) error {
	for {
		var err error
		switch {
		case p.kw(kw):
			err = clause()
		case p.kw("with"):
			err = p.parseMaxSpan(q)
		default:
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseStepAfter parses the step that must follow the current token (! or
// until), failing with msg when no [ follows it; noRuns is parseStep's.
func (p *parser) parseStepAfter(noRuns, msg string) (*Step, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tLBrack {
		return nil, p.fail(msg)
	}
	return p.parseStep(noRuns)
}

func (p *parser) parseSequence() (*Query, error) {
	q := &Query{Sequence: true}
	if err := p.advance(); err != nil {
		return nil, err
	}
	// Head: by and with maxspan, in either order.
	if err := p.parseClauses(q, "by", func() error { return p.parseByOnce(&q.By, "sequence") }); err != nil {
		return nil, err
	}
	events, steps := 0, 0 // positive events; all steps, runs expanded
	var firstMissing *Step
	for p.tok.kind == tLBrack || p.tok.kind == tBang {
		bang := p.tok
		var st *Step
		var err error
		if bang.kind == tBang {
			st, err = p.parseStepAfter("", "expected [ after ! (a missing-event step is ![event where condition])")
		} else {
			st, err = p.parseStep("")
		}
		if err != nil {
			return nil, err
		}
		if bang.kind == tBang {
			st.Missing, st.Pos = true, bang.pos
			if firstMissing == nil {
				firstMissing = st
			}
		} else {
			events += st.Runs
		}
		steps += st.Runs
		if steps > MaxEvents {
			return nil, &Error{File: p.file, Line: st.Pos.Line, Col: st.Pos.Col, Token: "[",
				Msg: "a sequence may hold at most " + strconv.Itoa(MaxEvents) + " steps (runs counted)", Err: ErrLimit}
		}
		q.Steps = append(q.Steps, st)
	}
	if len(q.Steps) == 0 {
		return nil, p.fail("expected a sequence step [event where condition]")
	}
	// Tail: until and with maxspan, in either order.
	err := p.parseClauses(q, "until", func() error {
		if q.Until != nil {
			return p.fail("until given twice")
		}
		st, err := p.parseStepAfter("until", "expected [event where condition] after until")
		q.Until = st
		return err
	})
	if err != nil {
		return nil, err
	}
	if events == 0 {
		return nil, &Error{File: p.file, Line: q.Steps[0].Pos.Line, Col: q.Steps[0].Pos.Col, Token: "!",
			Msg: "a sequence needs at least one step that is not a missing-event step", Err: ErrSyntax}
	}
	if steps < 2 {
		return nil, &Error{File: p.file, Line: q.Steps[0].Pos.Line, Col: q.Steps[0].Pos.Col, Token: "[",
			Msg: "a sequence needs at least two steps (two steps, or with runs=N)", Err: ErrSyntax}
	}
	if firstMissing != nil && !q.HasMaxSpan {
		return nil, &Error{File: p.file, Line: firstMissing.Pos.Line, Col: firstMissing.Pos.Col, Token: "!",
			Msg: "a sequence with a missing-event step (![...]) needs with maxspan=..., as in Elastic EQL", Err: ErrSyntax}
	}
	if err := p.checkJoinArity(q); err != nil {
		return nil, err
	}
	if p.tok.kind == tLBrack {
		return nil, p.fail("no step may follow until or maxspan")
	}
	if err := p.checkEnd(); err != nil {
		return nil, err
	}
	return q, nil
}

// checkJoinArity checks that every step joins on as many fields.
func (p *parser) checkJoinArity(q *Query) error {
	n := len(q.Steps[0].By)
	for _, st := range q.AllSteps() {
		if len(st.By) != n {
			return &Error{File: p.file, Line: st.Pos.Line, Col: st.Pos.Col, Token: "[",
				Msg: "every step must join on the same number of by fields (the first has " + strconv.Itoa(n) +
					", this one " + strconv.Itoa(len(st.By)) + ")", Err: ErrSyntax}
		}
		if len(q.By)+len(st.By) > MaxJoinFields {
			return &Error{File: p.file, Line: st.Pos.Line, Col: st.Pos.Col, Token: "[",
				Msg: "at most " + strconv.Itoa(MaxJoinFields) + " join fields", Err: ErrLimit}
		}
	}
	return nil
}

// parseMaxSpan reads "with maxspan=DURATION" at the current "with".
func (p *parser) parseMaxSpan(q *Query) error {
	if err := p.advance(); err != nil {
		return err
	}
	if p.kw("runs") {
		return p.fail("with runs=N belongs after a step")
	}
	if !p.kw("maxspan") {
		return p.fail("expected maxspan after with")
	}
	if q.HasMaxSpan {
		return p.fail("maxspan given twice")
	}
	if err := p.advance(); err != nil {
		return err
	}
	if _, err := p.expect(tAssign, "= after maxspan"); err != nil {
		return err
	}
	if p.tok.kind == tInt {
		return p.fail("maxspan needs a unit (ms, s, m, h or d), as in 10s")
	}
	if p.tok.kind != tDuration {
		return p.fail("expected a duration such as 10s")
	}
	d, err := parseDuration(p.tok.raw)
	if err != nil {
		return p.fail(err.Error())
	}
	if d <= 0 {
		return p.fail("maxspan must be positive, as in Elastic EQL")
	}
	q.MaxSpan, q.HasMaxSpan = d, true
	return p.advance()
}

type durationError string

func (e durationError) Error() string { return string(e) }

// parseDuration parses an integer with a unit: ns, us, ms, s, m, h, d.
func parseDuration(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, durationError("duration out of range")
	}
	var unit time.Duration
	for _, u := range durationUnits {
		if u.name == s[i:] {
			unit = u.d
			break
		}
	}
	if unit == 0 {
		return 0, durationError("unknown duration unit " + strconv.Quote(s[i:]) + " (want ms, s, m, h or d)")
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, durationError("duration out of range")
	}
	return time.Duration(n) * unit, nil
}

// parseSample reads "sample by f, ... [filter] [filter] ...": Elastic's
// unordered correlation, which takes no maxspan, runs or until.
func (p *parser) parseSample() (*Query, error) {
	q := &Query{Sample: true}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.kw("by") {
		by, err := p.parseByList()
		if err != nil {
			return nil, err
		}
		q.By = by
	}
	if p.kw("with") {
		return nil, p.errTok(p.tok, ErrSyntax, "a sample takes no with maxspan or runs (as in Elastic EQL): its events come in any order")
	}
	for p.tok.kind == tLBrack || p.tok.kind == tBang {
		if p.tok.kind == tBang {
			return nil, p.errTok(p.tok, ErrSyntax, "a sample has no missing-event steps (![...]); they belong in a sequence")
		}
		st, err := p.parseStep("a sample's filter")
		if err != nil {
			return nil, err
		}
		q.Steps = append(q.Steps, st)
		if len(q.Steps) > MaxEvents {
			return nil, &Error{File: p.file, Line: st.Pos.Line, Col: st.Pos.Col, Token: "[",
				Msg: "a sample may hold at most " + strconv.Itoa(MaxEvents) + " filters", Err: ErrLimit}
		}
	}
	if len(q.Steps) == 0 {
		return nil, p.fail("expected a sample filter [event where condition]")
	}
	if len(q.Steps) < 2 {
		return nil, &Error{File: p.file, Line: q.Steps[0].Pos.Line, Col: q.Steps[0].Pos.Col, Token: "[",
			Msg: "a sample needs at least two filters", Err: ErrSyntax}
	}
	switch {
	case p.kw("until"):
		return nil, p.errTok(p.tok, ErrSyntax, "a sample takes no until (as in Elastic EQL)")
	case p.kw("with"):
		return nil, p.errTok(p.tok, ErrSyntax, "a sample takes no with maxspan or runs (as in Elastic EQL): its events come in any order")
	}
	if err := p.checkJoinArity(q); err != nil {
		return nil, err
	}
	if err := p.checkEnd(); err != nil {
		return nil, err
	}
	return q, nil
}

// parseStep reads "[event where cond]" and, after it, "by f, ..." and
// "with runs=N", in either order; noRuns, when set, names what the step is
// in the error that refuses with runs (until).
func (p *parser) parseStep(noRuns string) (*Step, error) {
	start := p.tok.pos
	if err := p.advance(); err != nil { // [
		return nil, err
	}
	st, err := p.parseEventQuery(start)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRBrack, "] to close the step"); err != nil {
		return nil, err
	}
	runsSet := false
	for {
		if p.kw("by") {
			if err := p.parseByOnce(&st.By, "step"); err != nil {
				return nil, err
			}
			continue
		}
		if p.kw("with") {
			next, err := p.peek()
			if err != nil {
				return nil, err
			}
			if !isKw(next, "runs") {
				break // with maxspan: the sequence's
			}
			if noRuns != "" {
				return nil, p.errTok(next, ErrSyntax, "runs is not allowed on "+noRuns)
			}
			if runsSet {
				return nil, p.errTok(next, ErrSyntax, "runs given twice")
			}
			if err := p.advance(); err != nil { // with
				return nil, err
			}
			if err := p.advance(); err != nil { // runs
				return nil, err
			}
			if _, err := p.expect(tAssign, "= after runs"); err != nil {
				return nil, err
			}
			if p.tok.kind != tInt {
				return nil, p.fail("expected a whole number of runs")
			}
			n, err := strconv.Atoi(p.tok.raw)
			if err != nil || n < 1 || n > MaxRuns {
				return nil, p.errTok(p.tok, ErrLimit, "runs must be from 1 to "+strconv.Itoa(MaxRuns))
			}
			st.Runs, runsSet = n, true
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		break
	}
	return st, nil
}

// parseByOnce parses a by clause into *by, which a sequence or a step
// (what) may give only once.
func (p *parser) parseByOnce(by *[]*Field, what string) error {
	if len(*by) > 0 {
		return p.fail(what + " by given twice")
	}
	l, err := p.parseByList()
	if err != nil {
		return err
	}
	*by = l
	return nil
}

func (p *parser) parseByList() ([]*Field, error) {
	if err := p.advance(); err != nil { // by
		return nil, err
	}
	var out []*Field
	for {
		f, err := p.parseField()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		if len(out) > MaxJoinFields {
			return nil, p.errTok(p.tok, ErrLimit, "at most "+strconv.Itoa(MaxJoinFields)+" join fields")
		}
		if p.tok.kind != tComma {
			return out, nil
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// parseField reads a field path, or ?path for an optional field.
func (p *parser) parseField() (*Field, error) {
	if p.tok.kind == tQuestion {
		q := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		f, err := p.parseField()
		if err != nil {
			return nil, err
		}
		if f.Optional {
			return nil, p.errTok(q, ErrSyntax, "? given twice")
		}
		f.Optional, f.Pos = true, q.pos
		return f, nil
	}
	if p.tok.kind != tIdent || (!p.tok.quoted && isKeyword(p.tok.raw)) {
		return nil, p.fail("expected a field name")
	}
	f := &Field{Path: p.tok.text, Pos: p.tok.pos}
	return f, p.advance()
}

func (p *parser) node() error {
	p.nodes++
	if p.nodes > MaxNodes {
		return p.errTok(p.tok, ErrLimit, "condition has more than "+strconv.Itoa(MaxNodes)+" terms")
	}
	return nil
}

func (p *parser) parseOr() (Expr, error) { return p.parseBinary("or", OpOr, p.parseAnd) }

func (p *parser) parseAnd() (Expr, error) { return p.parseBinary("and", OpAnd, p.parseNot) }

// parseBinary parses a left-associative chain of operands joined by
// keyword kw, each operand parsed by next (which binds tighter).
func (p *parser) parseBinary(kw string, op LogicOp, next func() (Expr, error)) (Expr, error) {
	x, err := next()
	if err != nil {
		return nil, err
	}
	for p.kw(kw) {
		if err := p.node(); err != nil {
			return nil, err
		}
		pos := x.Position()
		if err := p.advance(); err != nil {
			return nil, err
		}
		y, err := next()
		if err != nil {
			return nil, err
		}
		x = &BinaryExpr{P: pos, Op: op, X: x, Y: y}
	}
	return x, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errTok(p.tok, ErrLimit, "conditions nested deeper than "+strconv.Itoa(MaxDepth))
	}
	return nil
}

// enterOperator enters one nesting level for the prefix operator or
// parenthesis at the current token (the caller lowers depth when done),
// counts it as a node when node is set, and steps past it.
func (p *parser) enterOperator(node bool) error {
	if err := p.enter(); err != nil {
		return err
	}
	if node {
		if err := p.node(); err != nil {
			return err
		}
	}
	return p.advance()
}

func (p *parser) parseNot() (Expr, error) {
	if !p.kw("not") {
		return p.parsePrimary()
	}
	pos := p.tok.pos
	x, err := nested(p, true, p.parseNot)
	if err != nil {
		return nil, err
	}
	return &NotExpr{P: pos, X: x}, nil
}

func (p *parser) parsePrimary() (Expr, error) {
	if err := p.node(); err != nil {
		return nil, err
	}
	t := p.tok
	switch {
	case t.kind == tLParen:
		if x, ok, err := p.tryParenOperand(); err != nil || ok {
			return x, err
		}
		return parenthesised(p, p.parseOr)
	case isKw(t, "true") || isKw(t, "false"):
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		if !isCmpTok(next) {
			if err := p.advance(); err != nil {
				return nil, err
			}
			return &BoolLit{P: t.pos, Value: isKw(t, "true")}, nil
		}
		return p.parseOperandCondition()
	case t.kind == tIdent && (t.quoted || !isKeyword(t.raw)), t.kind == tQuestion, t.kind == tMinus,
		t.kind == tString || t.kind == tInt || t.kind == tFloat || isKw(t, "null"):
		return p.parseOperandCondition()
	case t.kind == tPipe:
		return nil, p.errTok(t, ErrUnsupported, pipeMsg)
	}
	return nil, p.fail("expected a condition")
}

// pipeMsg is why a pipe is refused.
const pipeMsg = "pipes (| head, | tail, | filter, | unique, ...) are hunting features over stored events, " +
	"not supported in streaming detection"

// tryParenOperand parses "(" as the start of an operand, as in
// (a + b) > 3, when what follows the parenthesis is a comparison; ok is
// false, and the parser is as it was, when it is not (a parenthesised
// condition).
func (p *parser) tryParenOperand() (Expr, bool, error) {
	lx, tok, depth, nodes := *p.lx, p.tok, p.depth, p.nodes
	ahead := append([]token(nil), p.ahead...)
	x, err := p.parseOperand()
	if err == nil && (isCmpTok(p.tok) || p.isTestTok()) {
		e, err := p.finishCondition(x)
		return e, true, err
	}
	*p.lx, p.tok, p.depth, p.nodes, p.ahead = lx, tok, depth, nodes, ahead
	return nil, false, nil
}

// isTestTok reports whether the current token starts a test that follows
// an operand: in, not in, :, like or regex.
func (p *parser) isTestTok() bool {
	t := p.tok
	if isKw(t, "in") || t.kind == tColon || isKw(t, "like") || isKw(t, "regex") {
		return true
	}
	if isKw(t, "not") {
		next, err := p.peek()
		return err == nil && isKw(next, "in")
	}
	return false
}

func isCmpTok(t token) bool {
	switch t.kind {
	case tEq, tAssign, tNeq, tLt, tLe, tGt, tGe:
		return true
	}
	return false
}

func cmpOf(k tokKind) CmpOp {
	switch k {
	case tEq, tAssign:
		return OpEq
	case tNeq:
		return OpNe
	case tLt:
		return OpLt
	case tLe:
		return OpLe
	case tGt:
		return OpGt
	}
	return OpGe
}

// adjacent reports whether b starts right where a ends (like~, in~).
func adjacent(a, b token) bool {
	return a.pos.Line == b.pos.Line && a.pos.Col+len([]rune(a.raw)) == b.pos.Col
}

// parseOperandCondition reads a condition that starts with an operand.
func (p *parser) parseOperandCondition() (Expr, error) {
	x, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	return p.finishCondition(x)
}

// finishCondition reads what follows operand x in a condition: a
// comparison, in, a pattern operator, or nothing (a boolean field or
// function alone).
func (p *parser) finishCondition(x Operand) (Expr, error) {
	t := p.tok
	if isCmpTok(t) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		y, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		return compareOf(x, cmpOf(t.kind), y), nil
	}
	if isKw(t, "in") || isKw(t, "not") || t.kind == tColon || isKw(t, "like") || isKw(t, "regex") {
		if _, ok := x.(*Literal); ok {
			return nil, p.errTok(t, ErrSyntax, t.raw+" needs a field or an expression on its left, not a literal")
		}
		tt, err := p.parseTestTail()
		if err != nil {
			return nil, err
		}
		return tt.on(x), nil
	}
	switch x := x.(type) {
	case *Field:
		return &FieldExpr{Field: x}, nil
	case *CallExpr:
		return matchOf(x), nil
	case *Literal:
		return nil, p.fail("a literal alone is not a condition; expected a comparison operator")
	}
	return nil, p.fail("an arithmetic expression alone is not a condition; expected a comparison operator")
}

// compareOf builds x op y: a CompareExpr when one side is a field and the
// other a literal (the form the rule index reads), else a ValueCompareExpr.
func compareOf(x Operand, op CmpOp, y Operand) Expr {
	if f, ok := x.(*Field); ok {
		if l, ok := y.(*Literal); ok {
			return &CompareExpr{P: f.Pos, Field: f, Op: op, Value: *l}
		}
	}
	if l, ok := x.(*Literal); ok {
		if f, ok := y.(*Field); ok {
			return &CompareExpr{P: l.Pos, Field: f, Op: op.flip(), Value: *l}
		}
	}
	return &ValueCompareExpr{P: x.Position(), X: x, Op: op, Y: y}
}

// matchOf turns a pattern function on a field with literal patterns
// (startsWith(f, "a", "b")) into a MatchExpr, which the rule index reads;
// any other call stays a CallExpr.
func matchOf(c *CallExpr) Expr {
	var op MatchOp
	switch c.Name {
	case "startsWith":
		op = MatchStartsWith
	case "endsWith":
		op = MatchEndsWith
	case "stringContains":
		op = MatchContains
	case "wildcard":
		op = MatchLike
	case "cidrMatch":
		op = MatchCIDR
	default:
		return c
	}
	pats := make([]Literal, 0, len(c.Args)-1)
	for _, a := range c.Args[1:] {
		l, ok := a.(*Literal)
		if !ok {
			return c
		}
		pats = append(pats, *l)
	}
	f, ok := c.Args[0].(*Field)
	if !ok {
		if op == MatchCIDR {
			// cidrMatch on an expression: the addresses it yields, tested
			// against the literal blocks (never indexed).
			return &OperandMatchExpr{P: c.P, X: c.Args[0], Op: op, Patterns: pats}
		}
		return c
	}
	return &MatchExpr{P: c.P, Field: f, Op: op, Fold: c.Fold, Patterns: pats}
}

// parseOperand reads an operand: terms joined by + - * / %, * / % binding
// tighter, all left-associative.
func (p *parser) parseOperand() (Operand, error) {
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return p.parseArith(x, 1)
}

// arithOf returns t's arithmetic operator and precedence (0: none). A
// negative number right after an operand ("a -5") is a subtraction: the
// lexer read the minus into the number.
func arithOf(t token) (ArithOp, int) {
	switch t.kind {
	case tPlus:
		return OpAdd, 1
	case tMinus:
		return OpSub, 1
	case tStar:
		return OpMul, 2
	case tSlash:
		return OpDiv, 2
	case tPercent:
		return OpMod, 2
	case tInt, tFloat:
		if strings.HasPrefix(t.raw, "-") {
			return OpSub, 1
		}
	}
	return 0, 0
}

func (p *parser) parseArith(x Operand, minPrec int) (Operand, error) {
	for {
		op, prec := arithOf(p.tok)
		if prec == 0 || prec < minPrec {
			return x, nil
		}
		if err := p.node(); err != nil {
			return nil, err
		}
		if p.tok.kind == tInt || p.tok.kind == tFloat {
			p.tok.raw = p.tok.raw[1:]
			p.tok.text = p.tok.raw
			p.tok.pos.Col++
		} else if err := p.advance(); err != nil {
			return nil, err
		}
		y, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if y, err = p.parseArith(y, prec+1); err != nil {
			return nil, err
		}
		x = &ArithExpr{P: x.Position(), Op: op, X: x, Y: y}
	}
}

// parseUnary reads a primary operand, or -operand (0 - operand).
func (p *parser) parseUnary() (Operand, error) {
	if p.tok.kind != tMinus {
		return p.parsePrimaryOperand()
	}
	t := p.tok
	x, err := nested(p, true, p.parseUnary)
	if err != nil {
		return nil, err
	}
	zero := &Literal{Pos: t.pos, Value: value.I64Value(0), Raw: "0"}
	return &ArithExpr{P: t.pos, Op: OpSub, X: zero, Y: x}, nil
}

// nested parses with parse one level of nesting deeper, entered at the
// current token: a prefix operator (not, unary minus), counted as a node
// when node is set, or a parenthesis.
func nested[T any](p *parser, node bool, parse func() (T, error)) (T, error) {
	var zero T
	if err := p.enterOperator(node); err != nil {
		return zero, err
	}
	x, err := parse()
	if err != nil {
		return zero, err
	}
	p.depth--
	return x, nil
}

// parenthesised parses what parse reads, then the ) that closes the
// parenthesis the current token opens, counting one level of nesting.
func parenthesised[T any](p *parser, parse func() (T, error)) (T, error) {
	return nested(p, false, func() (T, error) {
		x, err := parse()
		if err == nil {
			_, err = p.expect(tRParen, ") to close the parenthesis")
		}
		return x, err
	})
}

// parsePrimaryOperand reads a field, ?field, literal, function call or
// parenthesised operand.
func (p *parser) parsePrimaryOperand() (Operand, error) {
	t := p.tok
	switch {
	case t.kind == tLParen:
		return parenthesised(p, p.parseOperand)
	case t.kind == tQuestion:
		return p.parseField()
	case t.kind == tIdent && !t.quoted && !isKeyword(t.raw):
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		if next.kind == tLParen || next.kind == tTilde && adjacent(t, next) {
			return p.parseCall()
		}
		return p.parseField()
	case t.kind == tIdent && t.quoted:
		return p.parseField()
	case t.kind == tPipe:
		return nil, p.errTok(t, ErrUnsupported, pipeMsg)
	}
	lit, err := p.parseLiteral()
	if err != nil {
		return nil, err
	}
	return &lit, nil
}

// testTail is an in, not in, :, like or regex test without its left side.
type testTail struct {
	not    bool // not in
	notPos Pos
	in     bool // in (else a pattern test, op)
	op     MatchOp
	fold   bool
	list   []Literal // in's values or the patterns
}

// parseTestTail reads an in, not in, :, like or regex test (with its ~
// form) from the current token on.
func (p *parser) parseTestTail() (testTail, error) {
	var tt testTail
	if t := p.tok; isKw(t, "not") {
		next, err := p.peek()
		if err != nil {
			return tt, err
		}
		if !isKw(next, "in") {
			return tt, p.errTok(next, ErrSyntax, "expected in after not")
		}
		if err := p.advance(); err != nil {
			return tt, err
		}
		tt.not, tt.notPos = true, t.pos
	}
	var err error
	switch t := p.tok; {
	case isKw(t, "in"):
		tt.in = true
		if tt.fold, err = p.opTilde(); err != nil {
			return tt, err
		}
		tt.list, err = p.parseList()
	case t.kind == tColon:
		tt.op, tt.fold = MatchWildcard, true
		if err = p.advance(); err != nil {
			return tt, err
		}
		tt.list, err = p.parseOneOrList()
	default: // like, regex
		tt.op = MatchLike
		if isKw(t, "regex") {
			tt.op = MatchRegex
		}
		if tt.fold, err = p.opTilde(); err != nil {
			return tt, err
		}
		tt.list, err = p.parseOneOrList()
	}
	return tt, err
}

// on builds the test with x on its left: InExpr and MatchExpr for a field,
// which the rule index reads; OperandInExpr and OperandMatchExpr for any
// other expression, which it never does.
func (tt testTail) on(x Operand) Expr {
	pos := x.Position()
	var e Expr
	f, isField := x.(*Field)
	switch {
	case tt.in && isField:
		e = &InExpr{P: pos, Field: f, Values: tt.list, Fold: tt.fold}
	case tt.in:
		e = &OperandInExpr{P: pos, X: x, Values: tt.list, Fold: tt.fold}
	case isField:
		e = &MatchExpr{P: pos, Field: f, Op: tt.op, Fold: tt.fold, Patterns: tt.list}
	default:
		e = &OperandMatchExpr{P: pos, X: x, Op: tt.op, Fold: tt.fold, Patterns: tt.list}
	}
	if tt.not {
		e = &NotExpr{P: tt.notPos, X: e}
	}
	return e
}

// opTilde moves past an operator keyword and a '~' written right after it,
// reporting whether there was one.
func (p *parser) opTilde() (bool, error) {
	op := p.tok
	if err := p.advance(); err != nil {
		return false, err
	}
	if p.tok.kind == tTilde {
		if !adjacent(op, p.tok) {
			return false, p.fail("write ~ right after " + op.raw + " (" + op.raw + "~)")
		}
		return true, p.advance()
	}
	return false, nil
}

// parseCall reads name(arg, ...) or name~(arg, ...): one of Elastic's
// functions (see functions) on operands.
func (p *parser) parseCall() (*CallExpr, error) {
	name := p.tok
	spec, ok := functions[strings.ToLower(name.raw)]
	if !ok {
		return nil, p.errTok(name, ErrUnsupported, "unknown function "+name.raw+" (supported: "+functionNames()+")")
	}
	if err := p.node(); err != nil {
		return nil, err
	}
	fold, err := p.opTilde()
	if err != nil {
		return nil, err
	}
	if fold && !spec.fold {
		return nil, p.errTok(name, ErrSyntax, spec.name+" has no case-insensitive form (~)")
	}
	if spec.name == "wildcard" {
		fold = true // wildcard() is case-insensitive in EQL, like ':'
	}
	if _, err := p.expect(tLParen, "( after "+name.raw); err != nil {
		return nil, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	c := &CallExpr{P: name.pos, Name: spec.name, Fold: fold}
	if p.tok.kind != tRParen {
		for {
			a, err := p.parseOperand()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, a)
			if p.tok.kind != tComma {
				break
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if _, err := p.expect(tRParen, ", or ) to close "+name.raw); err != nil {
		return nil, err
	}
	p.depth--
	if len(c.Args) < spec.min || spec.max >= 0 && len(c.Args) > spec.max {
		want := strconv.Itoa(spec.min)
		switch {
		case spec.max < 0:
			want = "at least " + want
		case spec.max != spec.min:
			want += " to " + strconv.Itoa(spec.max)
		}
		return nil, p.errTok(name, ErrSyntax, spec.name+" takes "+want+" arguments, not "+strconv.Itoa(len(c.Args)))
	}
	return c, nil
}

// parseOneOrList reads one literal or a parenthesised list of them.
func (p *parser) parseOneOrList() ([]Literal, error) {
	if p.tok.kind == tLParen {
		return p.parseList()
	}
	lit, err := p.parseLiteral()
	if err != nil {
		return nil, err
	}
	return []Literal{lit}, nil
}

// parseList reads "(lit, lit, ...)".
func (p *parser) parseList() ([]Literal, error) {
	if _, err := p.expect(tLParen, "( to open the list"); err != nil {
		return nil, err
	}
	var out []Literal
	for {
		lit, err := p.parseLiteral()
		if err != nil {
			return nil, err
		}
		out = append(out, lit)
		if err := p.node(); err != nil {
			return nil, err
		}
		if p.tok.kind == tComma {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := p.expect(tRParen, ", or ) in the list"); err != nil {
			return nil, err
		}
		return out, nil
	}
}

func (p *parser) parseLiteral() (Literal, error) {
	t := p.tok
	lit := Literal{Pos: t.pos, Raw: t.raw}
	switch {
	case t.kind == tString:
		lit.Value = value.StringValue(t.text)
	case t.kind == tInt:
		if i, err := strconv.ParseInt(t.raw, 10, 64); err == nil {
			lit.Value = value.I64Value(i)
		} else if u, err := strconv.ParseUint(t.raw, 10, 64); err == nil {
			lit.Value = value.U64Value(u)
		} else {
			return lit, p.fail("integer out of range")
		}
	case t.kind == tFloat:
		f, err := strconv.ParseFloat(t.raw, 64)
		if err != nil {
			return lit, p.fail("number out of range")
		}
		lit.Value = value.F64Value(f)
	case isKw(t, "true"), isKw(t, "false"):
		lit.Value = value.BoolValue(isKw(t, "true"))
	case isKw(t, "null"):
		lit.Value = value.NullValue()
	case t.kind == tDuration:
		return lit, p.fail("a duration is not a value here")
	default:
		return lit, p.fail("expected a value (string, number, true, false or null)")
	}
	return lit, p.advance()
}
