package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Field IDs the tests put in their events.
const (
	fSeq   schema.FieldID = 1 // per-entity sequence number
	fName  schema.FieldID = 2 // a string, to see that it survives the copy
	fExtra schema.FieldID = 3 // first of the fields that make an event spill
)

// fill makes ev the event id of entity key, carrying its per-entity sequence
// number and, with spill, more fields than an Event holds inline.
func fill(t testing.TB, ev *schema.Event, id uint64, key schema.EntityKey, seq uint64, spill bool) {
	t.Helper()
	b := schema.NewBuilder(nil).Type(1).ID(id).Entity(key).Mono(schema.TimestampMono(id)).
		Field(fSeq, value.U64Value(seq)).Field(fName, value.StringValue("/bin/ls"))
	if spill {
		for i := range schema.InlineFields + 2 {
			b.Field(fExtra+schema.FieldID(i), value.I64Value(int64(i)))
		}
	}
	if err := b.BuildInto(ev); err != nil {
		t.Fatal(err)
	}
}

// seqOf returns the sequence number fill put in ev.
func seqOf(t testing.TB, ev *schema.Event) uint64 {
	v, ok := ev.Get(fSeq)
	if !ok {
		t.Fatalf("event %d has no sequence field", ev.ID)
	}
	u, ok := v.U64()
	if !ok {
		t.Fatalf("event %d: sequence field is %v", ev.ID, v)
	}
	return u
}

// newBus returns a Bus for cfg that the test shuts down at its end, if it
// has not already.
func newBus(t testing.TB, cfg Config) *Bus {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var se *ShutdownError
		if err := b.Shutdown(ctx); err != nil && !errors.As(err, &se) {
			t.Errorf("cleanup Shutdown: %v", err)
		}
	})
	return b
}

// shutdown shuts b down and fails the test on an error.
func shutdown(t testing.TB, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// checkInvariant checks published = delivered + dropped + timed out + queued
// for every partition of st, and for its total.
func checkInvariant(t testing.TB, st Stats) {
	t.Helper()
	for i, p := range st.Partitions {
		if p.Published != p.Delivered+p.Dropped+p.TimedOut+p.Queued {
			t.Errorf("partition %d: %+v breaks published = delivered + dropped + timed out + queued", i, p)
		}
		if p.HighWater < p.Queued {
			t.Errorf("partition %d: high water %d below queue depth %d", i, p.HighWater, p.Queued)
		}
	}
}

// waitFor polls cond (yielding real time) until it holds or a generous
// deadline passes; it never measures speed, only liveness.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// recvAll receives from s until ErrClosed and returns what it got.
func recvAll(t testing.TB, s *Subscriber) []schema.Event {
	t.Helper()
	var out []schema.Event
	for {
		var ev schema.Event
		err := s.Recv(context.Background(), &ev)
		if errors.Is(err, ErrClosed) {
			return out
		}
		if err != nil {
			t.Errorf("Recv: %v", err)
			return out
		}
		out = append(out, ev)
	}
}
