package schema_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

func parseFile(t *testing.T, src string) (*schema.Registry, error) {
	t.Helper()
	var f schema.File
	if err := json.Unmarshal([]byte(src), &f); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return f.Registry()
}

const dynFile = `{"id": "t", "version": 1,
 "fields": [{"path": "process.name", "type": "String"}, {"path": "kubernetes.audit.verb", "type": "String"}],
 "event_types": [{"name": "process"}],
 "dynamic": [{"prefix": "winlog", "description": "Windows event logs"},
             {"prefix": "kubernetes.audit"},
             {"prefix": "metrics", "type": "I64"}]}`

func TestFileDynamic(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	got := reg.Namespaces()
	want := []schema.Namespace{
		{Prefix: "winlog", DataType: schema.TypeAny, Description: "Windows event logs"},
		{Prefix: "kubernetes.audit", DataType: schema.TypeAny},
		{Prefix: "metrics", DataType: schema.TypeI64},
	}
	if len(got) != len(want) {
		t.Fatalf("Namespaces = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Namespaces[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// FileOf writes them back; the file reads again to the same namespaces.
	f := schema.FileOf(reg)
	if len(f.Dynamic) != 3 || f.Dynamic[2].Type != "I64" || f.Dynamic[0].Description != "Windows event logs" {
		t.Fatalf("FileOf(...).Dynamic = %+v", f.Dynamic)
	}
	if _, err := f.Registry(); err != nil {
		t.Fatalf("FileOf round trip: %v", err)
	}
	for _, c := range []struct {
		path string
		want bool
	}{
		{"winlog.event_data.LogonType", true}, {"winlog", false}, {"winlogx.a", false},
		{"kubernetes.audit.objectRef.resource", true}, {"kubernetes.audit", false}, {"kubernetes.other", false},
	} {
		if _, ok := reg.NamespaceOf(c.path); ok != c.want {
			t.Errorf("NamespaceOf(%q) = %v, want %v", c.path, ok, c.want)
		}
	}
}

func TestFileDynamicInvalid(t *testing.T) {
	for _, c := range []struct {
		name, dynamic string
		err           error
		where         string
	}{
		{"invalid prefix", `[{"prefix": "win log"}]`, schema.ErrInvalidPath, "dynamic[0]"},
		{"empty segment", `[{"prefix": "a..b"}]`, schema.ErrInvalidPath, "dynamic[0]"},
		{"empty prefix", `[{"prefix": ""}]`, schema.ErrInvalidPath, "dynamic[0]"},
		{"unknown type", `[{"prefix": "a", "type": "Nope"}]`, schema.ErrInvalidFile, "dynamic[0]"},
		{"a declared field", `[{"prefix": "process.name"}]`, schema.ErrPathConflict, "dynamic[0]"},
		{"under a declared field", `[{"prefix": "process.name.x"}]`, schema.ErrPathConflict, "dynamic[0]"},
		{"duplicate", `[{"prefix": "aws"}, {"prefix": "aws"}]`, schema.ErrDuplicateNamespace, "dynamic[1]"},
		{"nested below", `[{"prefix": "aws"}, {"prefix": "aws.cloudtrail"}]`, schema.ErrPathConflict, "dynamic[1]"},
		{"nested above", `[{"prefix": "aws.cloudtrail"}, {"prefix": "aws"}]`, schema.ErrPathConflict, "dynamic[1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFile(t, `{"fields": [{"path": "process.name"}], "event_types": [], "dynamic": `+c.dynamic+`}`)
			var fe *schema.FileError
			if !errors.As(err, &fe) || !errors.Is(err, c.err) || fe.Where != c.where {
				t.Fatalf("err = %v, want a *FileError at %s matching %v", err, c.where, c.err)
			}
		})
	}
	// A prefix that is a group of declared fields is allowed: they keep
	// their types.
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.RegisterDynamic("kubernetes.audit.verb")
	if def, _ := reg.Field(id); err != nil || def.DataType != schema.TypeString || def.Dynamic {
		t.Fatalf("declared field under a namespace: %+v, %v", def, err)
	}
}

func TestRegisterDynamic(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	n, v := reg.NumFields(), reg.Version()
	id, err := reg.RegisterDynamic("winlog.event_data.LogonType")
	if err != nil || int(id) != n+1 {
		t.Fatalf("RegisterDynamic = %d, %v; want %d", id, err, n+1)
	}
	if reg.Version() <= v {
		t.Errorf("Version %d did not rise past %d", reg.Version(), v)
	}
	def, _ := reg.Field(id)
	if def.Path != "winlog.event_data.LogonType" || def.DataType != schema.TypeAny || !def.Dynamic {
		t.Errorf("Field(%d) = %+v", id, def)
	}
	if again, err := reg.RegisterDynamic("winlog.event_data.LogonType"); err != nil || again != id {
		t.Errorf("second RegisterDynamic = %d, %v; want %d", again, err, id)
	}
	if id2, _ := reg.RegisterDynamic("metrics.cpu"); func() bool { d, _ := reg.Field(id2); return d.DataType != schema.TypeI64 }() {
		t.Errorf("metrics.cpu did not take its namespace's type")
	}
	// A declared field is returned as it is.
	if pid, err := reg.RegisterDynamic("process.name"); err != nil || pid != 1 {
		t.Errorf("RegisterDynamic(process.name) = %d, %v", pid, err)
	}
	for _, c := range []struct {
		path string
		err  error
	}{
		{"process.pid", schema.ErrUnknownField}, // not under a namespace
		{"winlog", schema.ErrUnknownField},      // the prefix itself
		{"winlog.event_data.Some Key", schema.ErrInvalidPath},
		{"winlog.event_data.LogonType.x", schema.ErrPathConflict},
		{"winlog.event_data", schema.ErrPathConflict},
	} {
		n := reg.NumFields()
		if id, err := reg.RegisterDynamic(c.path); !errors.Is(err, c.err) {
			t.Errorf("RegisterDynamic(%q) = %d, %v; want %v", c.path, id, err, c.err)
		}
		if reg.NumFields() != n {
			t.Errorf("RegisterDynamic(%q) failed but registered", c.path)
		}
	}
	// A declared field may not take a namespace's path.
	for _, p := range []string{"winlog", "kubernetes"} {
		if _, err := reg.RegisterField(schema.FieldDef{Path: p}); !errors.Is(err, schema.ErrPathConflict) {
			t.Errorf("RegisterField(%q) = %v, want ErrPathConflict", p, err)
		}
	}
}

// Concurrent first uses of the same paths get one ID each, while readers
// look them up (run with -race).
func TestRegisterDynamicConcurrent(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	base := reg.NumFields()
	const workers, paths = 8, 50
	ids := make([][]schema.FieldID, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < paths; i++ {
				p := "winlog.event_data.F" + strconv.Itoa((i+w)%paths)
				id, err := reg.RegisterDynamic(p)
				if err != nil {
					t.Error(err)
					return
				}
				if def, ok := reg.Field(id); !ok || def.Path != p {
					t.Errorf("Field(%d) = %+v, %v; want %s", id, def, ok, p)
				}
				ids[w] = append(ids[w], id)
			}
		}(w)
	}
	wg.Wait()
	if reg.NumFields() != base+paths {
		t.Fatalf("NumFields = %d, want %d", reg.NumFields(), base+paths)
	}
	for i := 0; i < paths; i++ {
		want, _ := reg.FieldID("winlog.event_data.F" + strconv.Itoa(i))
		for w := 0; w < workers; w++ {
			if got := ids[w][(i-w+paths)%paths]; got != want {
				t.Fatalf("worker %d got %d for F%d, want %d", w, got, i, want)
			}
		}
	}
}

