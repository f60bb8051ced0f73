package schema_test

import (
	"errors"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

func TestBuiltinSchemas(t *testing.T) {
	ecs, kes := schema.ECS(), schema.Kestrel()
	if ecs.SchemaID() != schema.ECSID || ecs.SchemaVersion() != schema.ECSVersion ||
		kes.SchemaID() != schema.KestrelID || kes.SchemaVersion() != schema.KestrelVersion {
		t.Fatalf("ids: %s/%d %s/%d", ecs.SchemaID(), ecs.SchemaVersion(), kes.SchemaID(), kes.SchemaVersion())
	}
	// ECS keeps the original's IDs and paths: logs without a schema id
	// read the same; only the ids ECS makes keywords, and process.args, an
	// array of strings in ECS (which takes the original's single string as
	// a one-element array), change type.
	retyped := map[string]bool{"user.id": true, "user.effective.id": true, "group.id": true, "process.args": true}
	for _, old := range kes.Fields() {
		id, _ := kes.FieldID(old.Path)
		now, ok := ecs.Field(id)
		if !ok || now.Path != old.Path {
			t.Errorf("id %d: ECS has %q, the original %q", id, now.Path, old.Path)
			continue
		}
		if (now.DataType != old.DataType) != retyped[old.Path] {
			t.Errorf("%s: %v in ECS, %v in the original", old.Path, now.DataType, old.DataType)
		}
	}
	for i := 1; i <= kes.NumFields()+1; i++ {
		a, _ := kes.EventTypeName(schema.EventTypeID(i))
		b, _ := ecs.EventTypeName(schema.EventTypeID(i))
		if a != "" && a != b {
			t.Errorf("event type %d: %q in ECS, %q in the original", i, b, a)
		}
	}
	// The file forms register to the same registries.
	for _, f := range []schema.File{schema.ECSFile(), schema.KestrelFile()} {
		reg, err := f.Registry()
		if err != nil {
			t.Fatal(err)
		}
		if reg.NumFields() != len(f.Fields) || len(schema.FileOf(reg).Fields) != len(f.Fields) {
			t.Fatalf("%s: %d fields, file %d", f.ID, reg.NumFields(), len(f.Fields))
		}
	}
	// A copy: changing it leaves the built-in alone.
	f := schema.ECSFile()
	f.Fields[0].Path = "changed"
	if schema.ECSFile().Fields[0].Path != "process.pid" {
		t.Fatal("ECSFile shares its fields")
	}
}

// TestECSTypes checks ECS field types: keyword String, long I64, boolean
// Bool, float F64, ip String, keyword arrays String (see ECSFile).
func TestECSTypes(t *testing.T) {
	reg := schema.ECS()
	f := func(path string, want schema.FieldDataType) {
		t.Helper()
		id, ok := reg.FieldID(path)
		if !ok {
			t.Errorf("%s: not in ECS", path)
			return
		}
		if d, _ := reg.Field(id); d.DataType != want {
			t.Errorf("%s: %v, want %v", path, d.DataType, want)
		}
	}
	f("process.name", schema.TypeString)
	f("process.pid", schema.TypeI64)
	f("process.parent.args", schema.TypeStringArray)
	f("process.args", schema.TypeStringArray)
	f("process.code_signature.trusted", schema.TypeBool)
	f("process.parent.code_signature.subject_name", schema.TypeString)
	f("user.id", schema.TypeString)
	f("group.id", schema.TypeString)
	f("source.ip", schema.TypeString)
	f("destination.port", schema.TypeU64) // the original's type, kept with its ID
	f("source.geo.country_iso_code", schema.TypeString)
	f("dll.code_signature.status", schema.TypeString)
	f("registry.data.strings", schema.TypeStringArray)
	f("file.pe.original_file_name", schema.TypeString)
	f("dns.question.name", schema.TypeString)
	f("host.os.type", schema.TypeString)
	f("event.category", schema.TypeStringArray)
	f("event.type", schema.TypeStringArray)
	f("event.risk_score", schema.TypeF64)
	f("process.entry_leader.entry_meta.type", schema.TypeString)
	for _, name := range []string{"process_exec", "file_open", "network_connect", "library", "driver", "dns",
		"registry", "iam", "configuration", "authentication", "api"} {
		if _, ok := reg.EventTypeID(name); !ok {
			t.Errorf("event type %s: not in ECS", name)
		}
	}
	if reg.IsGroup("process.args") {
		t.Error("process.args is a group")
	}
}

func TestFileErrors(t *testing.T) {
	f := func(file schema.File, sentinel error, where string) {
		t.Helper()
		_, err := file.Registry()
		var fe *schema.FileError
		if !errors.Is(err, sentinel) || !errors.As(err, &fe) || fe.Where != where {
			t.Errorf("%+v: %v", file, err)
		}
	}
	f(schema.File{Fields: []schema.FileField{{Path: "a", Type: "Int"}}}, schema.ErrInvalidFile, "fields[0]")
	f(schema.File{Fields: []schema.FileField{{ID: 2, Path: "a"}}}, schema.ErrInvalidFile, "fields[0]")
	f(schema.File{Fields: []schema.FileField{{Path: "a"}, {Path: "a"}}}, schema.ErrDuplicateField, "fields[1]")
	f(schema.File{Fields: []schema.FileField{{Path: "a b"}}}, schema.ErrInvalidPath, "fields[0]")
	f(schema.File{EventTypes: []schema.FileEventType{{Name: "x"}, {Name: "x"}}}, schema.ErrDuplicateEventType, "event_types[1]")
	f(schema.File{ID: "bad id"}, schema.ErrInvalidPath, "id")
	reg, err := (&schema.File{Fields: []schema.FileField{{Path: "k8s.annotations.authorization_k8s_io/decision", Type: "string"}}}).Registry()
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := reg.FieldID("k8s.annotations.authorization_k8s_io/decision"); !ok || id != 1 {
		t.Fatal("a path with / is not found")
	}
}
