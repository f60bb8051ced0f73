package rule

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // a field path or keyword: process.parent.pid, where, `my-field`
	tString           // a string literal; text holds the decoded value
	tInt              // an integer literal
	tFloat            // a floating-point literal
	tDuration         // a number with a unit: 10s, 5m, 250ms
	tLBrack           // [
	tRBrack           // ]
	tLParen           // (
	tRParen           // )
	tComma            // ,
	tEq               // ==
	tAssign           // =
	tNeq              // !=
	tLt               // <
	tLe               // <=
	tGt               // >
	tGe               // >=
	tColon            // :
	tTilde            // ~ (only after like, regex, in and function names)
	tPipe             // | (pipes: recognised to be refused clearly)
	tBang             // ! (missing-event steps: recognised to be refused clearly)
	tPlus             // +
	tMinus            // - (a minus before a digit lexes as part of the number)
	tStar             // *
	tSlash            // /
	tPercent          // %
	tQuestion         // ? before a field: an optional field
)

var tokNames = [...]string{
	tEOF: "end of input", tIdent: "identifier", tString: "string", tInt: "integer",
	tFloat: "number", tDuration: "duration", tLBrack: "[", tRBrack: "]", tLParen: "(",
	tRParen: ")", tComma: ",", tEq: "==", tAssign: "=", tNeq: "!=", tLt: "<", tLe: "<=",
	tGt: ">", tGe: ">=", tColon: ":", tTilde: "~", tPipe: "|", tBang: "!",
	tPlus: "+", tMinus: "-", tStar: "*", tSlash: "/", tPercent: "%", tQuestion: "?",
}

func (k tokKind) String() string {
	if int(k) < len(tokNames) {
		return tokNames[k]
	}
	return "token(" + strconv.Itoa(int(k)) + ")"
}

// token is one lexical token. raw is the token as written in the source;
// text is its meaning (a string literal's decoded value, an identifier's
// path with backticks removed).
type token struct {
	kind   tokKind
	pos    Pos
	raw    string
	text   string
	quoted bool // an identifier with a backticked segment: never a keyword
}

// lexer turns rule text into tokens. It tracks line and column (in
// characters) so that every error points at its token.
type lexer struct {
	src  string
	file string
	off  int
	line int
	col  int
}

func newLexer(file, src string) *lexer {
	return &lexer{src: src, file: file, line: 1, col: 1}
}

func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col} }

// advance moves past n bytes, which must not contain a newline.
func (l *lexer) advance(n int) {
	l.col += utf8.RuneCountInString(l.src[l.off : l.off+n])
	l.off += n
}

// advanceLines moves past n bytes that may contain newlines.
func (l *lexer) advanceLines(n int) {
	s := l.src[l.off : l.off+n]
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		l.line++
		l.col = 1
		s = s[i+1:]
	}
	l.col += utf8.RuneCountInString(s)
	l.off += n
}

func (l *lexer) errAt(p Pos, tok, msg string) *Error {
	return &Error{File: l.file, Line: p.Line, Col: p.Col, Token: tok, Msg: msg, Err: ErrSyntax}
}

