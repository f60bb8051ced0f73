package rule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// schemaWith returns the default schema after edit, read back as a
// registry.
func schemaWith(t testing.TB, edit func(*schema.File)) *schema.Registry {
	t.Helper()
	sf := schema.ECSFile()
	edit(&sf)
	b, err := json.Marshal(sf)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := rule.ReadSchema("edited.json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestFieldsUsed(t *testing.T) {
	set, err := rule.LoadDir("testdata/pack", rule.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range set.FieldsUsed() {
		got[u.Path] = strings.Join(u.Rules, ",")
	}
	for path, want := range map[string]string{
		"process.entity_id": "exfil-001,lateral-001,privesc-001,ransomware-001,revshell-001",
		"network.dest_host": "exfil-001",
		"file.name":         "ransomware-001",
	} {
		if got[path] != want {
			t.Errorf("%s: used by %q, want %q", path, got[path], want)
		}
	}
}

func TestAffected(t *testing.T) {
	set, err := rule.LoadDir("testdata/pack", rule.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := rule.DefaultRegistry()
	// A compatible change affects no rule.
	next := schemaWith(t, func(sf *schema.File) {
		sf.Version++
		sf.Fields = append(sf.Fields, schema.FileField{Path: "vendor.acme.score", Type: "F64"})
	})
	if imp := set.Affected(schema.Compatible(old, next)); len(imp) != 0 {
		t.Errorf("compatible change affects %v", imp)
	}
	// Narrowing network.dest_host and dropping three event types reach
	// the rules that use them.
	next = schemaWith(t, func(sf *schema.File) {
		sf.Fields[39].Type = "Bytes"
		// network_accept, network_listen and network_dns gone: renamed
		// in place, so no later ID moves.
		for i := 10; i < 13; i++ {
			sf.EventTypes[i].Name = "gone" + sf.EventTypes[i].Name
		}
	})
	var got []string
	for _, imp := range set.Affected(schema.Compatible(old, next)) {
		got = append(got, imp.Rule+" "+imp.Path+" "+imp.Change.Kind.String())
	}
	want := "[exfil-001 network.dest_host type narrowed exfil-001 network_accept event type id reused " +
		"exfil-001 network_accept event type removed exfil-001 network_listen event type id reused"
	if s := fmt.Sprint(got); !strings.HasPrefix(s, want) {
		t.Errorf("affected:\n%s\nwant prefix\n%s", s, want)
	}
}

func TestSchemaFileVersion(t *testing.T) {
	reg, err := rule.ReadSchema("s.json", strings.NewReader(`{"id": "vendor.acme", "version": 4, "fields": [{"path": "a"}]}`))
	if err != nil || reg.SchemaID() != "vendor.acme" || reg.SchemaVersion() != 4 {
		t.Fatalf("versioned file: %v %q %d", err, reg.SchemaID(), reg.SchemaVersion())
	}
	// Without them: unnamed and unversioned, as before.
	reg, err = rule.ReadSchema("s.json", strings.NewReader(`{"fields": [{"path": "a"}]}`))
	if err != nil || reg.SchemaID() != "" || reg.SchemaVersion() != 0 {
		t.Fatalf("unversioned file: %v %q %d", err, reg.SchemaID(), reg.SchemaVersion())
	}
	if _, err := rule.ReadSchema("s.json", strings.NewReader(`{"id": "a b"}`)); err == nil || !strings.Contains(err.Error(), "id:") {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := rule.ReadSchema("s.json", strings.NewReader(`{"version": -1}`)); err == nil {
		t.Fatal("negative version read")
	}
	d := rule.DefaultRegistry()
	if d.SchemaID() != rule.DefaultSchemaID || d.SchemaVersion() != rule.DefaultSchemaVersion {
		t.Fatalf("default schema %q %d", d.SchemaID(), d.SchemaVersion())
	}
}

// Before a schema change ships, Affected names the rules it would break.
func ExampleSet_Affected() {
	set, err := rule.LoadDir("testdata/pack", rule.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sf := schema.ECSFile()
	sf.Fields[27].Type = "Bytes" // file.name
	b, _ := json.Marshal(sf)
	next, _ := rule.ReadSchema("next.json", bytes.NewReader(b))
	for _, imp := range set.Affected(schema.Compatible(rule.DefaultRegistry(), next)) {
		fmt.Println(imp.Rule, imp.Change)
	}
	// Output:
	// ransomware-001 breaking: type narrowed: file.name (id 28): String to Bytes, which does not accept every String value
}

// A schema file may declare a field of a plugin type; rules compare it as
// its base type.
func TestSchemaFilePluginType(t *testing.T) {
	if _, ok := schema.LookupType("ip"); !ok {
		if _, err := schema.RegisterType(schema.TypeDef{Name: "ip", Base: schema.TypeString,
			Parse: func(s string) (value.Value, error) { return value.StringValue(s), nil },
			Validate: func(v value.Value) bool {
				s, _ := v.Str()
				return strings.Count(s, ".") == 3 || strings.Contains(s, ":")
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := rule.ReadSchema("s.json", strings.NewReader(`{"fields": [{"path": "source.ip", "type": "ip"}], "event_types": [{"name": "network_connect"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := reg.Field(1)
	if def.DataType.String() != "ip" {
		t.Fatalf("source.ip is %v", def.DataType)
	}
	q, err := rule.Compile("r.eql", `network where source.ip == "10.0.0.1" or source.ip : "192.168.*"`, reg)
	if err != nil {
		t.Fatal(err)
	}
	if q.Steps[0].Fields()[0].Type != schema.TypeString {
		t.Errorf("rule sees %v", q.Steps[0].Fields()[0].Type)
	}
	if _, err := rule.ReadSchema("s.json", strings.NewReader(`{"fields": [{"path": "a", "type": "nope"}]}`)); err == nil {
		t.Error("unknown type read")
	}
}
