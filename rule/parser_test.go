package rule

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// checkParse parses src, checks it prints as want, and that the printed
// form parses back to itself (printing is parseable and stable).
func checkParse(t *testing.T, src, want string) {
	t.Helper()
	q, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	if got := q.String(); got != want {
		t.Fatalf("Parse(%q).String()\n got %s\nwant %s", src, got, want)
	}
	q2, err := Parse(q.String())
	if err != nil {
		t.Fatalf("reparse %q: %v", q.String(), err)
	}
	if q2.String() != q.String() {
		t.Fatalf("round trip of %q: %q", q.String(), q2.String())
	}
}

func TestParseEventQuery(t *testing.T) {
	f := func(src, want string) { t.Helper(); checkParse(t, src, want) }
	f(`process where process.executable == "/bin/bash" and process.pid > 1`,
		`process where (process.executable == "/bin/bash" and process.pid > 1)`)
	f(`process where true`, `process where true`)
	f(`any where not false`, `any where not false`)
	f(`process where a == 1 or b == 2 and c == 3`, `process where (a == 1 or (b == 2 and c == 3))`)
	f(`process where (a == 1 or b == 2) and c == 3`, `process where ((a == 1 or b == 2) and c == 3)`)
	f(`process where not a == 1 and b != 2`, `process where (not a == 1 and b != 2)`)
	f(`process where a = 1 and b <> 2`, `process where (a == 1 and b != 2)`)
	f(`process where 5 < p.x`, `process where p.x > 5`)
	f(`process where a <= -3 and b >= 1.5 and c < 1e3`, `process where ((a <= -3 and b >= 1.5) and c < 1000.0)`)
	f(`process where a in ("x", "y") and b not in (1, 2)`, `process where (a in ("x", "y") and not b in (1, 2))`)
	f(`process where a in~ ("X")`, `process where a in~ ("X")`)
	f(`process where a : "*.exe" and b : ("a*", "b?")`, `process where (a : "*.exe" and b : ("a*", "b?"))`)
	f(`process where a like~ "x*" or a like "y*"`, `process where (a like~ "x*" or a like "y*")`)
	f(`process where a regex~ ".*\\.exe" or a regex ("a", "b")`, `process where (a regex~ ".*\\.exe" or a regex ("a", "b"))`)
	f(`process where startsWith~(a, "x", "y") and endsWith(a, "z") and stringContains(a, "q")`,
		`process where ((startsWith~(a, "x", "y") and endsWith(a, "z")) and stringContains(a, "q"))`)
	f(`process where a == null and b != null`, `process where (a == null and b != null)`)
	f(`process where process.is_elevated`, `process where process.is_elevated`)
	f("process where `my-field`.x == 1", "process where `my-field`.x == 1")
	f("`my-event` where true", "`my-event` where true")
	f("`any` where true", "`any` where true")
	f(`process where a == 18446744073709551615`, `process where a == 18446744073709551615`)
	f("-- a comment\nprocess where /* inline */ true // trailing", `process where true`)
	f(`process WHERE a == 1 AND b == 2`, `process where (a == 1 and b == 2)`)
}

func TestParseStrings(t *testing.T) {
	f := func(lit, want string) {
		t.Helper()
		q, err := Parse(`process where a == ` + lit)
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		c := q.Steps[0].Cond.(*CompareExpr)
		if got, _ := c.Value.Value.Str(); got != want {
			t.Fatalf("%s = %q, want %q", lit, got, want)
		}
		// The printed form decodes to the same string.
		q2, err := Parse(q.String())
		if err != nil {
			t.Fatalf("reparse %s: %v", q.String(), err)
		}
		if got, _ := q2.Steps[0].Cond.(*CompareExpr).Value.Value.Str(); got != want {
			t.Fatalf("reparsed %s = %q, want %q", q.String(), got, want)
		}
	}
	f(`"plain"`, "plain")
	f(`"a\"b\\c"`, `a"b\c`)
	f(`"\n\t\r\b\f\/\'\0"`, "\n\t\r\b\f/'\x00")
	f(`"\u{41}\u00e9\u{1F600}"`, "Aé😀")
	f(`'single "quoted"'`, `single "quoted"`)
	f(`"""raw \n "quotes" """`, `raw \n "quotes" `)
	f(`"""a"""""`, `a""`)
	f(`?"C:\Windows\System32"`, `C:\Windows\System32`)
	f(`"C:\\Windows\\System32\\evil.exe"`, `C:\Windows\System32\evil.exe`)
	f(`""`, "")
	f(`"ünïcödé"`, "ünïcödé")
}

