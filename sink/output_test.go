package sink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/kestrel-sec/kestrel/schema"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the writer destination's
// goroutine and the test's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestOutputWriterDeliversAll(t *testing.T) {
	var buf lockedBuffer
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: NewWriterDestination("buf", &buf)}}, EmitTimeout: 10 * time.Second})
	const n = 1000
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if want := string(testAlert(i).AppendJSON(nil)); l != want {
			t.Fatalf("line %d:\n got %s\nwant %s", i, l, want)
		}
	}
	s := o.Stats()
	checkInvariants(t, s)
	if s.Emitted != n || s.Routed != n || s.Destinations[0].Delivered != n || s.Destinations[0].QueueLen != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestSlowDestinationDoesNotStallOthers: one destination's Send blocks; a
// second, fast destination still gets every alert while the slow one's
// queue overflows (dropped and counted), and Emit never waits.
func TestSlowDestinationDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	var inSend atomic.Int32
	slow := &funcDest{name: "slow", send: func(ctx context.Context, _ []*Alert) error {
		inSend.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	fast := &funcDest{name: "fast"}
	// The fast destination blocks the dispatcher when its queue is full
	// (so it loses nothing); the slow one drops.
	o := newOutput(t, Config{Destinations: []DestinationConfig{
		{Dest: slow, Queue: 8, Batch: BatchConfig{MaxCount: 1}},
		{Dest: fast, Queue: 64, Overflow: OverflowBlock, BlockTimeout: time.Minute},
	}})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	const n = 2000
	for i := range n {
		a := testAlert(i)
		for {
			// EmitTimeout is 0: Emit never waits. Only the emit ring can
			// refuse (the dispatcher is behind), never the slow destination.
			if err := o.Emit(a); err == nil {
				break
			} else if !errors.Is(err, ErrQueueFull) {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	waitFor(t, "the fast destination", func() bool { return len(fast.ids()) == n })
	if inSend.Load() != 1 {
		t.Fatalf("slow destination entered Send %d times, want 1 (still blocked)", inSend.Load())
	}
	s := o.Stats()
	checkInvariants(t, s)
	sl := s.Destinations[0]
	// One alert is in the blocked Send, 8 fill the queue, the rest dropped.
	if sl.Delivered != 0 || sl.Queued != 9 || sl.Dropped != n-9 || sl.QueueLen != 8 {
		t.Errorf("slow destination stats %+v", sl)
	}
	once.Do(func() { close(release) })
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = o.Stats()
	checkInvariants(t, s)
	if got := s.Destinations[0].Delivered; got != 9 {
		t.Errorf("slow destination delivered %d after release, want 9", got)
	}
}

func TestOverflowBlockWaitsForRoom(t *testing.T) {
	var sent atomic.Int64
	slowish := &funcDest{name: "slowish", send: func(context.Context, []*Alert) error {
		time.Sleep(50 * time.Microsecond)
		sent.Add(1)
		return nil
	}}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{
		Dest: slowish, Queue: 2, Overflow: OverflowBlock, BlockTimeout: time.Minute, Batch: BatchConfig{MaxCount: 1},
	}}, EmitTimeout: time.Minute})
	const n = 200
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != n || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestOverflowBlockTimesOut(t *testing.T) {
	release := make(chan struct{})
	stuck := &funcDest{name: "stuck", send: func(ctx context.Context, _ []*Alert) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{
		Dest: stuck, Queue: 2, Overflow: OverflowBlock, BlockTimeout: time.Millisecond, Batch: BatchConfig{MaxCount: 1},
	}}, EmitTimeout: time.Minute})
	const n = 10
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "drops", func() bool {
		s := o.Stats()
		return s.Pending == 0 && s.Destinations[0].Dropped == n-3
	})
	checkInvariants(t, o.Stats())
	close(release)
}

