package detect

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestElasticFunctionExamples runs the examples of Elastic's EQL function
// reference (https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-function-ref.html)
// with the results it documents, each as a condition on one event that
// holds the example's field values.
func TestElasticFunctionExamples(t *testing.T) {
	e := ev{1, "process_exec", time.Second, 1, []any{
		"process.name", "regsvr32.exe", "process.parent.name", "regsvr32.exe", "process.pid", 4,
		"process.args_count", uint64(4), "file.path", `C:\Windows\System32\cmd.exe`,
		"process.command_line", "start regsvr32.exe", "file.name", "subdomain.example.com",
	}}
	conds := []string{
		// add
		`add(4, 5) == 9`, `add(4, 0.5) == 4.5`, `add(0.5, 0.25) == 0.75`, `add(4, -2) == 2`, `add(-2, -2) == -4`,
		`add(process.args_count, 5) == 9`, `add(process.args_count, 0.5) == 4.5`,
		`add(process.args_count, process.pid) == 8`, `add(null, 4) == null`, `add(process.args_count, null) == null`,
		// between
		`between(file.path, "System32\\", ".exe") == "cmd"`, `between(file.path, "system32\\", ".exe") == ""`,
		`between(file.path, "workspace\\", ".exe") == ""`, `between~(file.path, "system32\\", ".exe") == "cmd"`,
		`between(file.path, "\\", "\\", false) == "Windows"`, `between(file.path, "\\", "\\", true) == "Windows\\System32"`,
		`between(null, "System32\\", ".exe") == null`,
		// concat
		`concat("process is ", "regsvr32.exe") == "process is regsvr32.exe"`,
		`concat("regsvr32.exe", " ", 42) == "regsvr32.exe 42"`, `concat("regsvr32.exe", " ", 42.5) == "regsvr32.exe 42.5"`,
		`concat("regsvr32.exe", " ", true) == "regsvr32.exe true"`, `concat("regsvr32.exe") == "regsvr32.exe"`,
		`concat(process.name, " ", process.pid) == "regsvr32.exe 4"`, `concat(null, "x") == null`,
		// divide
		`divide(4, 2) == 2`, `divide(4, 3) == 1`, `divide(4, 3.0) > 1.333 and divide(4, 3.0) < 1.334`,
		`divide(4, 0.5) == 8`, `divide(0.5, 4) == 0.125`, `divide(0.5, 0.25) == 2.0`, `divide(4, -2) == -2`,
		`divide(-4, -2) == 2`, `divide(process.args_count, 2) == 2`, `divide(null, 4) == null`,
		// endsWith
		`endsWith("regsvr32.exe", ".exe")`, `not endsWith("regsvr32.exe", ".dll")`, `endsWith("regsvr32.exe", ".dll", ".exe")`,
		`not endsWith("regsvr32.exe", ".DLL")`, `endsWith~("regsvr32.exe", ".EXE")`, `endsWith(process.name, ".exe")`,
		`not endsWith(null, ".exe")`,
		// indexOf
		`indexOf(file.name, ".") == 9`, `indexOf(file.name, ".", 9) == 9`, `indexOf(file.name, ".", 10) == 17`,
		`indexOf(file.name, ".", -6) == 9`, `indexOf(file.name, "z") == null`, `indexOf(file.name, "z", 9) == null`,
		`indexOf(file.name, ".", 100) == null`, `indexOf(file.name, "D") == null`, `indexOf~(file.name, "D") == 3`,
		`indexOf(null, ".", 9) == null`,
		// length
		`length("explorer.exe") == 12`, `length("start explorer.exe") == 18`, `length(process.name) == 12`,
		`length("") == 0`, `length(null) == null`,
		// modulo
		`modulo(10, 6) == 4`, `modulo(10, 5) == 0`, `modulo(10, 0.5) == 0`, `modulo(10, -6) == 4`, `modulo(-10, -6) == -4`,
		`modulo(process.args_count, 3) == 1`, `modulo(null, 5) == null`,
		// multiply
		`multiply(2, 2) == 4`, `multiply(0.5, 2) == 1`, `multiply(0.25, 2) == 0.5`, `multiply(-2, 2) == -4`,
		`multiply(process.args_count, 2) == 8`, `multiply(null, 2) == null`,
		// number
		`number("1337") == 1337`, `number("42.5") == 42.5`, `number("deadbeef", 16) == 3735928559`,
		`number("0x1337", 16) == 4919`, `number("0xdeadbeef", 16) == 3735928559`, `number(null) == null`,
		// startsWith
		`startsWith("regsvr32.exe", "regsvr32")`, `not startsWith("regsvr32.exe", "explorer")`,
		`startsWith("regsvr32.exe", "explorer", "regsvr32")`, `not startsWith("regsvr32.exe", "REGSVR32")`,
		`startsWith~("regsvr32.exe", "REGSVR32")`, `startsWith(process.name, "regsvr32")`, `not startsWith(null, "x")`,
		// string
		`string(-1) == "-1"`, `string(42) == "42"`, `string(42.5) == "42.5"`, `string("regsvr32.exe") == "regsvr32.exe"`,
		`string(true) == "true"`, `string(null) == null`,
		// stringContains
		`stringContains("regsvr32.exe", "regsvr32")`, `not stringContains("regsvr32.exe", "REGSVR32")`,
		`stringContains~("regsvr32.exe", "REGSVR32")`, `stringContains(process.name, "svr")`,
		// substring
		`substring(process.command_line, 6) == "regsvr32.exe"`, `substring(process.command_line, 0, 5) == "start"`,
		`substring(process.command_line, 6, 14) == "regsvr32"`, `substring(process.command_line, -4) == ".exe"`,
		`substring(process.command_line, -4, -1) == ".ex"`,
		// subtract
		`subtract(10, 2) == 8`, `subtract(10.5, 0.5) == 10`, `subtract(1, 0.2) == 0.8`, `subtract(-2, 4) == -6`,
		`subtract(-2, -4) == 2`, `subtract(process.args_count, 6) == -2`, `subtract(null, 2) == null`,
		// wildcard
		`wildcard(process.name, "*regsvr32*")`, `wildcard(process.name, "*regsvr32*", "*explorer*")`,
		`not wildcard(process.name, "*explorer*")`, `wildcard(concat(process.name, ""), "REGSVR32*")`,
		// operators, optional fields, field to field, mixed numbers
		`process.name == process.parent.name`, `not process.name != process.parent.name`,
		`process.pid * 2 + 1 == 9`, `(process.pid + 2) % 4 == 2`, `process.pid - 5 < 0`, `process.pid / 3 == 1`,
		`process.pid == 4.0`, `process.pid < 4.5`, `process.args_count > 3.5`, `process.pid in (1.5, 4.0)`,
		`?no.such.field == null`, `not ?no.such.field == "x"`, `?process.name != null`, `?no.such.field != "x"`,
		`not ?no.such.field == ?other.missing`, `length(?no.such.field) == null`,
		`startsWith(file.path, substring(file.path, 0, 3))`,
	}
	for _, c := range conds {
		src := `any where ` + c
		q, err := rule.Compile("x.eql", src, testReg)
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		p := &rule.Package{Manifest: &rule.Manifest{RuleID: "r", RuleName: "r", Severity: schema.SeverityLow}, Source: src, Query: q}
		_, got := run(t, Config{Rules: []*rule.Package{p}}, []ev{e})
		if len(got.ids()) != 1 {
			t.Errorf("%s: no match", c)
		}
	}
}

