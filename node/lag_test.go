package node

import (
	"context"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestLag: a partition whose worker is stuck in a batch with events queued
// behind it is behind, and its lag grows: Stats before a scrape <= the
// scrape's kestrel_bus_lag_seconds <= Stats after it. A backlog starts
// with the first batch after a short one and lasts through full batches;
// once the queue is empty the lag is 0.
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
	evs := replay.GenerateEvents(1, 10, nil)
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
	if !ok || before.Lag[0] <= 0 || got < before.Lag[0].Seconds() || got > after.Lag[0].Seconds() {
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
	// and 1: one backlog from the second batch's start to the end of the
	// last.
	if len(sizes) != 4 || sizes[0] != 1 || sizes[1] != 4 || sizes[2] != 4 || sizes[3] != 1 {
		t.Fatalf("batches %v", sizes)
	}
	if s := sinceSeen; s[1] == 0 || s[1] == s[0] || s[2] != s[1] || s[3] != s[1] {
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
// behind while it handles it: its backlog starts with that batch.
func TestLagIdle(t *testing.T) {
	var n *Node
	var seen []time.Duration
	handler := func(p int, b []*schema.Event) { seen = append(seen, n.Stats().Lag[p]) }
	var err error
	n, err = New(Config{Handler: handler, Bus: engine.Config{Partitions: 1}})
	if err != nil {
		t.Fatal(err)
	}
	evs := replay.GenerateEvents(1, 2, nil)
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		if err := in.Bus.Publish(&evs[0]); err != nil {
			return err
		}
		for n.Stats().Bus.Partitions[0].Queued != 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // idle, caught up
		published := time.Since(n.epoch)
		if err := in.Bus.Publish(&evs[1]); err != nil {
			return err
		}
		for n.Stats().Bus.Partitions[0].Queued != 0 {
			time.Sleep(time.Millisecond)
		}
		// The second batch's lag, read inside it, counts from its start,
		// after the event was published: not from the first batch.
		if len(seen) != 2 || seen[1] <= 0 || seen[1] > time.Since(n.epoch)-published {
			t.Errorf("lags seen in the batches: %v (published at %v)", seen, published)
		}
		return nil
	})
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
}
