package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
)

// recorder is a Publisher that handles each event at once, on the
// publishing goroutine, keeping each partition's events in order, as a bus
// with one worker per partition would deliver them.
type recorder struct {
	parts   [][]string
	clock   clock.Clock
	onEvent func(ev *schema.Event) error // may refuse an event
	seen    []uint64                     // the clock at each event
}

func newRecorder(parts int) *recorder { return &recorder{parts: make([][]string, parts)} }

func (r *recorder) Publish(ev *schema.Event) error {
	if r.onEvent != nil {
		if err := r.onEvent(ev); err != nil {
			return err
		}
	}
	if r.clock != nil {
		r.seen = append(r.seen, r.clock.NowMono())
	}
	b := ev.Entity.Bytes()
	p := xxh3.Hash(b[:]) % uint64(len(r.parts))
	r.parts[p] = append(r.parts[p], string(ev.AppendJSON(nil)))
	return nil
}

// writeLog writes evs to dir/name (format by extension) and returns the path.
func writeLog(tb testing.TB, dir, name string, evs []schema.Event) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	w, err := Create(path, WriterOptions{BlockEvents: 256})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// timeless zeroes the fields of Stats that depend on real time.
func timeless(s Stats) Stats {
	s.Duration, s.EventsPerSec = 0, 0
	return s
}

