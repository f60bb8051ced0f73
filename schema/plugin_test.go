package schema_test

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// ipDef is an "ip" type over String: addresses in their canonical text,
// ordered as addresses, matched against CIDR prefixes.
var ipDef = schema.TypeDef{
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
	Compare: func(a, b value.Value) int {
		x, _ := a.Str()
		y, _ := b.Str()
		ax, _ := netip.ParseAddr(x)
		ay, _ := netip.ParseAddr(y)
		return ax.Compare(ay)
	},
	Match: func(v value.Value, pattern string) (bool, error) {
		p, err := netip.ParsePrefix(pattern)
		if err != nil {
			return false, err
		}
		s, _ := v.Str()
		a, err := netip.ParseAddr(s)
		return err == nil && p.Contains(a), nil
	},
	AppendJSON: func(dst []byte, v value.Value) []byte {
		s, _ := v.Str()
		return strconv.AppendQuote(dst, s)
	},
}

// typeIP is registered once per test binary: plugin types are
// process-wide.
var typeIP = func() schema.FieldDataType {
	t, err := schema.RegisterType(ipDef)
	if err != nil {
		panic(err) // test set-up
	}
	return t
}()

func TestRegisterTypeErrors(t *testing.T) {
	f := func(def schema.TypeDef, part string) {
		t.Helper()
		_, err := schema.RegisterType(def)
		if !errors.Is(err, schema.ErrInvalidType) || !strings.Contains(err.Error(), part) {
			t.Errorf("%+v: %v", def.Name, err)
		}
	}
	parse := ipDef.Parse
	f(schema.TypeDef{Base: schema.TypeString, Parse: parse}, "name must be")
	f(schema.TypeDef{Name: "a.b", Base: schema.TypeString, Parse: parse}, "'.'")
	f(schema.TypeDef{Name: "x", Base: schema.TypeAny, Parse: parse}, "base must be")
	f(schema.TypeDef{Name: "x", Base: typeIP, Parse: parse}, "base must be")
	f(schema.TypeDef{Name: "x", Base: schema.TypeString}, "Parse is required")
	f(schema.TypeDef{Name: "ip", Base: schema.TypeString, Parse: parse}, "exists")
	f(schema.TypeDef{Name: "STRING", Base: schema.TypeString, Parse: parse}, "exists")
}

