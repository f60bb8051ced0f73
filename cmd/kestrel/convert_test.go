package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The example log converted to each format, and back, runs to the same
// alerts; a bad record stops the conversion and leaves no output.
func TestConvert(t *testing.T) {
	dir := t.TempDir()
	_, want, _ := kestrel(t, "run", "-rules", exampleRules, "-log", exampleLog, "-q", "-partitions", "1")
	prev := exampleLog
	for _, name := range []string{"a.kbin", "b.jsonl.zst", "c.kpb", "d.jsonl", "e.kbin"} {
		out := filepath.Join(dir, name)
		code, _, stderr := kestrel(t, "convert", prev, out)
		if code != exitOK || !strings.Contains(stderr, "converted 27 events") {
			t.Fatalf("convert %s -> %s: %d\n%s", prev, name, code, stderr)
		}
		code, got, stderr := kestrel(t, "run", "-rules", exampleRules, "-log", out, "-q", "-partitions", "1")
		if code != exitOK || !slices.Equal(sortedLines(got), sortedLines(want)) {
			t.Fatalf("%s: %d alerts differ\n%s\n%s", name, code, got, stderr)
		}
		prev = out
	}
	bad := filepath.Join(dir, "bad.jsonl")
	writeFile(t, bad, "{not json\n")
	out := filepath.Join(dir, "never.kbin")
	if code, _, stderr := kestrel(t, "convert", bad, out); code != exitFail || !strings.Contains(stderr, bad) {
		t.Fatalf("bad log: %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed conversion left %s behind (%v)", out, err)
	}
	for _, args := range [][]string{{"convert"}, {"convert", exampleLog}, {"convert", exampleLog, exampleLog}} {
		if code, _, _ := kestrel(t, args...); code == exitOK {
			t.Errorf("%q succeeded", args)
		}
	}
}
