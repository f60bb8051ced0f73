package node

import (
	"context"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestLag: a partition whose worker is stuck in a batch with events queued
// behind it is behind, and its lag grows from the first Stats that saw it
// (the worker reads no clock for a batch that may end its backlog): Stats,
// then a scrape's kestrel_bus_lag_seconds, then Stats again, never fall.
// A backlog starts with the first batch after a short one, its time read
// when its first full batch ends, and lasts through full batches; once the
// queue is empty the lag is 0.
func TestLag(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var n *Node
	var sinceSeen []int64
	var sizes []int
	handler := func(p int, b []*schema.Event) {
		if sizes = append(sizes, len(b)); len(sizes) == 1 {
			close(entered)
			<-release
		}
		sinceSeen = append(sinceSeen, n.backlog[p].since.Load())
	}
	var err error
	n, err = New(Config{Handler: handler, Bus: engine.Config{Partitions: 1, BatchSize: 4}})
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(n)
	evs := demo.GenerateEvents(1, 10, nil)
	queued := make(chan struct{})
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		if err := in.Bus.Publish(&evs[0]); err != nil {
			return err
		}
		<-entered // the worker is in a batch of one event
		for i := 1; i < len(evs); i++ {
			if err := in.Bus.Publish(&evs[i]); err != nil {
				return err
			}
		}
		close(queued)
		<-release
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background(), src) }()
	<-queued
	before := n.Stats()
	mf := scrape(t, h)
	after := n.Stats()
	got, ok := metric(mf, "kestrel_bus_lag_seconds", "partition", "0")
	if !ok || before.Lag[0] < 0 || got < before.Lag[0].Seconds() || got > after.Lag[0].Seconds() || after.Lag[0] <= before.Lag[0] {
		t.Fatalf("lag: Stats %v, then /metrics %v (%v), then Stats %v", before.Lag[0], got, ok, after.Lag[0])
	}
	if q := before.Bus.Partitions[0].Queued; q != 10 {
		t.Fatalf("queued %d", q)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Batches: the stuck one (short: caught up once handled), then 4, 4
	// and 1: one backlog from the second batch's start (pending: no clock
	// read) to the end of the last, timed from the end of the second.
	if len(sizes) != 4 || sizes[0] != 1 || sizes[1] != 4 || sizes[2] != 4 || sizes[3] != 1 {
		t.Fatalf("batches %v", sizes)
	}
	if s := sinceSeen; s[0] <= 0 || s[1] != backlogPending || s[2] <= s[0] || s[3] != s[2] {
		t.Fatalf("backlog starts %v", s)
	}
	st := n.Stats()
	if st.Lag[0] != 0 || n.backlog[0].since.Load() != 0 {
		t.Fatalf("lag after the drain: %v", st.Lag)
	}
	if v, ok := metric(scrape(t, h), "kestrel_bus_lag_seconds", "partition", "0"); !ok || v != 0 {
		t.Fatalf("lag after the drain in /metrics: %v %v", v, ok)
	}
}

// TestLagIdle: a partition that waited long for its next event is not
// behind while it handles it: its backlog starts with that batch, not with
// the one before the wait.
func TestLagIdle(t *testing.T) {
	var n *Node
	var seen []time.Duration
	handler := func(p int, b []*schema.Event) { seen = append(seen, n.Stats().Lag[p]) }
	var err error
	n, err = New(Config{Handler: handler, Bus: engine.Config{Partitions: 1}})
	if err != nil {
		t.Fatal(err)
	}
	evs := demo.GenerateEvents(1, 2, nil)
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		if err := in.Bus.Publish(&evs[0]); err != nil {
			return err
		}
		for n.Stats().Bus.Partitions[0].Queued != 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // idle, caught up
		if err := in.Bus.Publish(&evs[1]); err != nil {
			return err
		}
		for n.Stats().Bus.Partitions[0].Queued != 0 {
			time.Sleep(time.Millisecond)
		}
		// Each batch's lag, read inside it, counts from when it was first
		// seen behind: 0 there.
		if len(seen) != 2 || seen[0] != 0 || seen[1] != 0 || n.backlog[0].since.Load() != 0 {
			t.Errorf("lags seen in the batches: %v", seen)
		}
		return nil
	})
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
}
