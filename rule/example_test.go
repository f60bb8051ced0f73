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

// An Elastic detection rule (TOML) becomes a rule package: the query
// unchanged, the metadata in manifest.json.
func ExampleParseElasticRule() {
	r, err := rule.ParseElasticRule("rule.toml", []byte(`[rule]
rule_id = "5f1c8a2e-0000-4000-8000-000000000001"
name = "Shell from a web server"
description = "nginx starts a shell."
severity = "high"
risk_score = 73
type = "eql"
language = "eql"
query = 'process where process.parent.name == "nginx" and process.name == "sh" and user.id == "33"'

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1505"
[[rule.threat.technique.subtechnique]]
id = "T1505.003"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.RuleID, r.Severity, r.RiskScore, r.Techniques)
	q, err := rule.Compile("rule.eql", string(r.EQL()), rule.DefaultRegistry())
	fmt.Println(q.NumEvents(), err)

	_, err = rule.ParseElasticRule("kql.toml", []byte("[rule]\nrule_id = \"x\"\nname = \"KQL\"\ntype = \"query\"\nlanguage = \"kuery\"\n"))
	fmt.Println(err)
	// Output:
	// 5f1c8a2e-0000-4000-8000-000000000001 high 73 [T1505 T1505.003]
	// 1 <nil>
	// kql.toml: rule x (KQL) skipped: type query, language kuery; only EQL rules convert
}