// TestOverflowBlockStalledOnce: a dead OverflowBlock destination holds
// the dispatcher up for one BlockTimeout, not one per alert (that would be
// 1000 × 200 ms here, far past waitFor's bound), and the healthy
// destination beside it gets everything.
func TestOverflowBlockStalledOnce(t *testing.T) {
	release := make(chan struct{})
	dead := &funcDest{name: "dead", send: func(ctx context.Context, _ []*Alert) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	ok := &funcDest{name: "ok"}
	o := newOutput(t, Config{Destinations: []DestinationConfig{
		{Dest: dead, Queue: 2, Overflow: OverflowBlock, BlockTimeout: 200 * time.Millisecond, Batch: BatchConfig{MaxCount: 1}},
		{Dest: ok, Queue: 2048, Overflow: OverflowBlock, BlockTimeout: time.Minute},
	}, Queue: 2048, EmitTimeout: time.Minute})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	const n = 1000
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the healthy destination", func() bool { return len(ok.ids()) == n })
	s := o.Stats()
	checkInvariants(t, s)
	if d := s.Destinations[0]; d.Dropped != n-3 {
		t.Errorf("dead destination %+v", d)
	}
	// Once it takes alerts again, it is waited for again.
	once.Do(func() { close(release) })
	waitFor(t, "the drain", func() bool { return o.Stats().Destinations[0].Delivered == 3 })
	if err := o.Emit(testAlert(n)); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := o.Stats().Destinations[0]; d.Delivered != 4 {
		t.Errorf("dead destination after release %+v", d)
	}
}

// TestTransientFailureRecovers: a destination failing for a while loses
// nothing that fitted in its queue.
func TestTransientFailureRecovers(t *testing.T) {
	var calls atomic.Int32
	flaky := &funcDest{name: "flaky", send: func(context.Context, []*Alert) error {
		if calls.Add(1) <= 5 {
			return errors.New("connection refused")
		}
		return nil
	}}
	var logs lockedBuffer
	o := newOutput(t, Config{
		Destinations: []DestinationConfig{{Dest: flaky, Queue: 100, Retry: fastRetry}},
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	const n = 50
	for i := range n {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != n || s.Dropped != 0 || s.Retried == 0 {
		t.Errorf("stats %+v", s)
	}
	got := flaky.ids()
	for i := range n {
		if got[i] != testAlert(i).ID {
			t.Fatalf("alert %d out of order or lost", i)
		}
	}
	if l := logs.String(); strings.Count(l, "destination failing") != 1 || strings.Count(l, "recovered") != 1 {
		t.Errorf("health logs:\n%s", l)
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	var calls atomic.Int32
	bad := &funcDest{name: "bad", send: func(context.Context, []*Alert) error {
		calls.Add(1)
		return &PermanentError{Reason: "HTTP 400", Err: errors.New("bad request")}
	}}
	var logs lockedBuffer
	o := newOutput(t, Config{
		Destinations: []DestinationConfig{{Dest: bad, Retry: fastRetry, Batch: BatchConfig{MaxCount: 1}}},
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for i := range 5 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Rejected != 5 || s.Retried != 0 || calls.Load() != 5 {
		t.Errorf("stats %+v after %d calls", s, calls.Load())
	}
	if c := strings.Count(logs.String(), "msg="); c != 1 {
		t.Errorf("reason logged %d times, want once:\n%s", c, logs.String())
	}
}

func TestPartialError(t *testing.T) {
	var calls atomic.Int32
	part := &funcDest{name: "part", send: func(_ context.Context, batch []*Alert) error {
		if calls.Add(1) == 1 {
			// Of 4: 0 delivered, 1 rejected, 2 retried, 3 delivered;
			// out-of-range indexes are ignored.
			return &PartialError{Retry: []int{2, 99}, Rejected: []Rejection{{Index: 1, Reason: "bad"}, {Index: -1}}}
		}
		if len(batch) != 1 {
			return fmt.Errorf("retry batch of %d, want 1", len(batch))
		}
		return nil
	}}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: part, Retry: fastRetry, Batch: BatchConfig{MaxCount: 4, MaxWait: time.Minute}}}})
	for i := range 4 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != 3 || s.Rejected != 1 || s.Retried != 1 || calls.Load() != 2 {
		t.Errorf("stats %+v after %d calls", s, calls.Load())
	}
}

func TestRetriesExhausted(t *testing.T) {
	var calls atomic.Int32
	down := &funcDest{name: "down", send: func(context.Context, []*Alert) error {
		calls.Add(1)
		return &RetryAfterError{After: time.Millisecond, Err: errors.New("503")}
	}}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: down, Retry: RetryConfig{
		Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 3}}}})
	if err := o.Emit(testAlert(0)); err != nil {
		t.Fatal(err)
	}
	err := o.Close(context.Background())
	var ce *CloseError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUndelivered) || ce.Undelivered() != 1 || ce.Err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := o.Stats().Destinations[0]
	if s.Dropped != 1 || s.Retried != 2 || calls.Load() != 3 {
		t.Errorf("stats %+v after %d calls", s, calls.Load())
	}
}

