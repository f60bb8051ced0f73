package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// writeSchema writes the default schema after edit to dir/name.
func writeSchema(t *testing.T, dir, name string, edit func(*schema.File)) string {
	t.Helper()
	sf := schema.ECSFile()
	edit(&sf)
	b, err := json.Marshal(sf)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	writeFile(t, p, string(b))
	return p
}

func TestSchemaDiff(t *testing.T) {
	dir := t.TempDir()
	def := schema.ECSFile()
	nf, nt := len(def.Fields), len(def.EventTypes)
	last := def.Fields[nf-1].Path
	v2 := writeSchema(t, dir, "v2.json", func(sf *schema.File) {
		sf.Version = 2
		sf.Fields = append(sf.Fields, schema.FileField{Path: "vendor.acme.score", Type: "F64"})
		sf.EventTypes = append(sf.EventTypes, schema.FileEventType{Name: "module_load"})
	})
	code, stdout, stderr := kestrel(t, "schema", "diff", "default", v2)
	if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("ok: field added: vendor.acme.score (id %d) (F64) is new", nf+1)) ||
		!strings.Contains(stdout, fmt.Sprintf("ok: event type added: event type module_load (id %d) is new", nt+1)) ||
		!strings.Contains(stdout, "compatible: 3 changes") {
		t.Fatalf("compatible diff: %d\n%s\n%s", code, stdout, stderr)
	}

	v3 := writeSchema(t, dir, "v3.json", func(sf *schema.File) {
		sf.Version = 3
		sf.Fields[39].Type = "Bytes"                        // network.dest_host narrowed
		sf.Fields = sf.Fields[:len(sf.Fields)-1]            // the last field removed
		sf.Fields[2].Description = "path of the executable" // compatible
	})
	code, stdout, stderr = kestrel(t, "schema", "diff", "-rules", exampleRules, "default", v3)
	for _, want := range []string{
		"ok: description changed: process.executable (id 3)",
		"breaking: type narrowed: network.dest_host (id 40): String to Bytes",
		fmt.Sprintf("breaking: field removed: %s (id %d) is gone", last, nf),
		"ok: version raised: version 1 to 3",
		"rule exfil-001: network.dest_host: type narrowed",
		"incompatible: 2 breaking of 4 changes",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("breaking diff lacks %q", want)
		}
	}
	if code != exitFail || t.Failed() {
		t.Fatalf("breaking diff: %d\n%s\n%s", code, stdout, stderr)
	}
	// The other way round, the same: a removal is breaking.
	if code, _, _ := kestrel(t, "schema", "diff", v2, "default"); code != exitFail {
		t.Errorf("v2 to default: exit %d", code)
	}
	for _, args := range [][]string{{"schema", "diff"}, {"schema", "diff", "a"}, {"schema", "diff", "a", "b", "c"}, {"schema", "diff", "-x", "a", "b"}} {
		if code, _, _ := kestrel(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, stderr := kestrel(t, "schema", "diff", "default", filepath.Join(dir, "missing.json")); code != exitFail || !strings.Contains(stderr, "missing.json") {
		t.Errorf("missing file: %d %s", code, stderr)
	}
}

// A log recorded under another schema runs to the same alerts when
// -schemas holds that schema, and is refused without it.
func TestRunMappedLog(t *testing.T) {
	dir := t.TempDir()
	remoteFile := writeSchema(t, dir, "acme.json", func(sf *schema.File) {
		slices.Reverse(sf.Fields)
		slices.Reverse(sf.EventTypes)
		for i := range sf.Fields {
			sf.Fields[i].ID = 0
		}
		for i := range sf.EventTypes {
			sf.EventTypes[i].ID = 0
		}
		sf.ID, sf.Version = "acme.sensor", 2
	})
	remote, err := rule.LoadSchema(remoteFile)
	if err != nil {
		t.Fatal(err)
	}
	// The example log, rewritten into the remote schema's IDs.
	toRemote, err := schema.NewMapping(rule.DefaultRegistry(), remote, schema.MappingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := replay.Open(exampleLog)
	if err != nil {
		t.Fatal(err)
	}
	remoteLog := filepath.Join(t.TempDir(), "remote.kbin")
	w, err := replay.Create(remoteLog, replay.WriterOptions{SchemaID: "acme.sensor", SchemaVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	for {
		if err := rd.Next(&ev); err != nil {
			break
		}
		if err := toRemote.Apply(&ev); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(&ev); err != nil {
			t.Fatal(err)
		}
	}
	rd.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	code, want, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-q", "-partitions", "2")
	if code != exitOK || want == "" {
		t.Fatalf("example run: %d\n%s", code, stderr)
	}
	code, got, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", remoteLog, "-schemas", dir, "-partitions", "2")
	if code != exitOK || !strings.Contains(stderr, "schema: mapped from acme.sensor version 2: 0 events of unmapped types, 0 fields dropped") {
		t.Fatalf("mapped run: %d\n%s", code, stderr)
	}
	// Partitions emit in their own order: compare the alerts as sets.
	sorted := func(s string) string { l := strings.Split(s, "\n"); slices.Sort(l); return strings.Join(l, "\n") }
	if sorted(got) != sorted(want) || strings.Count(want, "\n") != 6 {
		t.Errorf("mapped alerts differ:\n%s\nwant:\n%s", got, want)
	}
	code, _, stderr = kestrel(t, "run", "-rules", exampleRules, "-log", remoteLog, "-q")
	if code != exitFail || !strings.Contains(stderr, `recorded under schema "acme.sensor" version 2`) {
		t.Errorf("unmapped run: %d\n%s", code, stderr)
	}
	code, _, stderr = kestrel(t, "run", "-rules", exampleRules, "-log", remoteLog, "-q", "-schemas", t.TempDir())
	if code != exitFail || !strings.Contains(stderr, `no schema file in`) {
		t.Errorf("schema not in -schemas: %d\n%s", code, stderr)
	}
}