// TestOperandsNoAllocs proves that functions and comparisons over fields
// allocate nothing, strings they build included.
func TestOperandsNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rules := []*rule.Package{
		pkg(t, "fn", `process where length(process.name) > 1 and substring(process.name, 0, 2) == "ls" and
  concat(process.name, "-", process.pid, "-", string(process.args_count)) == "ls-10-2" and
  startsWith~(between(process.command_line, " ", " "), "-L") and process.pid * 2 + 1 > 20 and
  process.name != process.parent.name and ?no.such.field == null and indexOf~(process.executable, "BIN") == 1`),
	}
	c := &capture{}
	d, err := New(Config{Output: c, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	e := ev{1, "process_exec", time.Second, 1, []any{"process.name", "ls", "process.parent.name", "bash",
		"process.pid", 10, "process.args_count", uint64(2), "process.command_line", "ls -la /tmp",
		"process.executable", "/bin/ls"}}.build(t)
	miss := ev{2, "process_exec", time.Second, 1, []any{"process.name", "cat", "process.pid", 10}}.build(t)
	d.Handle(0, []*schema.Event{&e})
	if len(c.ids()) != 1 {
		t.Fatalf("the rule did not match: %v", c.ids())
	}
	batch := []*schema.Event{&miss, &miss}
	d.Handle(0, batch)
	if n := testing.AllocsPerRun(1000, func() { d.Handle(0, batch) }); n != 0 {
		t.Fatalf("%v allocs per batch", n)
	}
	// The whole condition, strings built included, on the matching event.
	cr := d.rules[0]
	sc := &evalScratch{}
	if n := testing.AllocsPerRun(1000, func() {
		if !cr.steps[0].pred(&e, sc) {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Fatalf("%v allocs per evaluation", n)
	}
}

// randOperandCond mixes conditions the index cannot guard (operands,
// functions) with the ones it can, so that rules using them are checked
// indexed against plain.
func randOperandCond(rnd *rand.Rand) string {
	f := strFields[rnd.IntN(len(strFields))]
	g := strFields[rnd.IntN(len(strFields))]
	switch rnd.IntN(9) {
	case 0:
		return f + " == " + g
	case 1:
		return "length(" + f + ") < " + []string{"3", "5", "8"}[rnd.IntN(3)]
	case 2:
		return "startsWith~(" + f + ", substring(" + g + ", 0, 2))"
	case 3:
		return "concat(" + f + ", \"x\") != concat(" + g + ", \"x\")"
	case 4:
		return "?" + f + " == null"
	case 5:
		return "process.pid * 2 > 3"
	case 6:
		return "not (" + randCond(rnd, 1) + ") and stringContains(" + f + ", " + g + ")"
	case 7:
		return "(" + randCond(rnd, 1) + " and " + f + " != " + g + ")"
	}
	return "(" + randCond(rnd, 1) + " or indexOf(" + f + ", \"a\") == 0)"
}

// TestIndexMatchesPlainOperands checks that rules over operands, which
// the index never guards, alert the same indexed and not.
func TestIndexMatchesPlainOperands(t *testing.T) {
	seeds := 20
	if raceEnabled {
		seeds = 5
	}
	total := 0
	for seed := range uint64(seeds) {
		rnd := rand.New(rand.NewPCG(seed, 7))
		var rules []*rule.Package
		for i := range 10 + rnd.IntN(30) {
			src := []string{"process", "file", "any"}[rnd.IntN(3)] + " where " + randOperandCond(rnd)
			if rnd.IntN(3) == 0 {
				src += " or " + randCond(rnd, 1)
			}
			rules = append(rules, pkg(t, "r"+string(rune('a'+i%26))+string(rune('a'+i/26)), src))
		}
		evs := randEvents(t, rnd, 300)
		cfg := Config{Rules: rules}
		plain := cfg
		plain.NoIndex = true
		got, want := alertsOf(t, cfg, evs), alertsOf(t, plain, evs)
		total += len(want)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: indexed and plain differ\n%s", seed, sources(rules))
		}
	}
	if total < 10*seeds {
		t.Fatalf("%d alerts: the rules match too rarely", total)
	}
}

// TestElasticSyntaxExamples runs the condition examples of Elastic's EQL
// syntax reference (https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-syntax.html:
// comparisons of fields with fields, math operators, optional fields,
// functions) with the documented result, match or not, on one event.
func TestElasticSyntaxExamples(t *testing.T) {
	e := ev{1, "process_exec", time.Second, 1, []any{
		"process.name", "svchost.exe", "process.parent.name", "services.exe", "process.pid", 12,
		"process.parent.pid", 12, "process.args_count", uint64(4), "file.path", `C:\Windows\System32\svchost.exe`,
	}}
	cases := []struct {
		cond string
		want bool
	}{
		{`process.name == "svchost.exe"`, true},
		{`process.parent.name == process.name`, false},
		{`process.parent.pid == process.pid`, true},
		{`process.parent.pid != process.pid`, false},
		{`process.args_count + 4 > 7`, true},
		{`process.args_count * 2 == 8`, true},
		{`process.args_count / 3 == 1`, true},
		{`process.args_count % 3 == 1`, true},
		{`process.args_count - 5 < 0`, true},
		{`?process.name == "svchost.exe"`, true},
		{`?user.domain == "x"`, false}, // not in our schema: null
		{`?user.domain == null`, true},
		{`process.name : "SVCHOST.EXE"`, true},
		{`process.name : ("cmd.exe", "*.exe")`, true},
		{`process.name like~ "SVC*"`, true},
		{`process.name like "SVC*"`, false},
		{`startsWith(process.name, "svc") and endsWith~(file.path, "SVCHOST.EXE")`, true},
		{`length(process.name) == 11 and substring(process.name, 0, 3) == "svc"`, true},
		{`concat(process.name, ":", process.parent.name) == "svchost.exe:services.exe"`, true},
	}
	for _, c := range cases {
		src := `process where ` + c.cond
		q, err := rule.Compile("x.eql", src, testReg)
		if err != nil {
			t.Errorf("%s: %v", c.cond, err)
			continue
		}
		p := &rule.Package{Manifest: &rule.Manifest{RuleID: "r", RuleName: "r", Severity: schema.SeverityLow}, Source: src, Query: q}
		_, got := run(t, Config{Rules: []*rule.Package{p}}, []ev{e})
		if (len(got.ids()) == 1) != c.want {
			t.Errorf("%s: matched %v, want %v", c.cond, len(got.ids()) == 1, c.want)
		}
	}
}
