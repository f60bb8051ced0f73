package sink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end in a newline", path)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func TestFileDestinationAppendsWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	for round := range 2 { // the second round appends to the first's file
		d, err := NewFileDestination(FileConfig{Path: path, Sync: SyncAlways})
		if err != nil {
			t.Fatal(err)
		}
		if d.Name() != path {
			t.Errorf("Name %q", d.Name())
		}
		if err := d.Send(context.Background(), []*Alert{testAlert(2 * round), testAlert(2*round + 1)}); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	lines := readLines(t, path)
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		if !bytes.Equal(l, testAlert(i).AppendJSON(nil)) {
			t.Errorf("line %d: %s", i, l)
		}
	}
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	line := len(testAlert(0).AppendJSON(nil)) + 1
	// Room for 3 lines per file, 2 backups.
	d, err := NewFileDestination(FileConfig{Path: path, MaxBytes: int64(3*line + line/2), MaxBackups: 2, Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i += 4 { // 12 alerts, batches of 4
		batch := []*Alert{testAlert(i), testAlert(i + 1), testAlert(i + 2), testAlert(i + 3)}
		if err := d.Send(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// 12 lines, 3 a file: a.jsonl.3 would hold 0-2 but only 2 backups
	// are kept, so 3-5 in .2, 6-8 in .1, 9-11 current.
	want := map[string][]int{"a.jsonl.2": {3, 4, 5}, "a.jsonl.1": {6, 7, 8}, "a.jsonl": {9, 10, 11}}
	for name, ids := range want {
		lines := readLines(t, filepath.Join(dir, name))
		if len(lines) != len(ids) {
			t.Fatalf("%s: %d lines, want %d", name, len(lines), len(ids))
		}
		for k, i := range ids {
			if !bytes.Equal(lines[k], testAlert(i).AppendJSON(nil)) {
				t.Errorf("%s line %d is not alert %d", name, k, i)
			}
		}
		st, _ := os.Stat(filepath.Join(dir, name))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", name, st.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a.jsonl.3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a third backup exists: %v", err)
	}
}

func TestFileRotationOversizedLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	d, err := NewFileDestination(FileConfig{Path: path, MaxBytes: 10, Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range 3 {
		if err := d.Send(context.Background(), []*Alert{testAlert(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Each line alone in its file.
	for i, name := range []string{"a.jsonl.2", "a.jsonl.1", "a.jsonl"} {
		if lines := readLines(t, filepath.Join(dir, name)); len(lines) != 1 || !bytes.Equal(lines[0], testAlert(i).AppendJSON(nil)) {
			t.Errorf("%s: %q", name, lines)
		}
	}
}

func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	d, err := NewFileDestination(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	send := func(i int) {
		t.Helper()
		if err := d.Send(context.Background(), []*Alert{testAlert(i)}); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	// logrotate moves the file away, then asks for a reopen.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	send(1) // still into the moved file
	if err := d.Reopen(); err != nil {
		t.Fatal(err)
	}
	send(2)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path+".old")); n != 2 {
		t.Errorf("old file: %d lines", n)
	}
	if l := readLines(t, path); len(l) != 1 || !bytes.Equal(l[0], testAlert(2).AppendJSON(nil)) {
		t.Errorf("new file: %q", l)
	}
	if err := d.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reopen after Close = %v", err)
	}
	if err := d.Send(context.Background(), []*Alert{testAlert(3)}); !IsPermanent(err) {
		t.Errorf("Send after Close = %v", err)
	}
}

// TestFileWriteFailureRetries: a failed write leaves no partial line and
// the next attempt reopens the file.
func TestFileWriteFailureRetries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	d, err := NewFileDestination(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Break the handle under the destination.
	d.mu.Lock()
	_ = d.f.Close()
	d.mu.Unlock()
	err = d.Send(context.Background(), []*Alert{testAlert(0)})
	if err == nil || IsPermanent(err) {
		t.Fatalf("Send on a broken handle = %v, want a transient error", err)
	}
	if err := d.Send(context.Background(), []*Alert{testAlert(0)}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(readLines(t, path)); n != 1 {
		t.Errorf("%d lines", n)
	}
}

func TestFileIntervalSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	d, err := NewFileDestination(FileConfig{Path: path, SyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := d.Send(context.Background(), []*Alert{testAlert(i)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the interval fsync", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return !d.dirty && !d.armed
		})
	}
	// Close with a timer pending waits for it or stops it: goleak checks.
	if err := d.Send(context.Background(), []*Alert{testAlert(5)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFileConfigValidate(t *testing.T) {
	for i, c := range []FileConfig{
		{},
		{Path: "x", MaxBytes: -1},
		{Path: "x", MaxBackups: -1},
		{Path: "x", Sync: 9},
		{Path: "x", SyncInterval: -1},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%d: %v", i, err)
		}
	}
	if _, err := NewFileDestination(FileConfig{Path: filepath.Join(t.TempDir(), "no", "dir")}); err == nil {
		t.Error("missing directory accepted")
	}
	for p, s := range map[SyncPolicy]string{SyncInterval: "interval", SyncAlways: "always", SyncNever: "never", 7: "sync(7)"} {
		if p.String() != s {
			t.Errorf("%d: %s", p, p.String())
		}
	}
}

// TestFileThroughOutput: the file destination behind an Output, flushed
// by Close.
func TestFileThroughOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	d, err := NewFileDestination(FileConfig{Path: path, MaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Batch: BatchConfig{MaxWait: time.Hour}}}})
	const n = 100
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := 5; i >= 0; i-- {
		name := path
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		if _, err := os.Stat(name); err == nil {
			total += len(readLines(t, name))
		}
	}
	// 5 backups of ~4 KiB hold only part of 100 alerts; the rest were
	// rotated away (that is the configuration's choice, not a loss).
	if s := o.Stats().Destinations[0]; s.Delivered != n || total == 0 {
		t.Errorf("delivered %d, %d lines on disk", s.Delivered, total)
	}
}

// TestFileRotationFailure: alerts written before a failed rotation are
// delivered; the rest are handed back for retry, and nothing is lost.
func TestFileRotationFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	// A non-empty directory where the backup must go makes the rename fail.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := len(testAlert(0).AppendJSON(nil)) + 1
	d, err := NewFileDestination(FileConfig{Path: path, MaxBytes: int64(2*line + line/2), MaxBackups: 1, Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Send(context.Background(), []*Alert{testAlert(0), testAlert(1), testAlert(2), testAlert(3)})
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Rejected) != 0 || len(pe.Retry) != 2 || pe.Retry[0] != 2 || pe.Retry[1] != 3 {
		t.Fatalf("Send = %v", err)
	}
	if n := len(readLines(t, path)); n != 2 {
		t.Errorf("%d lines written before the failed rotation, want 2", n)
	}
}
