package detect

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// typeIP is an "ip" plugin type over String: addresses equal as
// addresses ("2001:0db8::1" is "2001:db8::1"), ordered as addresses,
// matched against CIDR prefixes. Plugin types are process-wide: it is
// registered once per test binary.
var typeIP = func() schema.FieldDataType {
	addr := func(v value.Value) netip.Addr {
		s, _ := v.Str()
		a, _ := netip.ParseAddr(s)
		return a
	}
	t, err := schema.RegisterType(schema.TypeDef{
		Name: "ip",
		Base: schema.TypeString,
		Parse: func(s string) (value.Value, error) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return value.Value{}, err
			}
			return value.StringValue(a.String()), nil
		},
		Validate: func(v value.Value) bool {
			s, _ := v.Str()
			_, err := netip.ParseAddr(s)
			return err == nil
		},
		Compare: func(a, b value.Value) int { return addr(a).Compare(addr(b)) },
		Match: func(v value.Value, pattern string) (bool, error) {
			p, err := netip.ParsePrefix(pattern)
			if err != nil {
				return false, err
			}
			return p.Contains(addr(v)), nil
		},
		AppendJSON: func(dst []byte, v value.Value) []byte {
			s, _ := v.Str()
			return strconv.AppendQuote(dst, s)
		},
	})
	if err != nil {
		panic(err) // test set-up
	}
	return t
}()

// pluginReg is the default schema plus vendor.test.ip of type ip (a
// namespaced field: ECS has client.ip already, as a plain string).
var pluginReg, clientIP = func() (*schema.Registry, schema.FieldID) {
	reg := rule.DefaultRegistry()
	id, err := reg.RegisterField(schema.FieldDef{Path: "vendor.test.ip", DataType: typeIP})
	if err != nil {
		panic(err)
	}
	return reg, id
}()

// networkType is the event type "network where" names in pluginReg.
var networkType = func() schema.EventTypeID {
	t, ok := pluginReg.EventTypeID("network")
	if !ok {
		panic("no network event type")
	}
	return t
}()

func pluginEvent(id uint64, ip string) schema.Event {
	var ev schema.Event
	ev.ID, ev.Type = id, networkType
	if ip != "" {
		ev.Add(clientIP, value.StringValue(ip)) // unchecked: invalid values too
	}
	return ev
}

// Rules compare an ip field by the type: == and in as addresses, whatever
// the text; orderings as addresses; cidrMatch by the type's Match; an
// invalid value as absent. The alerts are the same with the index off.
func TestPluginTypeRules(t *testing.T) {
	rules := map[string]string{
		"eq":    `network where vendor.test.ip == "2001:0db8:0:0::1"`,
		"ne":    `network where vendor.test.ip != "10.0.0.1"`,
		"in":    `network where vendor.test.ip in ("192.168.1.1", "2001:db8::1")`,
		"lt":    `network where vendor.test.ip < "10.0.0.9"`,
		"cidr":  `network where cidrMatch(vendor.test.ip, "2001:db8::/32", "172.16.0.0/12")`,
		"inull": `network where vendor.test.ip in (null, "10.0.0.1")`,
	}
	var pkgs []*rule.Package
	for _, id := range []string{"eq", "ne", "in", "lt", "cidr", "inull"} {
		q, err := rule.Compile(id+".eql", rules[id], pluginReg)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		pkgs = append(pkgs, &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: schema.SeverityLow}, Query: q})
	}
	evs := []schema.Event{
		pluginEvent(1, "2001:db8::1"),
		pluginEvent(2, "2001:0DB8:0000::0001"),
		pluginEvent(3, "10.0.0.1"),
		pluginEvent(4, "10.0.0.10"),
		pluginEvent(5, "172.20.1.1"),
		pluginEvent(6, "not an address"),
		pluginEvent(7, ""),
	}
	want := []string{
		"eq:1", "ne:1", "in:1", "cidr:1",
		"eq:2", "ne:2", "in:2", "cidr:2",
		"lt:3", "inull:3",
		"ne:4",
		"ne:5", "cidr:5",
		"ne:6",
		"ne:7", "inull:7",
	}
	for _, noIndex := range []bool{false, true} {
		c := &capture{}
		d, err := New(Config{Rules: pkgs, Output: c, NoIndex: noIndex})
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			d.Handle(0, []*schema.Event{&evs[i]})
		}
		got := c.ids()
		if len(got) != len(want) {
			t.Fatalf("noIndex %v: alerts %q, want %q", noIndex, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("noIndex %v: alerts %q, want %q", noIndex, got, want)
			}
		}
	}
}

// A test on a plugin value allocates nothing where the type's functions
// do not, as its base kind's test allocates nothing.
func TestPluginTypeNoAlloc(t *testing.T) {
	for _, src := range []string{
		`network where vendor.test.ip == "2001:0db8::1"`,
		`network where vendor.test.ip >= "10.0.0.0"`,
		`network where vendor.test.ip in ("10.0.0.1", "10.0.0.2", "2001:db8::1")`,
		`network where cidrMatch(vendor.test.ip, "10.0.0.0/8", "2001:db8::/32")`,
	} {
		q, err := rule.Compile("r.eql", src, pluginReg)
		if err != nil {
			t.Fatal(err)
		}
		p := pluginPred(q.Steps[0].Cond)
		if p == nil {
			t.Fatalf("%s: not compiled as a plugin test", src)
		}
		ev := pluginEvent(1, "2001:db8::1")
		sink := false
		if n := testing.AllocsPerRun(200, func() { sink = p(&ev, nil) }); n != 0 {
			t.Errorf("%s: %v allocations", src, n)
		}
		if !sink {
			t.Errorf("%s: false on 2001:db8::1", src)
		}
	}
}
