package detect_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
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
	pkg := &rule.Package{Manifest: &rule.Manifest{RuleID: "revshell", RuleName: "Reverse shell", Severity: schema.SeverityCritical}, Query: q}
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

// Detection on a bus of several partitions: the detector routes each event
// to the partitions that hold the state it can advance, so a sequence by
// user joins two processes wherever the bus put them.
func Example_routed() {
	reg := rule.DefaultRegistry()
	q, err := rule.Compile("rule.eql", `sequence by user.name
  [process where process.name == "sudo"]
  [file where file.path == "/etc/shadow"]`, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	pkg := &rule.Package{Manifest: &rule.Manifest{RuleID: "shadow", RuleName: "sudo then shadow", Severity: schema.SeverityHigh}, Query: q}
	const n = 4
	det, err := detect.New(detect.Config{Rules: []*rule.Package{pkg}, Output: printer{}, Partitions: n,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, n) }})
	if err != nil {
		fmt.Println(err)
		return
	}
	bus, err := engine.New(engine.Config{Partitions: n, Route: det.Route})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := bus.Run(det.Handle); err != nil {
		fmt.Println(err)
		return
	}
	b := schema.NewBuilder(reg)
	sudo, _ := b.Reset().ID(1).TypeName("process_exec").Mono(1e9).Entity(schema.EntityKeyFrom64(1)).
		Path("user.name", value.StringValue("alice")).Path("process.name", value.StringValue("sudo")).Build()
	read, _ := b.Reset().ID(2).TypeName("file_open").Mono(2e9).Entity(schema.EntityKeyFrom64(2)).
		Path("user.name", value.StringValue("alice")).Path("file.path", value.StringValue("/etc/shadow")).Build()
	_ = bus.Publish(&sudo)
	_ = bus.Publish(&read)
	_ = bus.Shutdown(context.Background())
	fmt.Println(det.Stats().Alerts)
	// Output:
	// shadow high [1 2] user.name alice
	// 1
}

// A missing-event step: an outbound connection not followed within 5s by
// the process's exit. The match waits while an exit may still come; the
// end of input (Flush, after the bus drained) lets it out.
func ExampleDetector_Flush() {
	reg := rule.DefaultRegistry()
	q, err := rule.Compile("rule.eql", `sequence by process.entity_id with maxspan=5s
  [network where network.direction == "outbound"]
  ![process where event.action == "exit"]`, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	pkg := &rule.Package{Manifest: &rule.Manifest{RuleID: "lingers", RuleName: "Connects and lingers", Severity: schema.SeverityLow}, Query: q}
	det, err := detect.New(detect.Config{Rules: []*rule.Package{pkg}, Output: printer{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := schema.NewBuilder(reg)
	conn := func(id uint64, ts uint64, proc string) schema.Event {
		e, _ := b.Reset().ID(id).TypeName("network_connect").Mono(schema.TimestampMono(ts)).
			Path("process.entity_id", value.StringValue(proc)).Path("network.direction", value.StringValue("outbound")).Build()
		return e
	}
	exit, _ := b.Reset().ID(3).TypeName("process_exit").Mono(2e9).
		Path("process.entity_id", value.StringValue("p1")).Path("event.action", value.StringValue("exit")).Build()
	c1, c2 := conn(1, 1e9, "p1"), conn(2, 1e9, "p2")
	det.Handle(0, []*schema.Event{&c1, &c2, &exit}) // p1 exits in time; p2 may still
	fmt.Println("held", det.Stats().Held, "vetoed", det.Stats().Vetoed)
	det.Flush() // the end of input
	fmt.Println("held", det.Stats().Held, "alerts", det.Stats().Alerts)
	// Output:
	// held 1 vetoed 1
	// lingers low [2] process.entity_id p2
	// held 0 alerts 1
}

// A field of a plugin type is compared as the type defines: here an
// address type ("inet") whose Compare reads both sides as addresses, so a
// rule's "2001:0db8::0:1" matches the sensor's "2001:db8::1", and whose
// Match makes cidrMatch a prefix test.
func Example_pluginType() {
	addr := func(v value.Value) netip.Addr {
		s, _ := v.Str()
		a, _ := netip.ParseAddr(s)
		return a
	}
	inet, err := schema.RegisterType(schema.TypeDef{
		Name: "inet", Base: schema.TypeString,
		Parse: func(s string) (value.Value, error) {
			a, err := netip.ParseAddr(s)
			return value.StringValue(a.String()), err
		},
		Validate: func(v value.Value) bool { return addr(v).IsValid() },
		Compare:  func(a, b value.Value) int { return addr(a).Compare(addr(b)) },
		Match: func(v value.Value, pattern string) (bool, error) {
			p, err := netip.ParsePrefix(pattern)
			return err == nil && p.Contains(addr(v)), err
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := rule.DefaultRegistry()
	peer, _ := reg.RegisterField(schema.FieldDef{Path: "peer.addr", DataType: inet})
	var pkgs []*rule.Package
	for id, src := range map[string]string{
		"exact": `network where peer.addr == "2001:0db8::0:1"`,
		"range": `network where cidrMatch(peer.addr, "2001:db8::/32")`,
	} {
		q, err := rule.Compile(id+".eql", src, reg)
		if err != nil {
			fmt.Println(err)
			return
		}
		pkgs = append(pkgs, &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: schema.SeverityLow}, Query: q})
	}
	slices.SortFunc(pkgs, func(a, b *rule.Package) int { return strings.Compare(a.Manifest.RuleID, b.Manifest.RuleID) })
	det, err := detect.New(detect.Config{Rules: pkgs, Output: printer{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := schema.NewBuilder(reg).ID(1).TypeName("network_connect").Field(peer, value.StringValue("2001:db8::1")).Build()
	det.Handle(0, []*schema.Event{&ev})
	// Output:
	// exact low [1] peer.addr 2001:db8::1
	// range low [1] peer.addr 2001:db8::1
}
