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

// Missing-event steps and samples, and the errors that say what Elastic
// requires of them, with line and column.
func ExampleParse_missingAndSample() {
	q, err := rule.Parse(`sequence by user.name with maxspan=5s
  [authentication where event.code : "4624"]
  ![authentication where event.code : "4647"]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.NumEvents(), q.HasMissing(), q.Steps[1].Missing)
	s, err := rule.Parse(`sample by host.name [file where true] [process where true]`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Sample, len(s.Steps))
	_, err = rule.Parse("sequence\n  [process where true]\n  ![process where true]")
	fmt.Println(err)
	_, err = rule.Parse("sample by host.name [file where true] [process where true] with runs=2")
	fmt.Println(err)
	// Output:
	// 1 true true
	// true 2
	// 3:3: a sequence with a missing-event step (![...]) needs with maxspan=..., as in Elastic EQL (at "!")
	// 1:65: runs is not allowed on a sample's filter (at "runs")
}