func TestRetryMaxElapsed(t *testing.T) {
	down := &funcDest{name: "down", send: func(context.Context, []*Alert) error { return errors.New("down") }}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: down, Retry: RetryConfig{
		Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: 5 * time.Millisecond}}}})
	if err := o.Emit(testAlert(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drop", func() bool { return o.Stats().Destinations[0].Dropped == 1 })
}

func TestPanickingSendIsRejected(t *testing.T) {
	boom := &funcDest{name: "boom", send: func(context.Context, []*Alert) error { panic("boom") }}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: boom}}})
	if err := o.Emit(testAlert(0)); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats().Destinations[0]; s.Rejected != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: &funcDest{name: "x"}, Retry: RetryConfig{
		Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}}}})
	w := o.dests[0]
	for attempt := 1; attempt <= 10; attempt++ {
		cap := min(10*time.Millisecond<<(attempt-1), 100*time.Millisecond)
		var top time.Duration
		for range 200 {
			d := w.backoff(attempt)
			if d < 0 || d >= cap {
				t.Fatalf("attempt %d: backoff %v outside [0, %v)", attempt, d, cap)
			}
			top = max(top, d)
		}
		if top < cap/2 {
			t.Errorf("attempt %d: 200 draws all below %v: not jittered over the full range", attempt, cap/2)
		}
	}
	ra := &RetryAfterError{After: time.Hour, Err: errors.New("429")}
	if d := w.wait(1, ra); d != 100*time.Millisecond {
		t.Errorf("Retry-After of an hour waits %v, want the 100ms cap", d)
	}
	if d := w.wait(1, fmt.Errorf("wrapped: %w", &RetryAfterError{After: 50 * time.Millisecond, Err: io.EOF})); d != 50*time.Millisecond {
		t.Errorf("Retry-After of 50ms waits %v", d)
	}
}

func TestBatchBounds(t *testing.T) {
	d := &funcDest{name: "d"}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Batch: BatchConfig{MaxCount: 5, MaxWait: time.Hour}}}})
	for i := range 5 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A full batch goes at once, without waiting its MaxWait.
	waitFor(t, "a full batch", func() bool { return len(d.ids()) == 5 })
	for i := range 3 {
		if err := o.Emit(testAlert(10 + i)); err != nil {
			t.Fatal(err)
		}
	}
	// Close does not wait MaxWait either.
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if fmt.Sprint(d.batches) != "[5 3]" {
		t.Errorf("batches %v, want [5 3]", d.batches)
	}
}

func TestBatchMaxBytes(t *testing.T) {
	d := &funcDest{name: "d"}
	one := approxSize(testAlert(0))
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Batch: BatchConfig{MaxBytes: 3*one + one/2, MaxWait: time.Hour}}}})
	for i := range 10 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if fmt.Sprint(d.batches) != "[3 3 3 1]" {
		t.Errorf("batches %v, want [3 3 3 1]", d.batches)
	}
}