// skipSpace skips white space and comments: -- and // to the end of the
// line (-- is the original Kestrel's, // Elastic's), and /* ... */.
func (l *lexer) skipSpace() error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == '\n':
			l.off++
			l.line++
			l.col = 1
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.advance(1)
		case (c == '-' || c == '/') && l.off+1 < len(l.src) && l.src[l.off+1] == c:
			end := strings.IndexByte(l.src[l.off:], '\n')
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.advance(end)
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '*':
			p := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return l.errAt(p, "/*", "unterminated comment")
			}
			l.advanceLines(end + 4)
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@'
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// next returns the next token.
func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	start := l.off
	c := l.src[l.off]
	two := ""
	if l.off+1 < len(l.src) {
		two = l.src[l.off : l.off+2]
	}
	simple := func(k tokKind, n int) (token, error) {
		raw := l.src[start : start+n]
		l.advance(n)
		return token{kind: k, pos: p, raw: raw, text: raw}, nil
	}
	switch {
	case two == "==":
		return simple(tEq, 2)
	case two == "!=":
		return simple(tNeq, 2)
	case two == "<=":
		return simple(tLe, 2)
	case two == ">=":
		return simple(tGe, 2)
	case two == "<>":
		return simple(tNeq, 2)
	case c == '!':
		return simple(tBang, 1)
	case c == '=':
		return simple(tAssign, 1)
	case c == '<':
		return simple(tLt, 1)
	case c == '>':
		return simple(tGt, 1)
	case c == '[':
		return simple(tLBrack, 1)
	case c == ']':
		return simple(tRBrack, 1)
	case c == '(':
		return simple(tLParen, 1)
	case c == ')':
		return simple(tRParen, 1)
	case c == ',':
		return simple(tComma, 1)
	case c == ':':
		return simple(tColon, 1)
	case c == '~':
		return simple(tTilde, 1)
	case c == '|':
		return simple(tPipe, 1)
	case c == '"' || c == '\'':
		return l.lexString(p)
	case c == '?' && (two == `?"` || two == "?'"):
		return l.lexRawString(p)
	case isDigit(c) || c == '-' && l.off+1 < len(l.src) && isDigit(l.src[l.off+1]):
		return l.lexNumber(p)
	case isIdentStart(c) || c == '`':
		return l.lexIdent(p)
	case c == '+':
		return simple(tPlus, 1)
	case c == '-':
		return simple(tMinus, 1)
	case c == '*':
		return simple(tStar, 1)
	case c == '/':
		return simple(tSlash, 1)
	case c == '%':
		return simple(tPercent, 1)
	case c == '?' && len(two) == 2 && (isIdentStart(two[1]) || two[1] == '`'):
		return simple(tQuestion, 1)
	}
	r, w := utf8.DecodeRuneInString(l.src[l.off:])
	if r == utf8.RuneError && w <= 1 {
		return token{}, l.errAt(p, l.src[l.off:l.off+1], "invalid UTF-8")
	}
	return token{}, l.errAt(p, string(r), "unexpected character")
}

// lexIdent reads a field path: segments of [A-Za-z_@][A-Za-z0-9_@]* or
// `backticked` text, joined by dots.
func (l *lexer) lexIdent(p Pos) (token, error) {
	start := l.off
	var b strings.Builder
	quoted := false
	for {
		if l.off < len(l.src) && l.src[l.off] == '`' {
			end := strings.IndexByte(l.src[l.off+1:], '`')
			if end < 0 {
				return token{}, l.errAt(p, l.src[l.off:], "unterminated backtick")
			}
			seg := l.src[l.off+1 : l.off+1+end]
			if seg == "" {
				return token{}, l.errAt(p, "``", "empty backticked name")
			}
			if strings.IndexByte(seg, '\n') >= 0 {
				return token{}, l.errAt(p, seg, "newline in a backticked name")
			}
			b.WriteString(seg)
			l.advance(end + 2)
			quoted = true
		} else if l.off < len(l.src) && isIdentStart(l.src[l.off]) {
			s := l.off
			for l.off < len(l.src) && isIdentByte(l.src[l.off]) {
				l.off++
			}
			l.col += l.off - s
			b.WriteString(l.src[s:l.off])
		} else {
			return token{}, l.errAt(p, l.src[start:l.off], "expected a name after the dot")
		}
		if l.off+1 < len(l.src) && l.src[l.off] == '.' && (isIdentStart(l.src[l.off+1]) || l.src[l.off+1] == '`') {
			b.WriteByte('.')
			l.advance(1)
			continue
		}
		break
	}
	raw := l.src[start:l.off]
	return token{kind: tIdent, pos: p, raw: raw, text: b.String(), quoted: quoted}, nil
}

// lexNumber reads an integer, a float or a duration (a number directly
// followed by letters: 10s, 250ms).
func (l *lexer) lexNumber(p Pos) (token, error) {
	start := l.off
	i := l.off
	if l.src[i] == '-' {
		i++
	}
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	kind := tInt
	if i+1 < len(l.src) && l.src[i] == '.' && isDigit(l.src[i+1]) {
		kind = tFloat
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		j := i + 1
		if j < len(l.src) && (l.src[j] == '+' || l.src[j] == '-') {
			j++
		}
		if j < len(l.src) && isDigit(l.src[j]) {
			kind = tFloat
			i = j
			for i < len(l.src) && isDigit(l.src[i]) {
				i++
			}
		}
	}
	if i < len(l.src) && isIdentStart(l.src[i]) {
		if kind != tInt {
			for i < len(l.src) && isIdentByte(l.src[i]) {
				i++
			}
			raw := l.src[start:i]
			return token{}, l.errAt(p, raw, "malformed number")
		}
		kind = tDuration
		for i < len(l.src) && isIdentByte(l.src[i]) {
			i++
		}
	}
	raw := l.src[start:i]
	l.advance(i - start)
	return token{kind: kind, pos: p, raw: raw, text: raw}, nil
}