func TestReplayDeterministic(t *testing.T) {
	n := 5000
	if testing.Short() || raceEnabled {
		n = 1500
	}
	evs := demo.GenerateEvents(11, n, nil)
	dir := t.TempDir()
	for _, name := range []string{"a.jsonl", "a.jsonl.zst", "a.kbin"} {
		path := writeLog(t, dir, name, evs)
		var first *recorder
		for run := range 3 {
			rec := newRecorder(4)
			rp, err := New(rec, Config{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := rp.Replay(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Published != int64(len(evs)) {
				t.Fatalf("%s: published %d of %d", name, st.Published, len(evs))
			}
			if run == 0 {
				first = rec
				continue
			}
			if !reflect.DeepEqual(rec.parts, first.parts) {
				t.Fatalf("%s: run %d delivered a different per-partition order", name, run)
			}
		}
	}
}

func TestReplayMultipleTimes(t *testing.T) {
	evs := variedEvents(t)
	evs = append(evs, demo.GenerateEvents(12, 500, nil)...)
	path := writeLog(t, t.TempDir(), "m.kbin", evs)
	clk := clock.New()
	var firstStats Stats
	var firstOut [][]string
	for run := range 10 {
		rec := newRecorder(3)
		rp, err := New(rec, Config{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		st, err := rp.Replay(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			firstStats, firstOut = timeless(st), rec.parts
			if st.OutOfOrder == 0 || st.Events != int64(len(evs)) || st.Lines != int64(len(evs)) {
				t.Fatalf("stats %+v", st)
			}
			continue
		}
		if !reflect.DeepEqual(timeless(st), firstStats) {
			t.Fatalf("run %d: stats %+v, want %+v", run, timeless(st), firstStats)
		}
		if !reflect.DeepEqual(rec.parts, firstOut) {
			t.Fatalf("run %d: different output", run)
		}
	}
}

func TestReplayWithTimeSync(t *testing.T) {
	evs := variedEvents(t) // holds an event older than the one before
	evs = append(evs, demo.GenerateEvents(13, 300, nil)...)
	path := writeLog(t, t.TempDir(), "s.jsonl", evs)
	clk := clock.New()
	rec := newRecorder(1)
	rec.clock = clk
	rp, err := New(rec, Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	st, err := rp.Replay(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	now := uint64(0)
	ooo := 0
	for i, ev := range evs {
		ts := uint64(ev.TsMono)
		if i == 0 || ts >= now {
			now = ts
		} else {
			ooo++
		}
		if rec.seen[i] != now {
			t.Fatalf("event %d (ts %d): the handler saw the clock at %d, want %d", i, ts, rec.seen[i], now)
		}
	}
	if st.OutOfOrder != int64(ooo) || ooo == 0 {
		t.Errorf("out of order %d, want %d (> 0)", st.OutOfOrder, ooo)
	}
	if !clk.IsMock() || clk.NowMono() != st.LastTs || st.FirstTs != uint64(evs[0].TsMono) {
		t.Errorf("clock %d, stats first %d last %d", clk.NowMono(), st.FirstTs, st.LastTs)
	}
}

// fakeWall is a real-time clock for pacing tests: it moves only when the
// replay sleeps.
type fakeWall struct {
	now    atomic.Uint64
	sleeps atomic.Int64
}

func (f *fakeWall) NowMono() uint64 { return f.now.Load() }

func (f *fakeWall) Sleep(ctx context.Context, d time.Duration) error {
	f.sleeps.Add(1)
	f.now.Add(uint64(d))
	return ctx.Err()
}

func TestReplayPacing(t *testing.T) {
	evs := demo.GenerateEvents(14, 2000, nil)
	path := writeLog(t, t.TempDir(), "p.kbin", evs)
	span := time.Duration(evs[len(evs)-1].TsMono - evs[0].TsMono)
	for _, speed := range []float64{0, 1, 10, 0.5} {
		var wall fakeWall
		wall.now.Store(5e9)
		rp, err := New(newRecorder(1), Config{Speed: speed, WallClock: &wall, Sleep: wall.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		st, err := rp.Replay(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if speed == 0 {
			if wall.sleeps.Load() != 0 || st.Duration != 0 {
				t.Errorf("speed 0 slept %d times, %v", wall.sleeps.Load(), st.Duration)
			}
			continue
		}
		want := time.Duration(float64(span) / speed)
		// The schedule is absolute: the replay ends within one minimum pause
		// of the recorded span divided by the speed.
		if st.Duration < want-minSleep || st.Duration > want {
			t.Errorf("speed %v: took %v, want %v (span %v)", speed, st.Duration, want, span)
		}
		if n := wall.sleeps.Load(); n == 0 || n > int64(len(evs)) {
			t.Errorf("speed %v: %d sleeps", speed, n)
		}
		if st.Span() != span {
			t.Errorf("span %v, want %v", st.Span(), span)
		}
	}
}

// TestReplayPacingRealSleep runs a short replay at speed 10 with the real
// sleeper and only checks it did not finish before its schedule.
func TestReplayPacingRealSleep(t *testing.T) {
	evs := demo.GenerateEvents(15, 40, nil) // ~2 ms of recorded time
	for i := range evs {
		evs[i].TsMono = schema.TimestampMono(1e9 + uint64(i)*5e6) // 5 ms apart: ~195 ms in all
	}
	path := writeLog(t, t.TempDir(), "r.jsonl", evs)
	rp, err := New(newRecorder(1), Config{Speed: 10})
	if err != nil {
		t.Fatal(err)
	}
	st, err := rp.Replay(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if min := st.Span() / 10; st.Duration < min-minSleep {
		t.Errorf("took %v, less than the schedule's %v", st.Duration, min)
	}
}

func TestReplayStrictLenient(t *testing.T) {
	var b strings.Builder
	good := 0
	for i, c := range badLines {
		fmt.Fprintf(&b, "{\"event_id\":%d,\"event_type_id\":1,\"ts_mono_ns\":%d,\"ts_wall_ns\":1,\"entity_key\":0,\"fields\":{}}\n", i+1, 1000+i)
		good++
		b.WriteString(c.line + "\n")
	}
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := strictOpts
	opts.File = ""

	// Strict: stop at line 2 with file:line: reason.
	rp, _ := New(newRecorder(1), Config{Reader: opts})
	st, err := rp.Replay(context.Background(), path)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Fatalf("strict: %v, want %s:2: ...", err, path)
	}
	if st.Published != 1 || st.BadLines != 1 || st.Lines != 2 {
		t.Errorf("strict stats %+v", st)
	}

	// Lenient: skip and count every bad line, keep the first few errors.
	rp, _ = New(newRecorder(1), Config{Reader: opts, Lenient: true, MaxErrors: 3})
	st, err = rp.Replay(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Published != int64(good) || st.BadLines != int64(len(badLines)) || len(st.Errors) != 3 ||
		st.Lines != int64(2*len(badLines)) {
		t.Errorf("lenient stats %+v", st)
	}
	for i, e := range st.Errors {
		if !errors.As(e, &le) || le.Line != int64(2*i+2) {
			t.Errorf("kept error %d: %v", i, e)
		}
	}
}

func TestReplayBinaryDamage(t *testing.T) {
	evs, data := smallLog(t)
	spans := blocks(t, data)
	dir := t.TempDir()

	// A payload flip in the second block: strict stops there, lenient skips it.
	bad := bytes.Clone(data)
	bad[spans[1].off+kbin.BlockHeaderSize+3] ^= 1
	path := filepath.Join(dir, "flip.kbin")
	os.WriteFile(path, bad, 0o600)
	rp, _ := New(newRecorder(1), Config{})
	st, err := rp.Replay(context.Background(), path)
	if !errors.Is(err, ErrCorrupt) || st.Published != int64(spans[0].events) || st.BadLines != 1 {
		t.Errorf("strict: %v, %+v", err, st)
	}
	rp, _ = New(newRecorder(1), Config{Lenient: true})
	st, err = rp.Replay(context.Background(), path)
	if err != nil || st.Published != int64(len(evs)-spans[1].events) || st.SkippedEvents != int64(spans[1].events) ||
		st.BadLines != 1 || len(st.Errors) != 1 {
		t.Errorf("lenient: %v, %+v", err, st)
	}

	// A broken block header ends the replay in both modes, counted.
	bad = bytes.Clone(data)
	bad[spans[1].off+5] ^= 1
	path = filepath.Join(dir, "hdr.kbin")
	os.WriteFile(path, bad, 0o600)
	for _, lenient := range []bool{false, true} {
		rp, _ = New(newRecorder(1), Config{Lenient: lenient})
		st, err = rp.Replay(context.Background(), path)
		if !errors.Is(err, ErrCorrupt) || st.BadLines != 1 || st.Published != int64(spans[0].events) {
			t.Errorf("lenient %v: %v, %+v", lenient, err, st)
		}
	}

	// A truncated tail: strict returns it, lenient reports it in Stats.
	path = filepath.Join(dir, "cut.kbin")
	os.WriteFile(path, data[:spans[2].off+10], 0o600)
	rp, _ = New(newRecorder(1), Config{})
	st, err = rp.Replay(context.Background(), path)
	if !errors.Is(err, ErrTruncated) || st.Published != int64(spans[0].events+spans[1].events) {
		t.Errorf("strict: %v, %+v", err, st)
	}
	rp, _ = New(newRecorder(1), Config{Lenient: true})
	st, err = rp.Replay(context.Background(), path)
	if err != nil || st.Published != int64(spans[0].events+spans[1].events) || st.BadLines != 1 ||
		len(st.Errors) != 1 || !errors.Is(st.Errors[0], ErrTruncated) {
		t.Errorf("lenient: %v, %+v", err, st)
	}
}

func TestReplayDrops(t *testing.T) {
	evs := demo.GenerateEvents(16, 1000, nil)
	path := writeLog(t, t.TempDir(), "d.kbin", evs)
	rec := newRecorder(1)
	n := 0
	rec.onEvent = func(*schema.Event) error {
		n++
		if n%3 == 0 {
			return fmt.Errorf("queue full: %w", ErrDropped)
		}
		return nil
	}
	rp, _ := New(rec, Config{})
	st, err := rp.Replay(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped != 333 || st.Published != 667 || st.Events != 1000 {
		t.Errorf("stats %+v", st)
	}

	// Any other error stops the replay.
	closed := errors.New("bus closed")
	n = 0
	rec.onEvent = func(*schema.Event) error {
		if n++; n == 10 {
			return closed
		}
		return nil
	}
	st, err = rp.Replay(context.Background(), path)
	var pe *PublishError
	if !errors.As(err, &pe) || !errors.Is(err, closed) || pe.Record != 10 || pe.File != path {
		t.Fatalf("%v, want a *PublishError at record 10", err)
	}
	if st.Published != 9 || st.Events != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestReplayProgressAndCancel(t *testing.T) {
	evs := demo.GenerateEvents(17, 3000, nil)
	for _, name := range []string{"c.jsonl", "c.jsonl.zst", "c.kbin"} {
		path := writeLog(t, t.TempDir(), name, evs)
		fi, _ := os.Stat(path)
		var calls []Progress
		rp, _ := New(newRecorder(1), Config{ProgressEvery: 500, Progress: func(p Progress) { calls = append(calls, p) }})
		st, err := rp.Replay(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 6+1 {
			t.Fatalf("%s: %d progress calls, want 7", name, len(calls))
		}
		for i, p := range calls[:len(calls)-1] {
			if p.Records != int64(500*(i+1)) || p.Done || p.TotalBytes != fi.Size() || p.Bytes > fi.Size() ||
				(i > 0 && p.Bytes < calls[i-1].Bytes) {
				t.Errorf("%s: call %d: %+v", name, i, p)
			}
		}
		last := calls[len(calls)-1]
		if !last.Done || last.Bytes != fi.Size() || last.Fraction() != 1 || last.Published != 3000 || st.Bytes != fi.Size() {
			t.Errorf("%s: last call %+v, stats %+v", name, last, st)
		}

		// Cancel from the progress callback: the replay stops at once.
		ctx, cancel := context.WithCancel(context.Background())
		rp, _ = New(newRecorder(1), Config{ProgressEvery: 1024, Progress: func(p Progress) {
			if p.Records >= 1024 {
				cancel()
			}
		}})
		st, err = rp.Replay(ctx, path)
		cancel()
		if !errors.Is(err, context.Canceled) || st.Published != 1024 {
			t.Errorf("%s: cancelled: %v after %d events", name, err, st.Published)
		}
	}

	// Cancel while pacing waits.
	path := writeLog(t, t.TempDir(), "w.kbin", evs)
	ctx, cancel := context.WithCancel(context.Background())
	var wall fakeWall
	sleeps := 0
	rp, _ := New(newRecorder(1), Config{Speed: 1, WallClock: &wall, Sleep: func(ctx context.Context, d time.Duration) error {
		if sleeps++; sleeps == 5 {
			cancel()
		}
		return wall.Sleep(ctx, d)
	}})
	st, err := rp.Replay(ctx, path)
	if !errors.Is(err, context.Canceled) || st.Events != st.Published || st.Lines != st.Events+1 {
		t.Errorf("cancelled while pacing: %v, %+v", err, st)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Speed: -1}, {Speed: math.NaN()}, {Speed: math.Inf(1)}, {MaxErrors: -1}, {ProgressEvery: -1},
		{Reader: ReaderOptions{MaxDepth: -1}},
	} {
		if _, err := New(newRecorder(1), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
	if _, err := New(nil, Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("nil bus: %v", err)
	}
	rp, _ := New(newRecorder(1), Config{})
	if _, err := rp.Replay(context.Background(), filepath.Join(t.TempDir(), "missing.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestReplayZstdTruncated cuts a .zst log inside its zstd frame: strict
// mode stops with "file:line: ...", matching ErrTruncated; lenient mode
// replays every whole line before the cut and reports the truncation in
// Stats, as it does for a .kbin, instead of returning it.
func TestReplayZstdTruncated(t *testing.T) {
	evs := demo.GenerateEvents(3, 3000, nil)
	data := encodeAll(t, evs, WriterOptions{Compress: true}, false)
	// Cuts inside the first line and far into the log.
	for _, cut := range []int{20, len(data) / 3, len(data) * 2 / 3} {
		path := filepath.Join(t.TempDir(), "cut.jsonl.zst")
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}

		rp, _ := New(newRecorder(1), Config{})
		strict, err := rp.Replay(context.Background(), path)
		var te *TruncatedError
		if !errors.Is(err, ErrTruncated) || !errors.As(err, &te) || te.Line < 1 || te.File != path ||
			!strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", path, te.Line)) {
			t.Fatalf("cut %d: strict: %v, want a *TruncatedError reading %s:line: ...", cut, err, path)
		}
		if strict.BadLines != 1 || strict.Published >= int64(len(evs)) || cut > 20 && strict.Published == 0 {
			t.Errorf("cut %d: strict stats %+v", cut, strict)
		}

		rp, _ = New(newRecorder(1), Config{Lenient: true})
		st, err := rp.Replay(context.Background(), path)
		if err != nil {
			t.Fatalf("cut %d: lenient: %v, want the truncation in Stats", cut, err)
		}
		if st.BadLines != 1 || len(st.Errors) != 1 || !errors.As(st.Errors[0], &te) || te.Line < 1 ||
			st.Published != strict.Published || te.Events != st.Published {
			t.Errorf("cut %d: lenient stats %+v (error %v)", cut, st, st.Errors)
		}
		if te.Line != st.Lines+1 {
			t.Errorf("cut %d: truncated at line %d, after %d lines read", cut, te.Line, st.Lines)
		}
	}
}
