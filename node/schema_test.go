package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// writeSchema writes the default schema, after edit, to path.
func writeSchema(t *testing.T, path string, edit func(*schema.File)) {
	t.Helper()
	sf := schema.ECSFile()
	edit(&sf)
	b, err := json.Marshal(sf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const seqByUser = `sequence by user.id [process where process.name == "a"] [process where process.name == "b"]`

// TestReloadSchemaCompatible: a schema file that adds a field, reloaded
// while events flow, is applied: a rule added with it, testing the new
// field, runs; the half-matched sequence of an unchanged rule completes
// after the reload.
func TestReloadSchemaCompatible(t *testing.T) {
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "schema.json")
	writeSchema(t, schemaPath, func(*schema.File) {})
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "ab", "ab-1", seqByUser)
	var out bytes.Buffer
	n, err := New(Config{RulesDir: rules, SchemaPath: schemaPath, Stdout: &out, Bus: engine.Config{Partitions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(n)
	mk := func(id uint64, name string, score float64) *schema.Event {
		b := schema.NewBuilder(n.Registry()).ID(id).TypeName("process_exec").Mono(schema.TimestampMono(id*uint64(time.Second))).
			Entity(schema.EntityKeyFrom64(id)).Path("user.id", value.StringValue("5")).Path("process.name", value.StringValue(name))
		if score > 0 {
			b.Path("vendor.acme.score", value.F64Value(score))
		}
		e, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return &e
	}
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		if err := in.Bus.Publish(mk(1, "a", 0)); err != nil {
			return err
		}
		for n.Stats().Detect.Partials < 1 {
			time.Sleep(time.Millisecond)
		}
		writeSchema(t, schemaPath, func(sf *schema.File) {
			sf.Version++
			sf.Fields = append(sf.Fields, schema.FileField{Path: "vendor.acme.score", Type: "F64"})
		})
		writeRule(t, rules, "score", "score-1", `process where vendor.acme.score > 0.5`)
		rep, err := n.ReloadSchemaFile()
		if err != nil || !rep.Compatible() || len(rep.Changes) != 2 {
			t.Errorf("reload: %v\n%s", err, rep)
		}
		return in.Bus.Publish(mk(2, "b", 0.9))
	})
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := n.Stats()
	if st.SchemaReloads != 1 || st.SchemaReloadFailures != 0 || st.Reloads != 1 || st.SchemaVersion != rule.DefaultSchemaVersion+1 {
		t.Fatalf("stats %+v", st)
	}
	alerts := map[string]uint64{}
	for _, r := range st.Detect.Rules {
		alerts[r.ID] = r.Alerts
	}
	if alerts["ab-1"] != 1 || alerts["score-1"] != 1 || st.Detect.Evicted.Reload != 0 {
		t.Fatalf("alerts %v, evicted %+v", alerts, st.Detect.Evicted)
	}
	mf := scrape(t, h)
	if v, ok := metric(mf, "kestrel_schema_reloads_total", "result", "ok"); !ok || v != 1 {
		t.Errorf("schema reloads in /metrics: %v %v", v, ok)
	}
	if _, ok := metric(mf, "kestrel_schema_info", "version", "2"); !ok {
		t.Errorf("no kestrel_schema_info of version 2")
	}

	// The same file again: no change, nothing recompiled.
	if rep, err := n.ReloadSchemaFile(); err != nil || len(rep.Changes) != 0 || n.Stats().SchemaReloads != 1 {
		t.Fatalf("unchanged: %v %s", err, rep)
	}
}

// TestReloadSchemaBreaking: a schema that removes a field, or narrows one,
// is refused with the report, naming the loaded rules that reference it;
// the schema and the rules stay as they were.
func TestReloadSchemaBreaking(t *testing.T) {
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "schema.json")
	writeSchema(t, schemaPath, func(*schema.File) {})
	rules := filepath.Join(dir, "rules")
	writeRule(t, rules, "ab", "ab-1", seqByUser)
	// The schema file numbers fields by position, so only its last field
	// can be removed: this rule reads it.
	def := schema.ECSFile()
	last := def.Fields[len(def.Fields)-1].Path
	writeRule(t, rules, "outcome", "outcome-1", `any where `+last+` != null`)
	writeRule(t, rules, "other", "other-1", `file where file.path == "/etc/shadow"`)
	n, err := New(Config{RulesDir: rules, SchemaPath: schemaPath, Bus: engine.Config{Partitions: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	version := n.Registry().Version()

	check := func(edit func(*schema.File), kind schema.ChangeKind, wantRules ...string) {
		t.Helper()
		writeSchema(t, schemaPath, edit)
		rep, err := n.ReloadSchemaFile()
		var se *SchemaError
		if !errors.Is(err, schema.ErrIncompatible) || !errors.As(err, &se) || se.Path != schemaPath || rep.Compatible() {
			t.Fatalf("reload: %v", err)
		}
		var got []string
		for _, im := range se.Affected {
			if im.Change.Kind == kind {
				got = append(got, im.Rule)
			}
		}
		if strings.Join(got, ",") != strings.Join(wantRules, ",") {
			t.Fatalf("affected %v, want %v (%+v)", got, wantRules, se.Affected)
		}
		for _, r := range wantRules {
			if !strings.Contains(err.Error(), r) {
				t.Errorf("the error does not name %s: %v", r, err)
			}
		}
	}
	check(func(sf *schema.File) { sf.Fields = sf.Fields[:len(sf.Fields)-1] }, schema.ChangeFieldRemoved, "outcome-1")
	check(func(sf *schema.File) {
		for i := range sf.Fields {
			if sf.Fields[i].Path == "user.id" {
				sf.Fields[i].Type = "Bytes"
			}
		}
	}, schema.ChangeTypeNarrowed, "ab-1")
	st := n.Stats()
	if st.SchemaReloadFailures != 2 || st.SchemaReloads != 0 || st.Reloads != 0 || n.Registry().Version() != version || len(st.Detect.Rules) != 3 {
		t.Fatalf("after refusals: %+v", st)
	}
	if _, ok := n.Registry().FieldID(last); !ok {
		t.Fatal("the refused schema was applied")
	}

	// A file that does not load is refused with where it is wrong.
	if err := os.WriteFile(schemaPath, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	var se *SchemaError
	if _, err := n.ReloadSchemaFile(); !errors.As(err, &se) || se.Path != schemaPath {
		t.Fatalf("bad file: %v", err)
	}
}

// TestReloadSchemaRules: a node given its rules (no RulesDir) recompiles
// them against a widened schema; the rule whose field was widened starts
// afresh (its partial match dropped, counted), the others keep theirs.
func TestReloadSchemaRules(t *testing.T) {
	reg := rule.DefaultRegistry()
	compile := func(id, src string) *rule.Package {
		q, err := rule.Compile(id+".eql", src, reg)
		if err != nil {
			t.Fatal(err)
		}
		return &rule.Package{Manifest: &rule.Manifest{RuleID: id, RuleName: id, Severity: schema.SeverityHigh}, Source: src, Query: q}
	}
	n, err := New(Config{Registry: reg, Stdout: &bytes.Buffer{}, Bus: engine.Config{Partitions: 1},
		Rules: []*rule.Package{compile("by-user", seqByUser),
			compile("by-name", `sequence by user.name [process where process.name == "a"] [process where process.name == "b"]`)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.ReloadSchemaFile(); !errors.Is(err, ErrNoSchemaFile) {
		t.Fatalf("no schema file: %v", err)
	}
	sf := schema.ECSFile()
	sf.Version++
	for i := range sf.Fields {
		if sf.Fields[i].Path == "user.id" {
			sf.Fields[i].Type = "Any"
		}
	}
	b, _ := json.Marshal(sf)
	widened, err := rule.ReadSchema("widened.json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id uint64, name string) *schema.Event {
		e, err := schema.NewBuilder(reg).ID(id).TypeName("process_exec").Mono(schema.TimestampMono(id)).
			Path("user.id", value.StringValue("5")).Path("user.name", value.StringValue("u")).Path("process.name", value.StringValue(name)).Build()
		if err != nil {
			t.Fatal(err)
		}
		return &e
	}
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		if err := in.Bus.Publish(mk(1, "a")); err != nil {
			return err
		}
		for n.Stats().Detect.Partials < 2 {
			time.Sleep(time.Millisecond)
		}
		if rep, err := n.ReloadSchema(widened); err != nil || len(rep.Changes) == 0 {
			t.Errorf("widen: %v %s", err, rep)
		}
		return in.Bus.Publish(mk(2, "b"))
	})
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := n.Stats()
	got := map[string]detect.RuleStats{}
	for _, r := range st.Detect.Rules {
		got[r.ID] = r
	}
	if u, m := got["by-user"], got["by-name"]; u.Alerts != 0 || u.Evicted.Reload != 1 || m.Alerts != 1 || m.Evicted.Total() != 0 {
		t.Fatalf("by-user %+v\nby-name %+v", u, m)
	}
	if f, _ := reg.FieldID("user.id"); func() bool { d, _ := reg.Field(f); return d.DataType != schema.TypeAny }() {
		t.Fatal("user.id not widened")
	}
}