func TestPluginType(t *testing.T) {
	if typeIP.String() != "ip" || typeIP.Base() != schema.TypeString || !typeIP.Valid() {
		t.Fatalf("ip: %v base %v", typeIP, typeIP.Base())
	}
	if got, ok := schema.LookupType("ip"); !ok || got != typeIP {
		t.Error("LookupType(ip)")
	}
	if got, ok := schema.LookupType("u64"); !ok || got != schema.TypeU64 {
		t.Error("LookupType(u64)")
	}
	if schema.FieldDataType(200).Valid() || schema.FieldDataType(200).Base() != schema.TypeAny {
		t.Error("an unregistered type is valid")
	}
	if _, ok := schema.TypeString.Plugin(); ok {
		t.Error("String is a plugin")
	}
	if d, ok := typeIP.Plugin(); !ok || d.Name != "ip" {
		t.Error("Plugin()")
	}

	r := schema.NewRegistry()
	if _, err := r.RegisterField(schema.FieldDef{Path: "source.ip", DataType: typeIP}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegisterField(schema.FieldDef{Path: "x", DataType: schema.FieldDataType(200)}); !errors.Is(err, schema.ErrInvalidPath) {
		t.Errorf("unregistered type accepted: %v", err)
	}
	_, _ = r.RegisterEventType("network_connect")
	b := schema.NewBuilder(r)
	if _, err := b.Reset().ID(1).Type(1).Path("source.ip", value.StringValue("10.0.0.1")).Build(); err != nil {
		t.Errorf("valid ip: %v", err)
	}
	_, err := b.Reset().ID(1).Type(1).Path("source.ip", value.StringValue("10.0.0.300")).Build()
	if !errors.Is(err, schema.ErrTypeMismatch) || !strings.Contains(err.Error(), "is ip") {
		t.Errorf("invalid ip: %v", err)
	}
	if _, err := typeIP.Coerce(value.I64Value(1)); !errors.Is(err, schema.ErrTypeMismatch) {
		t.Errorf("an integer into ip: %v", err)
	}
	if v, err := typeIP.Coerce(value.Value{}); err != nil || !v.IsNull() {
		t.Errorf("Null into ip: %v", err)
	}

	// Parse, Compare, Match, AppendJSON.
	if v, err := typeIP.Parse("::FFFF:10.0.0.1"); err != nil || v.String() != "::ffff:10.0.0.1" {
		t.Errorf("Parse: %v %v", v, err)
	}
	if _, err := typeIP.Parse("nope"); !errors.Is(err, schema.ErrTypeMismatch) {
		t.Errorf("Parse(nope): %v", err)
	}
	ips := []value.Value{value.StringValue("10.0.0.10"), value.StringValue("10.0.0.9"), value.StringValue("9.255.0.1")}
	slices.SortFunc(ips, typeIP.Compare)
	if fmt.Sprint(ips) != "[9.255.0.1 10.0.0.9 10.0.0.10]" {
		t.Errorf("ip order %v", ips)
	}
	strs := slices.Clone(ips)
	slices.SortFunc(strs, schema.TypeString.Compare)
	if fmt.Sprint(strs) != "[10.0.0.10 10.0.0.9 9.255.0.1]" {
		t.Errorf("string order %v", strs)
	}
	if ok, err := typeIP.Match(ips[1], "10.0.0.0/8"); !ok || err != nil {
		t.Errorf("10.0.0.9 in 10/8: %v %v", ok, err)
	}
	if ok, _ := typeIP.Match(ips[0], "10.0.0.0/8"); ok {
		t.Error("9.255.0.1 in 10/8")
	}
	if _, err := typeIP.Match(ips[0], "10/8"); err == nil {
		t.Error("bad CIDR matched")
	}
	if _, err := schema.TypeString.Match(ips[0], "x"); !errors.Is(err, schema.ErrInvalidType) {
		t.Errorf("String has patterns: %v", err)
	}
	if got := string(typeIP.AppendJSON(nil, ips[0])); got != `"9.255.0.1"` {
		t.Errorf("AppendJSON %s", got)
	}
	if got := string(schema.TypeString.AppendJSON(nil, ips[0])); got != `{"String":"9.255.0.1"}` {
		t.Errorf("String AppendJSON %s", got)
	}
	if v, err := schema.TypeU64.Parse("x"); err == nil {
		t.Errorf("U64 parsed text: %v", v)
	}
	if v, err := schema.TypeBytes.Parse("x"); err != nil || v.Kind() != value.KindBytes {
		t.Errorf("Bytes Parse: %v %v", v, err)
	}
	for _, c := range [][3]value.Value{
		{value.I64Value(-1), value.I64Value(2)}, {value.U64Value(1), value.U64Value(2)}, {value.F64Value(1), value.F64Value(2)},
		{value.BoolValue(false), value.BoolValue(true)}, {value.BytesValue([]byte("a")), value.BytesValue([]byte("b"))},
		{value.I64Value(5), value.StringValue("a")}, {value.StringValue("a"), value.StringValue("b")},
		{value.F64Value(math.NaN()), value.F64Value(math.Inf(-1))}, {value.U64Value(1), value.U64Value(math.MaxUint64)},
	} {
		if schema.TypeAny.Compare(c[0], c[1]) != -1 || schema.TypeAny.Compare(c[1], c[0]) != 1 || schema.TypeAny.Compare(c[0], c[0]) != 0 {
			t.Errorf("Compare %v %v", c[0], c[1])
		}
	}
}

// Decoding into a plugin type costs its Validate and nothing more.
func TestPluginTypeNoAlloc(t *testing.T) {
	v := value.StringValue("192.168.1.20")
	noAllocs(t, "Coerce into ip", func() { _, sinkErr = typeIP.Coerce(v) })
	noAllocs(t, "Coerce into String", func() { _, sinkErr = schema.TypeString.Coerce(v) })
}

// A plugin type changes schemas and mappings like its base type would,
// plus its validation.
func TestPluginTypeEvolution(t *testing.T) {
	withType := func(dt schema.FieldDataType) *schema.Registry {
		r := schema.NewRegistry()
		r.RegisterField(schema.FieldDef{Path: "source.ip", DataType: dt})
		r.RegisterEventType("network_connect")
		return r
	}
	ip, str := withType(typeIP), withType(schema.TypeString)
	if rep := schema.Compatible(ip, str); !rep.Compatible() || rep.Changes[0].Kind != schema.ChangeTypeWidened {
		t.Errorf("ip to String: %v", rep)
	}
	if rep := schema.Compatible(str, ip); rep.Compatible() || rep.Changes[0].Kind != schema.ChangeTypeNarrowed {
		t.Errorf("String to ip: %v", rep)
	}
	// A remote String field into a local ip field: each value validated.
	m, err := schema.NewMapping(str, ip, schema.MappingOptions{})
	if err != nil || len(m.Refusals()) != 0 {
		t.Fatalf("mapping: %v %v", err, m.Refusals())
	}
	var ev schema.Event
	ev.Type = 1
	_ = ev.Add(1, value.StringValue("not an address"))
	if err := m.Apply(&ev); err != nil || ev.NumFields() != 0 || m.Stats().DroppedFields != 1 {
		t.Errorf("invalid address kept: %v %d", err, ev.NumFields())
	}
	// The other way: ip values are Strings.
	m, _ = schema.NewMapping(ip, str, schema.MappingOptions{})
	ev.Reset()
	ev.Type = 1
	_ = ev.Add(1, value.StringValue("::1"))
	if err := m.Apply(&ev); err != nil || ev.NumFields() != 1 {
		t.Errorf("ip into String: %v %d", err, ev.NumFields())
	}
}

// A plugin type gives a field its own parsing, validation, order and
// patterns, while its values stay plain Strings in events and logs.
func ExampleRegisterType() {
	ip, err := schema.RegisterType(schema.TypeDef{
		Name: "ipaddr", // "ip" is taken in this test binary
		Base: schema.TypeString,
		Parse: func(s string) (value.Value, error) {
			a, err := netip.ParseAddr(s)
			return value.StringValue(a.String()), err
		},
		Validate: func(v value.Value) bool { s, _ := v.Str(); _, err := netip.ParseAddr(s); return err == nil },
		Match: func(v value.Value, cidr string) (bool, error) {
			p, err := netip.ParsePrefix(cidr)
			s, _ := v.Str()
			a, _ := netip.ParseAddr(s)
			return err == nil && p.Contains(a), err
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := schema.NewRegistry()
	reg.RegisterField(schema.FieldDef{Path: "destination.ip", DataType: ip})
	reg.RegisterEventType("network_connect")

	ev, err := schema.NewBuilder(reg).ID(1).TypeName("network_connect").
		Path("destination.ip", value.StringValue("10.1.2.3")).Build()
	fmt.Println(err)
	dst, _ := ev.Get(1)
	fmt.Println(ip.Match(dst, "10.0.0.0/8"))
	_, err = schema.NewBuilder(reg).ID(2).TypeName("network_connect").
		Path("destination.ip", value.StringValue("10.1.2")).Build()
	fmt.Println(err)
	// Output:
	// <nil>
	// true <nil>
	// schema: type mismatch: field destination.ip (id 1) is ipaddr, got String {"String":"10.1.2"}
}