func TestEmitErrors(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	stuck := &funcDest{name: "stuck", send: func(ctx context.Context, _ []*Alert) error {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	o := newOutput(t, Config{
		Destinations: []DestinationConfig{{Dest: stuck, Queue: 1, Overflow: OverflowBlock, BlockTimeout: time.Hour, Batch: BatchConfig{MaxCount: 1}}},
		Queue:        2,
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	if err := o.Emit(nil); !errors.Is(err, ErrNilAlert) {
		t.Errorf("Emit(nil) = %v", err)
	}
	emit := func(i int) {
		t.Helper()
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	// One alert in Send, one in the destination's queue, one held by the
	// dispatcher, blocked: then the emit ring (2 slots) fills.
	emit(0)
	<-entered
	emit(1)
	waitFor(t, "the queue", func() bool { return o.Stats().Destinations[0].QueueLen == 1 })
	emit(2)
	waitFor(t, "the dispatcher", func() bool { return o.Stats().Destinations[0].Emitted == 3 })
	accepted := 3
	for ; accepted < 10; accepted++ {
		err := o.Emit(testAlert(accepted))
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if accepted == 10 {
		t.Fatal("no Emit refused")
	}
	o.emitTimeout = time.Millisecond // the slow path, with a wait
	if err := o.Emit(testAlert(99)); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Emit with a timeout on a full queue = %v", err)
	}
	s := o.Stats()
	if s.Refused != 2 || s.Emitted != uint64(accepted) {
		t.Errorf("stats %+v after %d accepted", s, accepted)
	}
	once.Do(func() { close(release) })
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := o.Emit(testAlert(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after Close = %v", err)
	}
	if err := o.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	s = o.Stats()
	checkSettled(t, s)
	if s.Destinations[0].Delivered != uint64(accepted) || s.Refused != 3 {
		t.Errorf("stats %+v, want %d delivered", s, accepted)
	}
}

// TestCloseGivesUp: a destination that never succeeds holds its alerts;
// Close's ctx ends the flush, and the error says what was lost.
func TestCloseGivesUp(t *testing.T) {
	hang := &funcDest{name: "hang", send: func(ctx context.Context, _ []*Alert) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	ok := &funcDest{name: "ok"}
	o, err := New(Config{Destinations: []DestinationConfig{{Dest: hang, Batch: BatchConfig{MaxCount: 2}}, {Dest: ok}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := o.Emit(testAlert(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the dispatcher", func() bool { return o.Stats().Pending == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = o.Close(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close = %v", err)
	}
	if len(ce.Destinations) != 1 || ce.Destinations[0].Name != "hang" || ce.Undelivered() != 5 {
		t.Errorf("CloseError %+v", ce)
	}
	if !strings.Contains(err.Error(), "5 alerts dropped, 0 in flight with outcome unknown (hang: 5 dropped, 0 in flight)") {
		t.Errorf("message %q", err.Error())
	}
	s := o.Stats()
	checkSettled(t, s)
	if s.Destinations[0].Dropped != 5 || s.Destinations[1].Delivered != 5 {
		t.Errorf("stats %+v", s)
	}
	if !hang.closed || !ok.closed {
		t.Error("destinations not closed")
	}
}

// TestStatsInvariantUnderLoad: many producers, routes with continue,
// dedup, overflow, a failing destination; the books balance at the end.
func TestStatsInvariantUnderLoad(t *testing.T) {
	producers, per := 4, 2000
	if raceEnabled || testing.Short() {
		per = 500
	}
	var n atomic.Int32
	flaky := &funcDest{name: "flaky", send: func(context.Context, []*Alert) error {
		switch n.Add(1) % 7 {
		case 0:
			return errors.New("transient")
		case 3:
			return &PermanentError{Reason: "nope"}
		}
		return nil
	}}
	o := newOutput(t, Config{
		Destinations: []DestinationConfig{
			{Dest: flaky, Queue: 16, Retry: RetryConfig{Initial: time.Microsecond, Max: time.Microsecond, MaxAttempts: 2}},
			{Dest: NewWriterDestination("discard", io.Discard), Queue: 16},
		},
		Routes: []Route{
			{RuleID: "rule-[0-4]", Destinations: []string{"flaky"}, Continue: true},
			{MinSeverity: schema.SeverityHigh, Destinations: []string{"discard"}},
		},
		Dedup:       DedupConfig{Window: time.Hour, MaxEntries: 64},
		Queue:       64,
		EmitTimeout: time.Millisecond,
	})
	var wg sync.WaitGroup
	var refused atomic.Uint64
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				a := testAlert(p*per + i)
				a.RuleID = fmt.Sprintf("rule-%d", i%10)
				a.Severity = schema.Severity(i % 5)
				if o.Emit(a) != nil {
					refused.Add(1)
				}
			}
		}()
	}
	for range 50 {
		_ = o.Stats()
	}
	wg.Wait()
	if err := o.Close(context.Background()); err != nil && !errors.Is(err, ErrUndelivered) {
		t.Fatal(err)
	}
	s := o.Stats()
	checkInvariants(t, s)
	if s.Emitted+s.Refused != uint64(producers*per) || s.Refused != refused.Load() || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
	for _, d := range s.Destinations {
		if d.Queued != 0 || d.QueueLen != 0 {
			t.Errorf("%s: %+v after Close", d.Name, d)
		}
	}
}

func TestEmitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: NewWriterDestination("discard", io.Discard)}}, Queue: 1 << 12})
	alerts := make([]*Alert, 1000)
	for i := range alerts {
		alerts[i] = testAlert(i)
	}
	// Warm up the destination's buffer.
	for _, a := range alerts[:100] {
		_ = o.Emit(a)
	}
	waitFor(t, "warm-up", func() bool { return o.Stats().Destinations[0].Delivered == 100 })
	i := 0
	// AllocsPerRun counts every goroutine's allocations: this covers the
	// dispatcher and the worker too, not only the caller.
	n := testing.AllocsPerRun(500, func() {
		_ = o.Emit(alerts[i%len(alerts)])
		i++
	})
	if n != 0 {
		t.Errorf("Emit allocates %v times per call", n)
	}
}

func TestConfigValidate(t *testing.T) {
	d := &funcDest{name: "d"}
	ok := DestinationConfig{Dest: d}
	bad := map[string]Config{
		"no destinations":    {},
		"nil dest":           {Destinations: []DestinationConfig{{Name: "x"}}},
		"no name":            {Destinations: []DestinationConfig{{Dest: &funcDest{}}}},
		"duplicate name":     {Destinations: []DestinationConfig{ok, ok}},
		"negative queue":     {Destinations: []DestinationConfig{ok}, Queue: -1},
		"negative timeout":   {Destinations: []DestinationConfig{ok}, EmitTimeout: -1},
		"dest queue":         {Destinations: []DestinationConfig{{Dest: d, Queue: -1}}},
		"overflow":           {Destinations: []DestinationConfig{{Dest: d, Overflow: 7}}},
		"block timeout":      {Destinations: []DestinationConfig{{Dest: d, BlockTimeout: -1}}},
		"batch":              {Destinations: []DestinationConfig{{Dest: d, Batch: BatchConfig{MaxCount: -1}}}},
		"retry":              {Destinations: []DestinationConfig{{Dest: d, Retry: RetryConfig{Max: -1}}}},
		"route glob":         {Destinations: []DestinationConfig{ok}, Routes: []Route{{RuleID: "[", Destinations: []string{"d"}}}},
		"route severity":     {Destinations: []DestinationConfig{ok}, Routes: []Route{{MinSeverity: 9, Destinations: []string{"d"}}}},
		"route no dests":     {Destinations: []DestinationConfig{ok}, Routes: []Route{{}}},
		"route unknown dest": {Destinations: []DestinationConfig{ok}, Routes: []Route{{Destinations: []string{"e"}}}},
		"default unknown":    {Destinations: []DestinationConfig{ok}, Default: []string{"e"}},
		"dedup window":       {Destinations: []DestinationConfig{ok}, Dedup: DedupConfig{Window: -1}},
		"dedup entries":      {Destinations: []DestinationConfig{ok}, Dedup: DedupConfig{MaxEntries: -1}},
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if o, err := New(c); err == nil || o != nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	good := Config{Destinations: []DestinationConfig{ok}}
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
}

// TestOutputSharedStdoutWriter: the writer destination writes whole lines.
func TestWriterDestinationErrors(t *testing.T) {
	w := NewWriterDestination("w", errWriter{io.ErrShortWrite})
	if err := w.Send(context.Background(), []*Alert{testAlert(0)}); !errors.Is(err, io.ErrShortWrite) || IsPermanent(err) {
		t.Errorf("Send = %v", err)
	}
	var buf bytes.Buffer
	w = NewWriterDestination("w", &buf)
	if err := w.Send(context.Background(), []*Alert{testAlert(0), testAlert(1)}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	lines := 0
	for sc.Scan() {
		lines++
	}
	if lines != 2 || w.Close() != nil || w.Name() != "w" {
		t.Errorf("%d lines", lines)
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

// TestCloseSendIgnoringCtx: a Send that ignores its ctx outlives Close.
// Close must not report its alert as lost, since Stats later counts the
// real outcome (here: delivered); it reports it as in flight, outcome
// unknown, and the books balance once the Send returns.
func TestCloseSendIgnoringCtx(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	stuck := &funcDest{name: "stuck", send: func(context.Context, []*Alert) error {
		close(started)
		<-release
		return nil
	}}
	o, err := New(Config{Destinations: []DestinationConfig{{Dest: stuck}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Emit(testAlert(0)); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = o.Close(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close = %v", err)
	}
	if len(ce.Destinations) != 1 || ce.Destinations[0].InFlight != 1 || ce.Destinations[0].Dropped != 0 ||
		ce.Undelivered() != 0 || ce.InFlight() != 1 {
		t.Errorf("CloseError %+v: want 1 in flight, none lost", ce)
	}
	if !strings.Contains(err.Error(), "0 alerts dropped, 1 in flight with outcome unknown (stuck: 0 dropped, 1 in flight)") {
		t.Errorf("message %q", err.Error())
	}
	close(release)
	<-o.Done()
	s := o.Stats()
	checkSettled(t, s)
	if d := s.Destinations[0]; d.Delivered != 1 || d.Queued != 0 {
		t.Errorf("stats %+v", d)
	}
}

// resendDest is a funcDest that reports resends, as syslog over TCP does.
type resendDest struct {
	funcDest
	n atomic.Uint64
}

func (d *resendDest) Resent() uint64 { return d.n.Load() }

func TestStatsResent(t *testing.T) {
	d := &resendDest{funcDest: funcDest{name: "r"}}
	d.n.Store(7)
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d}, {Dest: &funcDest{name: "plain"}}}})
	s := o.Stats()
	if s.Destinations[0].Resent != 7 || s.Destinations[1].Resent != 0 {
		t.Errorf("stats %+v", s.Destinations)
	}
}

// chanRecycler hands recycled alerts back over a channel, which allocates
// nothing.
type chanRecycler chan *Alert

func (c chanRecycler) Recycle(a *Alert) { c <- a }

// TestRecycledEmitNoAllocs: a producer that takes each alert back from
// its Recycler and emits it again, through an Output with two
// destinations (so each alert is shared), allocates nothing per alert,
// anywhere in the process.
func TestRecycledEmitNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	o := newOutput(t, Config{Destinations: []DestinationConfig{
		{Dest: NewWriterDestination("a", io.Discard)},
		{Dest: NewWriterDestination("b", io.Discard)},
	}, Queue: 1 << 10})
	free := make(chanRecycler, 64)
	for i := range cap(free) {
		free <- testAlert(i)
	}
	emit := func() {
		a := <-free // waits for one to come back
		a.SetRecycler(free)
		if err := o.Emit(a); err != nil {
			t.Fatal(err)
		}
	}
	for range 1000 { // warm: buffers and timers
		emit()
	}
	// One run of 5000 alerts: AllocsPerRun's average is truncated, so
	// only this reads a single allocation among them.
	if n := testing.AllocsPerRun(1, func() {
		for range 5000 {
			emit()
		}
	}); n != 0 {
		t.Errorf("%v allocs per 5000 recycled alerts", n)
	}
	if s := o.Stats(); s.Destinations[0].Delivered+s.Destinations[1].Delivered < 2*10000 {
		t.Errorf("stats %+v", s)
	}
}

// countRecycler counts the alerts handed back.
type countRecycler struct{ n atomic.Int64 }

func (c *countRecycler) Recycle(*Alert) { c.n.Add(1) }

// TestRecycleOnCloseAbort: alerts a Send still holds when Close gives up,
// and those queued behind it, come back only once that Send returns
// (delivered, or dropped as Close gave up), never while it may read them.
func TestRecycleOnCloseAbort(t *testing.T) {
	inSend, unblock := make(chan struct{}, 1), make(chan struct{})
	stuck := &funcDest{name: "stuck", send: func(context.Context, []*Alert) error {
		inSend <- struct{}{}
		<-unblock // ignores ctx: the alerts stay in flight past Close
		return nil
	}}
	o, err := New(Config{Destinations: []DestinationConfig{{Dest: stuck, Batch: BatchConfig{MaxCount: 4}}}})
	if err != nil {
		t.Fatal(err)
	}
	var rec countRecycler
	const n = 20
	for i := range n {
		a := testAlert(i)
		a.SetRecycler(&rec)
		if err := o.Emit(a); err != nil {
			t.Fatal(err)
		}
	}
	<-inSend
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Close(ctx); !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close: %v", err)
	}
	if got := rec.n.Load(); got != 0 {
		t.Errorf("%d alerts recycled while the destination's worker is in Send", got)
	}
	close(unblock)
	<-o.Done()
	if got := rec.n.Load(); got != n {
		t.Errorf("%d of %d alerts recycled after the Send returned", got, n)
	}
	checkSettled(t, o.Stats())
}
