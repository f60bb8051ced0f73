package schema_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

// reg builds a registry from "path:Type[:description]" fields and "@name"
// event types, in ID order; "=id/version" names the schema.
func reg(t testing.TB, spec ...string) *schema.Registry {
	t.Helper()
	r := schema.NewRegistry()
	for _, s := range spec {
		switch {
		case strings.HasPrefix(s, "@"):
			if _, err := r.RegisterEventType(s[1:]); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(s, "="):
			var v uint32
			id, ver, _ := strings.Cut(s[1:], "/")
			fmt.Sscan(ver, &v)
			if err := r.SetSchema(id, v); err != nil {
				t.Fatal(err)
			}
		default:
			parts := strings.SplitN(s, ":", 3)
			def := schema.FieldDef{Path: parts[0]}
			if len(parts) > 1 {
				for dt := schema.TypeAny; dt <= schema.TypeStringArray; dt++ {
					if dt.String() == parts[1] {
						def.DataType = dt
					}
				}
			}
			if len(parts) > 2 {
				def.Description = parts[2]
			}
			if _, err := r.RegisterField(def); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

func TestCompatible(t *testing.T) {
	base := []string{"process.pid:I64", "process.name:String:name", "user.id:U64", "@process_exec", "@file_open"}
	f := func(name string, old, new []string, want ...schema.ChangeKind) {
		t.Helper()
		rep := schema.Compatible(reg(t, old...), reg(t, new...))
		var got []schema.ChangeKind
		for _, c := range rep.Changes {
			got = append(got, c.Kind)
			if c.Reason == "" {
				t.Errorf("%s: %v has no reason", name, c.Kind)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: changes %v, want %v\n%s", name, got, want, rep)
		}
		breaking := false
		for _, k := range want {
			breaking = breaking || k.Breaking()
		}
		if rep.Compatible() == breaking {
			t.Errorf("%s: Compatible() = %v with %v", name, rep.Compatible(), want)
		}
	}
	with := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }
	repl := func(i int, s string) []string { b := append([]string(nil), base...); b[i] = s; return b }

	// Compatible.
	f("same", base, base)
	f("field added", base, with("file.path:String"), schema.ChangeFieldAdded)
	f("field added under a group", base, with("process.parent.pid:I64"), schema.ChangeFieldAdded)
	f("event type added", base, with("@network_connect"), schema.ChangeEventTypeAdded)
	f("widened to Any", base, repl(2, "user.id:Any"), schema.ChangeTypeWidened)
	f("String to Array<String>", base, repl(1, "process.name:Array<String>:name"), schema.ChangeTypeWidened)
	f("description", base, repl(1, "process.name:String:base name"), schema.ChangeDescription)
	f("version raised", with("=kestrel/1"), with("=kestrel/2"), schema.ChangeVersionRaised)
	f("version set", base, with("=kestrel/1"), schema.ChangeVersionRaised)
	f("id set", base, with("=kestrel/0"))
	f("from empty", nil, base, schema.ChangeFieldAdded, schema.ChangeFieldAdded, schema.ChangeFieldAdded,
		schema.ChangeEventTypeAdded, schema.ChangeEventTypeAdded)

	// Breaking.
	f("first field removed", base, base[1:], schema.ChangeFieldIDReused, schema.ChangeFieldRemoved,
		schema.ChangeFieldIDReused, schema.ChangeFieldRenumbered, schema.ChangeFieldRenumbered)
	f("last field removed", base, []string{"process.pid:I64", "process.name:String:name", "@process_exec", "@file_open"},
		schema.ChangeFieldRemoved)
	f("id reused", base, repl(2, "user.name:String"), schema.ChangeFieldIDReused, schema.ChangeFieldRemoved)
	f("renumbered", base, []string{"process.name:String:name", "process.pid:I64", "user.id:U64", "@process_exec", "@file_open"},
		schema.ChangeFieldIDReused, schema.ChangeFieldRenumbered, schema.ChangeFieldIDReused, schema.ChangeFieldRenumbered)
	f("narrowed from Any", repl(2, "user.id:Any"), base, schema.ChangeTypeNarrowed)
	f("I64 to U64", base, repl(0, "process.pid:U64"), schema.ChangeTypeNarrowed)
	f("I64 to F64 (exact only to 2^53)", base, repl(0, "process.pid:F64"), schema.ChangeTypeNarrowed)
	f("String to Bytes", base, repl(1, "process.name:Bytes:name"), schema.ChangeTypeNarrowed)
	f("Array<String> to String", repl(1, "process.name:Array<String>:name"), base, schema.ChangeTypeNarrowed)
	f("field to group", base, repl(2, "user.id.value:U64"), schema.ChangeFieldIDReused, schema.ChangeFieldToGroup)
	f("event type removed", base, base[:4], schema.ChangeEventTypeRemoved)
	f("event type id reused", base, repl(4, "@network_connect"), schema.ChangeEventTypeIDReused, schema.ChangeEventTypeRemoved)
	f("event types swapped", base, append(base[:3:3], "@file_open", "@process_exec"),
		schema.ChangeEventTypeIDReused, schema.ChangeEventTypeRenumbered, schema.ChangeEventTypeIDReused, schema.ChangeEventTypeRenumbered)
	f("version lowered", with("=kestrel/3"), with("=kestrel/2"), schema.ChangeVersionLowered)
	f("another schema", with("=kestrel/1"), with("=vendor.acme/1"), schema.ChangeSchemaID)
	f("nil new", base, nil, schema.ChangeFieldRemoved, schema.ChangeFieldRemoved, schema.ChangeFieldRemoved,
		schema.ChangeEventTypeRemoved, schema.ChangeEventTypeRemoved)
}

func TestChangeReasons(t *testing.T) {
	rep := schema.Compatible(reg(t, "a:I64", "b:String"), reg(t, "b:String", "a:I64"))
	want := []string{
		"breaking: field id reused: id 1 was a, now b: recorded events and compiled rules would read the wrong field",
		"breaking: field renumbered: a moved from id 1 to 2: logs recorded with the old id no longer reach it",
		"breaking: field id reused: id 2 was b, now a: recorded events and compiled rules would read the wrong field",
		"breaking: field renumbered: b moved from id 2 to 1: logs recorded with the old id no longer reach it",
	}
	if got := rep.String(); got != strings.Join(want, "\n") {
		t.Errorf("report:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if got := schema.Compatible(nil, nil).String(); got != "no changes" {
		t.Errorf("empty report %q", got)
	}
	if s := schema.ChangeKind(200).String(); s != "ChangeKind(200)" {
		t.Errorf("unknown kind %q", s)
	}
}

func TestEvolve(t *testing.T) {
	r := reg(t, "process.pid:I64", "user.id:U64:uid", "@process_exec", "=kestrel/1")
	v0 := r.Version()
	next := reg(t, "process.pid:I64", "user.id:Any:user id", "process.parent.pid:I64", "@process_exec", "@file_open", "=kestrel/2")
	rep, err := r.Evolve(next)
	if err != nil || !rep.Compatible() {
		t.Fatalf("compatible Evolve: %v\n%s", err, rep)
	}
	if r.Version() != v0+1 {
		t.Errorf("Version %d, want one snapshot more than %d", r.Version(), v0)
	}
	if id, ok := r.FieldID("process.parent.pid"); !ok || id != 3 {
		t.Errorf("new field: id %d %v", id, ok)
	}
	if !r.IsGroup("process.parent") {
		t.Error("process.parent is not a group after Evolve")
	}
	if f, _ := r.Field(2); f.DataType != schema.TypeAny || f.Description != "user id" {
		t.Errorf("widened field: %+v", f)
	}
	if id, ok := r.EventTypeID("file_open"); !ok || id != 2 {
		t.Errorf("new event type: %d %v", id, ok)
	}
	if r.SchemaID() != "kestrel" || r.SchemaVersion() != 2 {
		t.Errorf("identity %q %d", r.SchemaID(), r.SchemaVersion())
	}
	// The same again changes nothing and publishes nothing.
	v1 := r.Version()
	if rep, err := r.Evolve(next); err != nil || len(rep.Changes) != 0 || r.Version() != v1 {
		t.Errorf("idempotent Evolve: %v %v, version %d -> %d", rep, err, v1, r.Version())
	}

	// A breaking change is refused whole, with its report.
	bad := reg(t, "process.pid:U64", "user.id:Any:user id", "process.parent.pid:I64", "host.name:String", "@process_exec", "@file_open", "=kestrel/3")
	rep, err = r.Evolve(bad)
	var ie *schema.IncompatibleError
	if !errors.Is(err, schema.ErrIncompatible) || !errors.As(err, &ie) || len(ie.Report.Breaking()) != 1 {
		t.Fatalf("breaking Evolve: %v", err)
	}
	if !strings.Contains(err.Error(), "process.pid (id 1): I64 to U64") || rep.Compatible() {
		t.Errorf("error %q", err)
	}
	if _, ok := r.FieldID("host.name"); ok || r.Version() != v1 || r.SchemaVersion() != 2 {
		t.Error("a refused Evolve changed the registry")
	}
}

// Evolve publishes one snapshot: a reader sees all of a reload or none.
func TestEvolveAtomic(t *testing.T) {
	r := reg(t, "a:I64")
	next := reg(t, "a:I64", "b:I64", "c:I64", "d:I64")
	var wg sync.WaitGroup
	wg.Add(1)
	stop := make(chan struct{})
	var torn bool
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := r.NumFields(); n != 1 && n != 4 {
				torn = true
			}
		}
	}()
	if _, err := r.Evolve(next); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if torn || r.NumFields() != 4 {
		t.Errorf("torn reload (NumFields %d)", r.NumFields())
	}
}

func TestSetSchema(t *testing.T) {
	var r schema.Registry
	if err := r.SetSchema("bad id", 1); !errors.Is(err, schema.ErrInvalidPath) {
		t.Errorf("bad id: %v", err)
	}
	if err := r.SetSchema("vendor.acme", 7); err != nil || r.SchemaID() != "vendor.acme" || r.SchemaVersion() != 7 {
		t.Errorf("SetSchema: %v %q %d", err, r.SchemaID(), r.SchemaVersion())
	}
}

// Compatible tells a schema that may replace another from one that breaks
// it; Evolve applies only the former.
func ExampleCompatible() {
	old := schema.NewRegistry()
	old.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	old.RegisterField(schema.FieldDef{Path: "user.id", DataType: schema.TypeU64})
	old.SetSchema("kestrel", 1)

	next := schema.NewRegistry()
	next.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeI64})
	next.RegisterField(schema.FieldDef{Path: "user.id", DataType: schema.TypeAny})
	next.RegisterField(schema.FieldDef{Path: "file.path", DataType: schema.TypeString})
	next.SetSchema("kestrel", 2)

	rep := schema.Compatible(old, next)
	fmt.Println(rep)
	fmt.Println(rep.Compatible())
	_, err := next.Evolve(old) // going back would remove file.path
	fmt.Println(err)
	// Output:
	// ok: type widened: user.id (id 2): U64 to Any, which accepts every value
	// ok: field added: file.path (id 3) (String) is new
	// ok: version raised: version 1 to 2
	// true
	// schema: incompatible change: type narrowed: user.id (id 2): Any to U64, which does not accept every Any value (and 2 more)
}
