package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	ecsExample       = exampleDir + "/ecs"
	ecsExampleGolden = ecsExample + "/alerts.golden.jsonl"
)

// TestImportElasticEndToEnd converts a folder of Elastic-style TOML rules,
// loads what converted against ECS and runs it over a log written by hand
// with field paths: the alerts are the golden ones of examples/ecs.
func TestImportElasticEndToEnd(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := kestrel(t, "import-elastic", "-out", out, "../../rule/testdata/elastic")
	if code != exitFail {
		t.Fatalf("a refused rule: exit %d, want %d\n%s\n%s", code, exitFail, stdout, stderr)
	}
	for _, want := range []string{
		"skipped: ../../rule/testdata/elastic/discovery_kuery_rule.toml: rule 6e5d4c3b-2a19-4807-b6a5-948372615041 (Account Discovery via whoami) skipped: type query, language kuery; only EQL rules convert",
		"skipped: ../../rule/testdata/elastic/ml_rare_process.toml: rule 9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d (Unusual Process) skipped: type machine_learning",
		"refused: ../../rule/testdata/elastic/defense_evasion_unknown_field.toml: rule b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e (Vendor Field Rule): ",
		"defense_evasion_unknown_field/rule.eql:1:15: unknown field vendor.acme.verdict",
		"5 files: 3 EQL rules, 2 loaded into " + out + ", 1 refused; 2 skipped (not EQL); 0 unreadable",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The refused package is gone: the folder loads as a whole.
	if code, _, stderr := kestrel(t, "validate", "-strict", out); code != exitOK {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}
	// The example's packages are these conversions, byte for byte.
	for _, name := range []string{"execution_shell_from_web_server", "command_and_control_download_then_connect"} {
		for _, f := range []string{"manifest.json", "rule.eql"} {
			got, err1 := os.ReadFile(filepath.Join(out, name, f))
			want, err2 := os.ReadFile(filepath.Join(ecsExample, "rules", name, f))
			if err1 != nil || err2 != nil || string(got) != string(want) {
				t.Errorf("%s/%s differs from the example's (%v, %v): kestrel import-elastic -out examples/ecs/rules examples/ecs/elastic rewrites it", name, f, err1, err2)
			}
		}
	}
	code, stdout, stderr = kestrel(t, "run", "-rules", out, "-log", ecsExample+"/events.jsonl", "-q")
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	got := sortedLines(stdout)
	if *update {
		if err := os.WriteFile(ecsExampleGolden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gb, err := os.ReadFile(ecsExampleGolden)
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedLines(string(gb)); !slices.Equal(got, want) || len(got) != 2 {
		t.Fatalf("alerts differ from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", ecsExampleGolden,
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, want := range []string{`"rule_id":"0f6b6f4e-7c1a-4a4e-9a57-1b2c3d4e5f60"`, `"event_ids":[1]`,
		`"rule_id":"3c1d2e4f-0a9b-4c8d-8e7f-6a5b4c3d2e1f"`, `"event_ids":[2,3]`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("alerts lack %s", want)
		}
	}
}

// A hand-written line with a bad value is refused with its file, line and
// field.
func TestRunHandWrittenErrors(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "bad.jsonl")
	writeFile(t, log, `{"event_id":1,"event_type":"process","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":1,"fields":{"process.name":"sh"}}
{"event_id":2,"event_type":"process","ts_mono_ns":2,"ts_wall_ns":2,"entity_key":1,"fields":{"process.pid":"forty-two"}}
`)
	code, _, stderr := kestrel(t, "run", "-rules", ecsExample+"/rules", "-log", log, "-q")
	if code != exitFail || !strings.Contains(stderr, "bad.jsonl:2:") || !strings.Contains(stderr, "fields.process.pid") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	writeFile(t, log, `{"event_id":1,"event_type":"proces","ts_mono_ns":1,"ts_wall_ns":1,"entity_key":1,"fields":{}}
`)
	code, _, stderr = kestrel(t, "run", "-rules", ecsExample+"/rules", "-log", log, "-q")
	if code != exitFail || !strings.Contains(stderr, "bad.jsonl:1:") || !strings.Contains(stderr, `event_type "proces": no such event type`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

// A log recorded under the original Kestrel schema (kestrel.ecs, where
// user.id is a U64) replays against ECS when -schemas holds
// schema/kestrel.json: fields map by path, and a uid the keyword field
// cannot take is dropped and counted, not misread.
func TestRunKestrelSchemaLog(t *testing.T) {
	dir := t.TempDir()
	schemas := filepath.Join(dir, "schemas")
	if err := os.MkdirAll(schemas, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../schema/kestrel.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(schemas, "kestrel.json"), string(b))
	log := filepath.Join(dir, "old.jsonl")
	writeFile(t, log, `{"magic":[75,69,83,84],"version":1,"schema_id":"kestrel.ecs","schema_version":1}
{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":1,"fields":{"4":{"String":"sh"},"8":{"U64":33},"22":{"String":"nginx"}}}
`)
	rules := filepath.Join(dir, "rules", "r")
	if err := os.MkdirAll(rules, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rules, "manifest.json"), `{"rule_id": "old-1", "rule_name": "old", "severity": "low"}`)
	writeFile(t, filepath.Join(rules, "rule.eql"), `process where process.name == "sh" and process.parent.name == "nginx" and user.id == null`)
	if code, _, stderr := kestrel(t, "run", "-rules", filepath.Dir(rules), "-log", log, "-q"); code != exitFail || !strings.Contains(stderr, `"kestrel.ecs"`) {
		t.Fatalf("without -schemas: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := kestrel(t, "run", "-rules", filepath.Dir(rules), "-log", log, "-schemas", schemas, "-q")
	if code != exitOK || !strings.Contains(stdout, `"rule_id":"old-1"`) {
		t.Fatalf("with -schemas: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestImportElasticUsage(t *testing.T) {
	if code, _, stderr := kestrel(t, "import-elastic"); code != exitUsage || !strings.Contains(stderr, "usage: kestrel import-elastic") {
		t.Errorf("no arguments: exit %d %s", code, stderr)
	}
	if code, _, stderr := kestrel(t, "import-elastic", "-out", t.TempDir(), "missing.toml"); code != exitFail || !strings.Contains(stderr, "missing.toml") {
		t.Errorf("missing file: exit %d %s", code, stderr)
	}
	// Only skipped rules: nothing refused, exit 0.
	code, stdout, _ := kestrel(t, "import-elastic", "-q", "-out", t.TempDir(), "../../rule/testdata/elastic/ml_rare_process.toml")
	if code != exitOK || !strings.Contains(stdout, "1 files: 0 EQL rules, 0 loaded") || strings.Contains(stdout, "skipped:") {
		t.Errorf("skipped only: exit %d %s", code, stdout)
	}
}

// -alert-fields flat writes ECS-flat alert fields; a bad form is a usage
// error.
func TestRunAlertFieldsFlat(t *testing.T) {
	code, stdout, stderr := kestrel(t, "run", "-rules", ecsExample+"/rules", "-log", ecsExample+"/events.jsonl", "-q", "-alert-fields", "flat")
	if code != exitOK || !strings.Contains(stdout, `"fields":{"event.type":"start","process.parent.name":"nginx","process.name":"sh","user.id":"33"}`) ||
		!strings.Contains(stdout, `"step2.destination.port":8080`) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := kestrel(t, "run", "-rules", ecsExample+"/rules", "-log", ecsExample+"/events.jsonl", "-alert-fields", "xml"); code != exitUsage ||
		!strings.Contains(stderr, "-alert-fields") {
		t.Fatalf("bad form: exit %d\n%s", code, stderr)
	}
}
