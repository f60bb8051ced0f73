package rule_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// netaddrReg is a schema with peer.addr of a plugin type "netaddr" (an
// address in canonical text), registered once per test binary.
var netaddrReg = func() *schema.Registry {
	t, err := schema.RegisterType(schema.TypeDef{
		Name: "netaddr",
		Base: schema.TypeString,
		Parse: func(s string) (value.Value, error) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return value.Value{}, err
			}
			return value.StringValue(a.String()), nil
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
	})
	if err != nil {
		panic(err) // test set-up
	}
	reg := schema.NewRegistry()
	reg.RegisterField(schema.FieldDef{Path: "peer.addr", DataType: t})
	reg.RegisterField(schema.FieldDef{Path: "peer.port", DataType: schema.TypeU64})
	reg.RegisterEventType("network_connect")
	return reg
}()

// Literals compared with a field of a plugin type are read by the type's
// Parse; the field keeps the plugin type beside its base type.
func TestResolvePluginType(t *testing.T) {
	q, err := rule.Compile("r.eql", `network where peer.addr == "2001:0db8::0:1" and peer.addr in ("10.0.0.1", null)
		and peer.addr >= "10.0.0.0" and cidrMatch(peer.addr, "10.0.0.0/8") and peer.addr : "10.*"`, netaddrReg)
	if err != nil {
		t.Fatal(err)
	}
	terms := q.Steps[0].Cond.(*rule.BinaryExpr).Terms()
	cmp := terms[0].(*rule.CompareExpr)
	if s, _ := cmp.Value.Value.Str(); s != "2001:db8::1" || cmp.Field.Type != schema.TypeString || cmp.Field.Plugin.String() != "netaddr" {
		t.Errorf("== literal %q, field type %v, plugin %v", s, cmp.Field.Type, cmp.Field.Plugin)
	}
	if in := terms[1].(*rule.InExpr); !in.Values[1].Value.IsNull() {
		t.Errorf("in keeps null: %v", in.Values[1].Value)
	}
	if m := terms[3].(*rule.MatchExpr); len(m.Matchers) != 0 {
		t.Errorf("cidrMatch on a type with Match compiled %d built-in matchers", len(m.Matchers))
	}
	if m := terms[4].(*rule.MatchExpr); len(m.Matchers) != 1 {
		t.Errorf("a wildcard on the base string: %d matchers", len(m.Matchers))
	}
	// Re-resolved against a schema where the field is a plain string, the
	// plugin type goes.
	plain := schema.NewRegistry()
	plain.RegisterField(schema.FieldDef{Path: "peer.addr", DataType: schema.TypeString})
	plain.RegisterEventType("network_connect")
	q2, err := rule.Compile("r.eql", `network where peer.addr == "10.0.0.1"`, plain)
	if err != nil || q2.Steps[0].Cond.(*rule.CompareExpr).Field.Plugin != 0 {
		t.Errorf("plain string field: %v", err)
	}
}

func TestResolvePluginTypeErrors(t *testing.T) {
	f := func(src string, want error, part string) {
		t.Helper()
		_, err := rule.Compile("r.eql", src, netaddrReg)
		if !errors.Is(err, want) || !strings.Contains(err.Error(), part) {
			t.Errorf("%s: %v, want %v mentioning %q", src, err, want, part)
		}
	}
	f(`network where peer.addr == "nope"`, rule.ErrTypeMismatch, "not a valid netaddr value")
	f(`network where peer.addr == 7`, rule.ErrTypeMismatch, "not a valid netaddr value")
	f(`network where peer.addr in ("10.0.0.1", "x")`, rule.ErrTypeMismatch, `"x" is not a valid`)
	f(`network where peer.addr in~ ("10.0.0.1")`, rule.ErrTypeMismatch, "in~ folds case")
	f(`network where peer.addr < null`, rule.ErrTypeMismatch, "null can only be compared")
	f(`network where cidrMatch(peer.addr, "10.0.0.0/99")`, rule.ErrSyntax, "invalid netaddr pattern")
}