// lexString reads "..." or '...' with EQL's escapes, or """...""" with
// none.
func (l *lexer) lexString(p Pos) (token, error) {
	start := l.off
	if strings.HasPrefix(l.src[l.off:], `"""`) {
		body := l.src[l.off+3:]
		end := strings.Index(body, `"""`)
		if end < 0 {
			return token{}, l.errAt(p, `"""`, "unterminated string")
		}
		// As in Elastic, up to two more quotes just before the closing ones
		// belong to the string: """a""""" reads a"".
		for k := 0; k < 2 && end+3 < len(body) && body[end+3] == '"'; k++ {
			end++
		}
		text := body[:end]
		if !utf8.ValidString(text) {
			return token{}, l.errAt(p, `"""`, "invalid UTF-8 in string")
		}
		l.advanceLines(end + 6)
		return token{kind: tString, pos: p, raw: l.src[start:l.off], text: text}, nil
	}
	q := l.src[l.off]
	i := l.off + 1
	var b strings.Builder
	simple := true // no escape seen yet: text is a substring
	for {
		if i >= len(l.src) {
			return token{}, l.errAt(p, l.src[start:], "unterminated string")
		}
		c := l.src[i]
		if c == q {
			break
		}
		if c == '\n' {
			return token{}, l.errAt(p, l.src[start:i], "newline in string (use \\n, or a \"\"\" string)")
		}
		if c != '\\' {
			if !simple {
				b.WriteByte(c)
			}
			i++
			continue
		}
		if simple {
			b.WriteString(l.src[l.off+1 : i])
			simple = false
		}
		if i+1 >= len(l.src) {
			return token{}, l.errAt(p, l.src[start:], "unterminated string")
		}
		e := l.src[i+1]
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '0':
			b.WriteByte(0)
		case '"', '\'', '\\', '/', '`':
			b.WriteByte(e)
		case 'u':
			r, n, ok := unicodeEscape(l.src[i+2:])
			if !ok {
				esc := l.src[i:min(len(l.src), i+12)]
				return token{}, l.escErr(p, start, i, esc, "bad unicode escape (want \\u{XXXX} or \\uXXXX)")
			}
			b.WriteRune(r)
			i += 2 + n
			continue
		default:
			_, w := utf8.DecodeRuneInString(l.src[i+1:])
			return token{}, l.escErr(p, start, i, l.src[i:i+1+w], "unknown escape")
		}
		i += 2
	}
	text := l.src[l.off+1 : i]
	if !simple {
		text = b.String()
	}
	if !utf8.ValidString(text) {
		return token{}, l.errAt(p, l.src[start:i+1], "invalid UTF-8 in string")
	}
	raw := l.src[start : i+1]
	l.advance(i + 1 - start)
	return token{kind: tString, pos: p, raw: raw, text: text}, nil
}

// escErr reports a bad escape at its own column.
func (l *lexer) escErr(p Pos, start, at int, tok, msg string) *Error {
	ep := Pos{Line: p.Line, Col: p.Col + utf8.RuneCountInString(l.src[start:at])}
	return l.errAt(ep, tok, msg)
}

// unicodeEscape decodes the part after \u: {X..X} with 1 to 8 hex digits,
// or exactly 4 hex digits. It returns the rune and the bytes read.
func unicodeEscape(s string) (rune, int, bool) {
	var hex string
	n := 0
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 || end > 9 {
			return 0, 0, false
		}
		hex, n = s[1:end], end+1
	} else {
		if len(s) < 4 {
			return 0, 0, false
		}
		hex, n = s[:4], 4
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || v > utf8.MaxRune || v >= 0xD800 && v <= 0xDFFF {
		return 0, 0, false
	}
	return rune(v), n, true
}

// lexRawString reads ?"..." or ?'...': no escapes, as the Python EQL
// implementation the original borrowed from.
func (l *lexer) lexRawString(p Pos) (token, error) {
	start := l.off
	q := l.src[l.off+1]
	end := strings.IndexByte(l.src[l.off+2:], q)
	if end < 0 {
		return token{}, l.errAt(p, l.src[start:], "unterminated string")
	}
	text := l.src[l.off+2 : l.off+2+end]
	if strings.IndexByte(text, '\n') >= 0 {
		return token{}, l.errAt(p, l.src[start:l.off+2+end], "newline in string")
	}
	if !utf8.ValidString(text) {
		return token{}, l.errAt(p, l.src[start:l.off+3+end], "invalid UTF-8 in string")
	}
	raw := l.src[start : l.off+3+end]
	l.advance(end + 3)
	return token{kind: tString, pos: p, raw: raw, text: text}, nil
}