func TestParseSequence(t *testing.T) {
	q, err := Parse(`
-- Reverse shell, as the original writes it
sequence by process.entity_id
  [network where network.direction == "outbound" and
   (network.dest_port == 4444 or network.dest_port in (1024, 65535))]
  [process where process.executable in ("/bin/bash", "/bin/sh")]
with maxspan=10s
`)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Sequence || len(q.Steps) != 2 || !q.HasMaxSpan || q.MaxSpan != 10*time.Second ||
		len(q.By) != 1 || q.By[0].Path != "process.entity_id" || q.By[0].Pos != (Pos{3, 13}) {
		t.Fatalf("parsed %+v", q)
	}
	if q.Steps[0].Event != "network" || q.Steps[1].Event != "process" || q.Steps[0].Pos != (Pos{4, 3}) {
		t.Fatalf("steps %+v %+v", q.Steps[0], q.Steps[1])
	}

	// Elastic's order: maxspan before the steps; step by, runs, until.
	q, err = Parse(`sequence with maxspan=15m by user.name
  [file where file.extension == "exe"] by process.pid with runs=3
  [process where true] with runs=2 by process.parent.pid
until [process where event.action == "exit"] by process.pid`)
	if err != nil {
		t.Fatal(err)
	}
	if q.MaxSpan != 15*time.Minute || q.Steps[0].Runs != 3 || q.Steps[1].Runs != 2 || q.NumEvents() != 5 ||
		q.Until == nil || len(q.Until.By) != 1 || q.Steps[1].By[0].Path != "process.parent.pid" {
		t.Fatalf("parsed %s", q)
	}
	want := "sequence by user.name with maxspan=15m\n" +
		"  [file where file.extension == \"exe\"] by process.pid with runs=3\n" +
		"  [process where true] by process.parent.pid with runs=2\n" +
		"until [process where event.action == \"exit\"] by process.pid"
	if q.String() != want {
		t.Fatalf("String:\n%s\nwant\n%s", q, want)
	}
	q2, err := Parse(q.String())
	if err != nil || q2.String() != want {
		t.Fatalf("round trip: %v\n%s", err, q2)
	}
	if all := q.AllSteps(); len(all) != 3 || all[0] != q.Steps[0] || all[1] != q.Steps[1] || all[2] != q.Until || len(q.Steps) != 2 {
		t.Fatalf("AllSteps: %v (Steps %d)", all, len(q.Steps))
	}
	if q2.Until = nil; len(q2.AllSteps()) != 2 {
		t.Fatalf("AllSteps without until: %v", q2.AllSteps())
	}

	// Durations.
	for src, d := range map[string]time.Duration{"250ms": 250 * time.Millisecond, "2h": 2 * time.Hour,
		"1d": 24 * time.Hour, "90s": 90 * time.Second, "5us": 5 * time.Microsecond, "7ns": 7} {
		q, err := Parse("sequence [a where true] [b where true] with maxspan=" + src)
		if err != nil || q.MaxSpan != d {
			t.Fatalf("maxspan=%s: %v %v", src, q, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	f := func(src string, line, col int, tok string, sentinel error, msgPart string) {
		t.Helper()
		_, err := ParseFile("r.eql", src)
		if err == nil {
			t.Fatalf("Parse(%q): no error", src)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Parse(%q): %T %v", src, err, err)
		}
		if e.Line != line || e.Col != col || e.Token != tok || !errors.Is(err, sentinel) || !strings.Contains(e.Msg, msgPart) {
			t.Fatalf("Parse(%q) = %v (line %d col %d token %q); want %d:%d %q %v %q", src, err, e.Line, e.Col, e.Token,
				line, col, tok, sentinel, msgPart)
		}
		if !strings.HasPrefix(err.Error(), "r.eql:") {
			t.Fatalf("error %q does not name the file", err)
		}
	}
	f(`process where`, 1, 14, "", ErrSyntax, "expected a condition")
	f(`process when a == 1`, 1, 9, "when", ErrSyntax, `expected "where"`)
	f("process where\n  a == == 1", 2, 8, "==", ErrSyntax, "expected a value")
	f(`process where a == 1 b`, 1, 22, "b", ErrSyntax, "unexpected token")
	f(`process where (a == 1`, 1, 22, "", ErrSyntax, ")")
	f(`process where a == "x`, 1, 20, `"x`, ErrSyntax, "unterminated string")
	f(`process where a == "\q"`, 1, 21, `\q`, ErrSyntax, "unknown escape")
	f(`process where a == "\u{zz}"`, 1, 21, `\u{zz}"`, ErrSyntax, "unicode escape")
	f("process where a == \"x\ny\"", 1, 20, `"x`, ErrSyntax, "newline")
	f(`process where a == 1 | head 5`, 1, 22, "|", ErrUnsupported, "pipes")
	f(`process where 5 in (1, 2)`, 1, 17, "in", ErrSyntax, "not a literal")
	f(`process where length(a) not like "x"`, 1, 29, "like", ErrSyntax, "expected in")
	f(`process where length(a, b) == 1`, 1, 15, "length", ErrSyntax, "takes 1 arguments")
	f(`process where concat~(a) == "x"`, 1, 15, "concat", ErrSyntax, "no case-insensitive form")
	f(`process where a + 1`, 1, 20, "", ErrSyntax, "arithmetic expression alone")
	f(`process where a == 1 | tail 3`, 1, 22, "|", ErrUnsupported, "streaming detection")
	f(`process where foo(a, "x")`, 1, 15, "foo", ErrUnsupported, "unknown function")
	f(`process where 5`, 1, 16, "", ErrSyntax, "literal alone")
	f(`process where a == 5x`, 1, 20, "5x", ErrSyntax, "duration is not a value")
	f(`process where a == 1.5x`, 1, 20, "1.5x", ErrSyntax, "malformed number")
	f(`process where a == 99999999999999999999999`, 1, 20, "99999999999999999999999", ErrSyntax, "out of range")
	f(`process where a like ~ "x"`, 1, 22, "~", ErrSyntax, "like~")
	f(`process where a not like "x"`, 1, 21, "like", ErrSyntax, "expected in")
	f(`process where # `, 1, 15, "#", ErrSyntax, "unexpected character")
	f(`process where /* open`, 1, 15, "/*", ErrSyntax, "unterminated comment")
	f("where == 1", 1, 1, "where", ErrSyntax, "expected an event name")
	f(`sequence [a where true]`, 1, 10, "[", ErrSyntax, "at least two steps")
	f(`sequence`, 1, 9, "", ErrSyntax, "expected a sequence step")
	f(`sequence [a where true] [b where true] with maxspan=10`, 1, 53, "10", ErrSyntax, "needs a unit")
	f(`sequence [a where true] [b where true] with maxspan=10y`, 1, 53, "10y", ErrSyntax, "unknown duration unit")
	f(`sequence with maxspan=1s [a where true] [b where true] with maxspan=2s`, 1, 61, "maxspan", ErrSyntax, "twice")
	f(`sequence [a where true] by x [b where true]`, 2-1, 30, "[", ErrSyntax, "same number of by fields")
	f(`sequence [a where true] with runs=0 [b where true]`, 1, 35, "0", ErrLimit, "runs must be")
	f(`sequence [a where true] with runs=101`, 1, 35, "101", ErrLimit, "runs must be")
	f(`sequence [a where true] [b where true] until [c where true] with runs=2`, 1, 66, "runs", ErrSyntax, "not allowed on until")
	f(`sequence [a where true] ![b where true]`, 1, 25, "!", ErrSyntax, "needs with maxspan")
	f("sequence\n  [a where true]\n  ![b where true] by x\n  [c where true]", 3, 3, "!", ErrSyntax, "needs with maxspan")
	f(`sequence with maxspan=1s ![a where true] ![b where true]`, 1, 26, "!", ErrSyntax, "at least one step that is not a missing")
	f(`sequence with maxspan=1s ![a where true]`, 1, 26, "!", ErrSyntax, "at least one step that is not a missing")
	f(`sequence with maxspan=1s [a where true] ! b where true`, 1, 43, "b", ErrSyntax, "expected [ after !")
	f(`sequence with maxspan=1s [a where true] [b where true] until ![c where true]`, 1, 62, "!", ErrSyntax, "expected [event where condition] after until")
	f(`![a where true]`, 1, 1, "!", ErrSyntax, "belongs in a sequence")
	f(`sample by x [a where true]`, 1, 13, "[", ErrSyntax, "at least two filters")
	f(`sample by x`, 1, 12, "", ErrSyntax, "expected a sample filter")
	f(`sample by x with maxspan=1s [a where true] [b where true]`, 1, 13, "with", ErrSyntax, "no with maxspan")
	f(`sample by x [a where true] [b where true] with runs=2`, 1, 48, "runs", ErrSyntax, "not allowed on a sample's filter")
	f(`sample by x [a where true] [b where true] with maxspan=1s`, 1, 43, "with", ErrSyntax, "no with maxspan")
	f(`sample by x [a where true] [b where true] until [c where true]`, 1, 43, "until", ErrSyntax, "no until")
	f(`sample by x [a where true] ![b where true]`, 1, 28, "!", ErrSyntax, "no missing-event steps")
	f(`sample by x [a where true] by y [b where true]`, 1, 33, "[", ErrSyntax, "same number of by fields")
	f(`join [a where true] [b where true]`, 1, 1, "join", ErrUnsupported, "join queries")
	f(`sequence with maxspan=0s [a where true] [b where true]`, 1, 23, "0s", ErrSyntax, "positive")
	f(`sequence [a where true] [b where true] with maxspan=1s [c where true]`, 1, 56, "[", ErrSyntax, "no step may follow")
	f(`sequence [a where true] with runs=60 [b where true] with runs=5`, 1, 38, "[", ErrLimit, "at most 64 steps")
	f(`process where a == "`+"\xff"+`"`, 1, 20, "\"\xff\"", ErrSyntax, "invalid UTF-8")
	f("process where "+strings.Repeat("(", 70), 1, 79, "(", ErrLimit, "nested deeper")
}

func TestParseLimits(t *testing.T) {
	deep := "process where " + strings.Repeat("not ", MaxDepth+1) + "true"
	if _, err := Parse(deep); !errors.Is(err, ErrLimit) {
		t.Fatalf("deep not: %v", err)
	}
	wide := "process where a == 1" + strings.Repeat(" or a == 1", MaxNodes)
	if _, err := Parse(wide); !errors.Is(err, ErrLimit) {
		t.Fatalf("wide: %v", err)
	}
	big := "process where a == \"" + strings.Repeat("x", MaxSourceBytes) + "\""
	if _, err := Parse(big); !errors.Is(err, ErrLimit) {
		t.Fatalf("big: %v", err)
	}
	ok := "process where " + strings.Repeat("(", MaxDepth-1) + "true" + strings.Repeat(")", MaxDepth-1)
	if _, err := Parse(ok); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth-1, err)
	}
}

func TestStepFields(t *testing.T) {
	reg := DefaultRegistry()
	q, err := Compile("", `process where process.name == "a" and (process.pid > 1 or process.name : "b*") and not user.name in ("root")`, reg)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range q.Steps[0].Fields() {
		paths = append(paths, f.Path)
		if id, _ := reg.FieldID(f.Path); id != f.ID {
			t.Fatalf("%s: id %d, want %d", f.Path, f.ID, id)
		}
	}
	if strings.Join(paths, ",") != "process.name,process.pid,user.name" {
		t.Fatalf("fields %v", paths)
	}
	_ = schema.TypeAny
}

func TestBinaryExprTerms(t *testing.T) {
	q, err := Parse(`process where a == 1 and (b == 2 and c == 3) and (d == 4 or e == 5)`)
	if err != nil {
		t.Fatal(err)
	}
	and, ok := q.Steps[0].Cond.(*BinaryExpr)
	if !ok {
		t.Fatalf("%T", q.Steps[0].Cond)
	}
	var got []string
	for _, x := range and.Terms() {
		got = append(got, x.String())
	}
	if want := []string{"a == 1", "b == 2", "c == 3", "(d == 4 or e == 5)"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Terms() = %q, want %q", got, want)
	}
}

func TestParseMissingSample(t *testing.T) {
	f := func(src, want string) { t.Helper(); checkParse(t, src, want) }
	// Elastic's documented missing-event example.
	f(`sequence by host.name, user.name with maxspan=5s
  [ authentication where event.code : "4624" ]
  ![ authentication where event.code : "4647" ]`,
		"sequence by host.name, user.name with maxspan=5s\n  [authentication where event.code : \"4624\"]\n  ![authentication where event.code : \"4647\"]")
	// Leading, middle and trailing, with by and runs on a missing step.
	f(`sequence with maxspan=1h ![a where x == 1] by k [b where true] by k ! [c where true] by k with runs=2 [d where true] by k ![e where true] by j`,
		"sequence with maxspan=1h\n  ![a where x == 1] by k\n  [b where true] by k\n  ![c where true] by k with runs=2\n  [d where true] by k\n  ![e where true] by j")
	f(`sequence [a where true] ![b where true] with maxspan=2d`,
		"sequence with maxspan=2d\n  [a where true]\n  ![b where true]")
	// Elastic's documented sample example, and per-filter join keys.
	f(`sample by host [ file where file.extension == "exe" ] [ process where true ]`,
		"sample by host\n  [file where file.extension == \"exe\"]\n  [process where true]")
	f(`sample [success where true] by ip [alert where startsWith~(os, "win")] by host_ip`,
		"sample\n  [success where true] by ip\n  [alert where startsWith~(os, \"win\")] by host_ip")

	q, err := Parse(`sequence with maxspan=1s [a where true] with runs=2 ![b where true] with runs=3 [c where true]`)
	if err != nil {
		t.Fatal(err)
	}
	if q.NumEvents() != 3 || !q.HasMissing() || !q.Steps[1].Missing || q.Steps[0].Missing {
		t.Fatalf("NumEvents %d HasMissing %v", q.NumEvents(), q.HasMissing())
	}
	q, err = Parse(`sample by a [x where true] [y where true] [z where true]`)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Sample || q.Sequence || len(q.Steps) != 3 || q.NumEvents() != 3 {
		t.Fatalf("sample parsed as %+v", q)
	}
}

func TestParseOperandTests(t *testing.T) {
	f := func(src, want string) { t.Helper(); checkParse(t, src, want) }
	f(`process where length(a) in (1, 2)`, `process where length(a) in (1, 2)`)
	f(`process where substring(a, 0, 3) in~ ("CMD", "pow")`, `process where substring(a, 0, 3) in~ ("CMD", "pow")`)
	f(`process where concat(a, b) not in ("x")`, `process where not concat(a, b) in ("x")`)
	f(`process where concat(a, ".exe") : "*.EXE"`, `process where concat(a, ".exe") : "*.EXE"`)
	f(`process where string(p) like ("1*", "2?")`, `process where string(p) like ("1*", "2?")`)
	f(`process where string(p) like~ "x*"`, `process where string(p) like~ "x*"`)
	f(`process where between(a, "x", "y") regex~ "a.*"`, `process where between(a, "x", "y") regex~ "a.*"`)
	f(`process where (a + 1) in (2, 3)`, `process where (a + 1) in (2, 3)`)
	f(`process where (p.x * 2) not in (4)`, `process where not (p.x * 2) in (4)`)
	f(`process where cidrMatch(concat(a, ""), "10.0.0.0/8", "::1/128")`, `process where cidrMatch(concat(a, ""), "10.0.0.0/8", "::1/128")`)
	q, err := Parse(`process where length(a) in (1) and a in (1)`)
	if err != nil {
		t.Fatal(err)
	}
	terms := q.Steps[0].Cond.(*BinaryExpr).Terms()
	if _, ok := terms[0].(*OperandInExpr); !ok {
		t.Fatalf("expression on the left: %T", terms[0])
	}
	if _, ok := terms[1].(*InExpr); !ok {
		t.Fatalf("field on the left keeps the indexed form: %T", terms[1])
	}
}

func TestMaxSpanUnits(t *testing.T) {
	f := func(text string, want time.Duration) {
		t.Helper()
		q, err := Parse("sequence with maxspan=" + text + " [a where true] [b where true]")
		if err != nil {
			t.Fatalf("maxspan=%s: %v", text, err)
		}
		if q.MaxSpan != want || !q.HasMaxSpan {
			t.Fatalf("maxspan=%s: %v", text, q.MaxSpan)
		}
	}
	// Elastic's units (ms, s, m, h, d), and Kestrel's finer ones.
	f("250ms", 250*time.Millisecond)
	f("30s", 30*time.Second)
	f("15m", 15*time.Minute)
	f("2h", 2*time.Hour)
	f("7d", 7*24*time.Hour)
	f("5us", 5*time.Microsecond)
	f("9ns", 9)
	for _, bad := range []string{"1w", "1y", "1.5s", "1M", "s"} {
		if _, err := Parse("sequence with maxspan=" + bad + " [a where true] [b where true]"); !errors.Is(err, ErrSyntax) {
			t.Errorf("maxspan=%s: %v", bad, err)
		}
	}
	// with runs=N: 1 to 100, as Elastic allows.
	for _, n := range []int{1, 2, 64} {
		src := "sequence [a where true] [b where true] with runs=" + strconv.Itoa(n)
		if n > 63 {
			src = "sequence [b where true] with runs=" + strconv.Itoa(n)
		}
		q, err := Parse(src)
		if err != nil {
			t.Fatalf("runs=%d: %v", n, err)
		}
		if got := q.Steps[len(q.Steps)-1].Runs; got != n {
			t.Fatalf("runs=%d parsed as %d", n, got)
		}
	}
}
