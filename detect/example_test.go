package detect_test

import (
	"fmt"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// printer is an Emitter that prints alerts; in a program it is a
// *sink.Output.
type printer struct{}

func (printer) Emit(a *sink.Alert) error {
	fmt.Println(a.RuleID, a.Severity, a.EventIDs, a.Fields[0].Path, a.Fields[0].Value)
	return nil
}

func Example() {
	reg := rule.DefaultRegistry()
	q, err := rule.Compile("rule.eql", `sequence by process.entity_id with maxspan=10s
  [network where network.dest_port == 4444]
  [process where process.executable : "/bin/*sh"]`, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	pkg := &rule.Package{Manifest: &rule.Manifest{RuleID: "revshell", RuleName: "Reverse shell", Severity: rule.SeverityCritical}, Query: q}
	det, err := detect.New(detect.Config{Rules: []*rule.Package{pkg}, Output: printer{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := schema.NewBuilder(reg)
	conn, _ := b.Reset().ID(1).TypeName("network_connect").Mono(1e9).
		Path("process.entity_id", value.StringValue("p1")).Path("network.dest_port", value.U64Value(4444)).Build()
	shell, _ := b.Reset().ID(2).TypeName("process_exec").Mono(3e9).
		Path("process.entity_id", value.StringValue("p1")).Path("process.executable", value.StringValue("/bin/bash")).Build()

	// A bus calls this from partition 0's worker: bus.Run(det.Handle).
	det.Handle(0, []*schema.Event{&conn, &shell})
	fmt.Println(det.Stats().Alerts)
	// Output:
	// revshell critical [1 2] process.entity_id p1
	// 1
}