// A registry that registered dynamic fields evolves to a new revision of
// its file: they keep their IDs, and the new file's namespaces apply.
func TestEvolveKeepsDynamicFields(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.RegisterDynamic("winlog.event_data.LogonType")
	if err != nil {
		t.Fatal(err)
	}
	next, err := parseFile(t, strings.Replace(dynFile, `{"prefix": "metrics", "type": "I64"}`, `{"prefix": "aws"}`, 1))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := reg.Evolve(next); err != nil {
		t.Fatalf("Evolve: %v\n%v", err, rep)
	}
	if got, ok := reg.FieldID("winlog.event_data.LogonType"); !ok || got != id {
		t.Errorf("after Evolve: FieldID = %d, %v; want %d", got, ok, id)
	}
	if _, ok := reg.NamespaceOf("aws.cloudtrail.x"); !ok {
		t.Error("after Evolve: the new file's namespace aws is missing")
	}
	if _, ok := reg.NamespaceOf("metrics.x"); ok {
		t.Error("after Evolve: the old file's namespace metrics is still there")
	}
	// A revision that declares a field at the dynamic field's ID clashes.
	clash, err := parseFile(t, strings.Replace(dynFile, `"type": "String"}],`, `"type": "String"}, {"path": "host.name"}],`, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Evolve(clash); !errors.Is(err, schema.ErrIncompatible) {
		t.Errorf("Evolve onto a declared field at a dynamic ID: %v, want ErrIncompatible", err)
	}
}

// A hand-written event names fields by path: those rules registered are
// read like any other; unknown ones under a namespace are skipped and
// counted; unknown ones elsewhere are errors, as before.
func TestDecodeDynamicPaths(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.RegisterDynamic("winlog.event_data.LogonType")
	if err != nil {
		t.Fatal(err)
	}
	d := schema.Decoder{Registry: reg}
	var ev schema.Event
	line := `{"event_id":1,"event_type":"process","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{` +
		`"process.name":"svchost.exe","winlog.event_data.LogonType":"3","winlog.event_data.Other":[1,"a"],"winlog.computer_name":"dc1"}}`
	if err := d.DecodeString(line, &ev); err != nil {
		t.Fatal(err)
	}
	if v, ok := ev.Get(id); !ok || !v.Equal(value.StringValue("3")) {
		t.Errorf("LogonType = %v, %v", v, ok)
	}
	if ev.NumFields() != 2 || d.Skipped() != 2 {
		t.Errorf("%d fields, %d skipped; want 2, 2", ev.NumFields(), d.Skipped())
	}
	if reg.NumFields() != 3 {
		t.Errorf("decoding registered fields: NumFields %d", reg.NumFields())
	}
	for _, bad := range []string{`"process.pid":1`, `"winlog.event_data.Some Key":1`, `"winlog":1`} {
		line := `{"event_id":1,"event_type":"process","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{` + bad + `}}`
		if err := d.DecodeString(line, &ev); !errors.Is(err, schema.ErrUnknownField) {
			t.Errorf("%s: %v, want ErrUnknownField", bad, err)
		}
	}
	// A known path, dynamic or declared, decodes as before: what it
	// allocates does not depend on the namespace.
	known := `{"event_id":1,"event_type":"process","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"winlog.event_data.LogonType":3}}`
	noAllocs(t, "Decode, a dynamic field by path", func() {
		if err := d.DecodeString(known, &ev); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNamespaceOfNoAlloc(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RegisterDynamic("winlog.event_data.LogonType"); err != nil {
		t.Fatal(err)
	}
	noAllocs(t, "NamespaceOf", func() { _, sinkOK = reg.NamespaceOf("kubernetes.audit.objectRef.name") })
	noAllocs(t, "RegisterDynamic, registered", func() { sinkID, _ = reg.RegisterDynamic("winlog.event_data.LogonType") })
}

// A dynamic field's ID means nothing outside the registry that handed it
// out, so a line naming it by ID is refused, on both decoding paths.
func TestDecodeDynamicByIDRefused(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.RegisterDynamic("winlog.event_data.LogonType")
	if err != nil {
		t.Fatal(err)
	}
	for _, slow := range []bool{false, true} {
		d := schema.Decoder{Registry: reg, NoFastPath: slow}
		var ev schema.Event
		line := `{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"` + strconv.Itoa(int(id)) + `":{"String":"3"}}}`
		if err := d.DecodeString(line, &ev); !errors.Is(err, schema.ErrUnknownField) || !strings.Contains(err.Error(), "name it by path") {
			t.Errorf("NoFastPath %v: %v, want ErrUnknownField", slow, err)
		}
		// Without a registry the wire form is read as it is.
		var plain schema.Decoder
		if err := plain.DecodeString(line, &ev); err != nil {
			t.Errorf("without a registry: %v", err)
		}
	}
}

// FileOf pins dynamic fields: the file it writes declares them at their
// IDs, so a registry read from it gives them the same IDs in any process.
func TestFileOfPinsDynamicFields(t *testing.T) {
	reg, err := parseFile(t, dynFile)
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.RegisterDynamic("kubernetes.audit.objectRef.resource")
	if err != nil {
		t.Fatal(err)
	}
	f := schema.FileOf(reg)
	pinned, err := f.Registry()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := pinned.FieldID("kubernetes.audit.objectRef.resource")
	if def, _ := pinned.Field(got); !ok || got != id || def.Dynamic {
		t.Errorf("pinned: id %d (want %d), %+v", got, id, def)
	}
	if rep := schema.Compatible(reg, pinned); !rep.Compatible() {
		t.Errorf("pinned file incompatible with its registry:\n%v", rep)
	}
}
