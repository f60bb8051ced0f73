package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

func TestDefaultRegistry(t *testing.T) {
	reg := DefaultRegistry()
	sf := schema.ECSFile()
	if reg.NumFields() != len(sf.Fields) {
		t.Fatalf("%d fields registered, want %d", reg.NumFields(), len(sf.Fields))
	}
	// Fixed IDs: these never change, recorded logs depend on them.
	fixed := map[string]schema.FieldID{"process.pid": 1, "process.executable": 3, "process.name": 4,
		"user.name": 7, "file.path": 9, "destination.port": 14, "host.name": 16, "process.entity_id": 17,
		"network.direction": 34, "network.dest_port": 39}
	for p, want := range fixed {
		if id, ok := reg.FieldID(p); !ok || id != want {
			t.Errorf("%s: id %d, want %d", p, id, want)
		}
	}
	types := map[string]schema.EventTypeID{"process_exec": 1, "file_open": 2, "network_connect": 3, "process_exit": 5}
	for n, want := range types {
		if id, ok := reg.EventTypeID(n); !ok || id != want {
			t.Errorf("%s: id %d, want %d", n, id, want)
		}
	}
	for i, f := range sf.Fields {
		id, ok := reg.FieldID(f.Path)
		if !ok || id != schema.FieldID(i+1) {
			t.Errorf("%s: id %d, want %d", f.Path, id, i+1)
		}
	}
}

func TestSchemaFileRoundTrip(t *testing.T) {
	b, err := json.Marshal(schema.ECSFile())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ReadSchema("schema.json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRegistry()
	if reg.NumFields() != want.NumFields() {
		t.Fatal("field count differs")
	}
	for _, f := range want.Fields() {
		id, _ := want.FieldID(f.Path)
		got, ok := reg.Field(id)
		if !ok || got != f {
			t.Fatalf("field %d: %+v, want %+v", id, got, f)
		}
	}
}

func TestReadSchemaErrors(t *testing.T) {
	f := func(src string, sentinel error, part string) {
		t.Helper()
		_, err := ReadSchema("s.json", strings.NewReader(src))
		if !errors.Is(err, sentinel) || !errors.Is(err, ErrSchemaFile) || !strings.Contains(err.Error(), part) {
			t.Fatalf("%s: %v", src, err)
		}
	}
	f(`{"fields": [{"path": "a", "type": "Int"}]}`, ErrSchemaFile, `unknown type "Int"`)
	f(`{"fields": [{"id": 2, "path": "a"}]}`, ErrSchemaFile, "does not match its position")
	f(`{"fields": [{"path": "a"}, {"path": "a"}]}`, schema.ErrDuplicateField, "fields[1]")
	f(`{"fields": [{"path": "a..b"}]}`, schema.ErrInvalidPath, "fields[0]")
	f(`{"event_types": [{"name": "x"}, {"name": "x"}]}`, schema.ErrDuplicateEventType, "event_types[1]")
	f(`{"event_types": [{"id": 3, "name": "x"}]}`, ErrSchemaFile, "does not match")
	f(`{"fields": [], "extra": 1}`, ErrSchemaFile, "extra")
	f("{\n\"fields\": [,]}", ErrSchemaFile, "s.json:2:12")

	reg, err := ReadSchema("s.json", strings.NewReader(`{"fields": [{"path": "x.y", "type": "u64"}], "event_types": [{"name": "ev"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := reg.Field(1); !ok || d.DataType != schema.TypeU64 {
		t.Fatalf("%+v", d)
	}
	if _, err := LoadSchema("testdata/missing.json"); !errors.Is(err, ErrSchemaFile) {
		t.Fatal(err)
	}
}
