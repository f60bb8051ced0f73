package sink

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// fastRetry keeps retry tests quick: real backoff, in milliseconds.
var fastRetry = RetryConfig{Initial: time.Millisecond, Max: 4 * time.Millisecond}

// testAlert returns a distinct, realistic alert.
func testAlert(i int) *Alert {
	ids := []uint64{uint64(2 * i), uint64(2*i + 1)}
	return &Alert{
		ID:       NewAlertID("curl-pipe-shell", ids),
		RuleID:   "curl-pipe-shell",
		RuleName: "Download piped into a shell",
		Severity: schema.SeverityHigh,
		Tags:     []string{"execution", "T1059.004"},
		TsMono:   schema.TimestampMono(1_000_000_000 + i),
		TsWall:   schema.TimestampWall(1_767_225_600_000_000_000 + int64(i)*1000),
		Entity:   schema.EntityKeyFrom64(uint64(i)),
		EventIDs: ids,
		Message:  "curl piped into bash, pid " + strconv.Itoa(1000+i),
		Fields: []AlertField{
			{Path: "process.executable", Value: value.StringValue("/bin/bash")},
			{Path: "process.pid", Value: value.I64Value(int64(1000 + i))},
		},
	}
}

// funcDest is a test Destination whose Send runs a function; it records
// the alert ids it delivered.
type funcDest struct {
	name string
	send func(ctx context.Context, batch []*Alert) error

	mu      sync.Mutex
	got     []string
	batches []int
	closed  bool
}

func (d *funcDest) Name() string { return d.name }

func (d *funcDest) Send(ctx context.Context, batch []*Alert) error {
	var err error
	if d.send != nil {
		err = d.send(ctx, batch)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.batches = append(d.batches, len(batch))
	if err == nil {
		for _, a := range batch {
			d.got = append(d.got, a.ID)
		}
	}
	return err
}

func (d *funcDest) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return nil
}

func (d *funcDest) ids() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

func newOutput(t *testing.T, cfg Config) *Output {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.Close(ctx)
	})
	return o
}

// waitFor polls cond until it holds; the generous bound only turns a
// hang into a failure, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// checkInvariants verifies the Stats equations, exact when nothing moves.
func checkInvariants(t *testing.T, s Stats) {
	t.Helper()
	if s.Emitted != s.Suppressed+s.Unrouted+s.Routed+s.Pending {
		t.Errorf("Emitted %d != Suppressed %d + Unrouted %d + Routed %d + Pending %d",
			s.Emitted, s.Suppressed, s.Unrouted, s.Routed, s.Pending)
	}
	for _, d := range s.Destinations {
		if d.Emitted != d.Delivered+d.Rejected+d.Dropped+d.Queued {
			t.Errorf("%s: Emitted %d != Delivered %d + Rejected %d + Dropped %d + Queued %d",
				d.Name, d.Emitted, d.Delivered, d.Rejected, d.Dropped, d.Queued)
		}
	}
}

// checkSettled is checkInvariants for an Output that has been closed:
// nothing is pending any more, so the dispatcher's three counts must add up
// to Emitted by themselves (Pending is derived, so the equation alone
// cannot catch a miscount in them).
func checkSettled(t *testing.T, s Stats) {
	t.Helper()
	checkInvariants(t, s)
	if s.Pending != 0 {
		t.Errorf("closed, but Pending %d (Emitted %d, Suppressed %d, Unrouted %d, Routed %d)",
			s.Pending, s.Emitted, s.Suppressed, s.Unrouted, s.Routed)
	}
}
