package rule_test

import (
	"fmt"

	"github.com/kestrel-sec/kestrel/rule"
)

func ExampleCompile() {
	reg := rule.DefaultRegistry()
	q, err := rule.Compile("rule.eql", `sequence by process.entity_id
  [network where network.dest_port in (4444, 5555)]
  [process where process.executable : "/bin/*sh"]
with maxspan=10s`, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.NumEvents(), q.MaxSpan, q.By[0].Path, q.By[0].ID)
	fmt.Println(q.Steps[1].Cond)

	_, err = rule.Compile("rule.eql", "process where\n  process.pid == \"1\"", reg)
	fmt.Println(err)
	// Output:
	// 2 10s process.entity_id 17
	// process.executable : "/bin/*sh"
	// rule.eql:2:18: field process.pid is I64; "1" is a string (at "\"1\"")
}

func ExampleLoadDir() {
	set, err := rule.LoadDir("testdata/pack", rule.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range set.Packages {
		fmt.Println(p.ID(), p.Manifest.Severity, p.Query.Sequence)
	}
	for _, u := range set.Unsupported {
		fmt.Println("unsupported:", u.RuleID, u.File)
	}
	// Output:
	// credaccess-001 high false
	// exfil-001 high true
	// lateral-001 medium true
	// privesc-001 high true
	// ransomware-001 critical true
	// revshell-001 critical true
	// unsupported: lua-example-001 predicate.lua
	// unsupported: wasm-example-001 rule.wat
}
