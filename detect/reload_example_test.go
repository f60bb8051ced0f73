package detect_test

import (
	"fmt"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// A rule set reloaded between two events of a sequence: the unchanged
// rule's partial match carries over and completes, with the new
// manifest's severity; the changed rule's is dropped and counted.
func ExampleDetector_Reload() {
	reg := rule.DefaultRegistry()
	// The query compiles (rule.Compile's errors are shown in Example);
	// a rule loaded from a directory (rule.LoadDir) has its Source too.
	compile := func(id, src string, sev schema.Severity) *rule.Package {
		q, _ := rule.Compile(id+".eql", src, reg)
		return &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: sev}, Source: src, Query: q}
	}
	const src = `sequence by process.entity_id
  [network where network.dest_port == 4444]
  [process where process.executable : "/bin/*sh"]`
	det, err := detect.New(detect.Config{Output: printer{},
		Rules: []*rule.Package{compile("revshell", src, schema.SeverityHigh), compile("tuned", src, schema.SeverityLow)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := schema.NewBuilder(reg)
	conn, _ := b.Reset().ID(1).TypeName("network_connect").Mono(1e9).
		Path("process.entity_id", value.StringValue("p1")).Path("network.dest_port", value.U64Value(4444)).Build()
	det.Handle(0, []*schema.Event{&conn})

	next, rep, err := det.Reload(detect.Config{Output: printer{}, Rules: []*rule.Package{
		compile("revshell", src, schema.SeverityCritical),
		compile("tuned", src+" with maxspan=1m", schema.SeverityLow)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("kept", rep.Kept, "dropped", rep.Dropped)
	shell, _ := b.Reset().ID(2).TypeName("process_exec").Mono(3e9).
		Path("process.entity_id", value.StringValue("p1")).Path("process.executable", value.StringValue("/bin/bash")).Build()
	next.Handle(0, []*schema.Event{&shell}) // the bus's worker, its next batch
	fmt.Println("dropped by the reload:", det.Stats().Evicted.Reload)
	// Output:
	// kept [revshell] dropped [tuned]
	// revshell critical [1 2] process.entity_id p1
	// dropped by the reload: 1
}
