package kafka

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newCluster starts an in-process Kafka cluster of brokers brokers with the
// topic given (partitions), closed when the test ends.
func newCluster(t testing.TB, brokers int, partitions int32, topic string, more ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{
		kfake.NumBrokers(brokers),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
	}
	if topic != "" {
		opts = append(opts, kfake.SeedTopics(partitions, topic))
	}
	opts = append(opts, more...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testConfig is a Config for tests against c: short timings so that
// rebalances and commits happen within a test's time.
func testConfig(t testing.TB, c *kfake.Cluster, topic string) Config {
	return Config{
		Brokers:           c.ListenAddrs(),
		Topic:             topic,
		Group:             "g-" + topic,
		Linger:            time.Millisecond,
		SessionTimeout:    3 * time.Second,
		HeartbeatInterval: 50 * time.Millisecond,
		RebalanceTimeout:  10 * time.Second,
		CommitInterval:    20 * time.Millisecond,
		DrainTimeout:      5 * time.Second,
		DeliveryTimeout:   10 * time.Second,
		Logger:            testLogger(t),
	}
}

// testLogger logs warnings and errors through t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: testLogLevel}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// events returns n generated sensor events (IDs 1..n, about 64 entities).
func events(n int) []schema.Event { return demo.GenerateEvents(1, n, nil) }

// forward produces evs through a new Forwarder and closes it, failing the
// test unless every event was delivered.
func forward(t testing.TB, cfg Config, evs []schema.Event) ForwarderStats {
	t.Helper()
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := f.Publish(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()
	if st.Delivered != uint64(len(evs)) || st.Failed != 0 || st.Buffered != 0 || st.InFlight != 0 {
		t.Fatalf("forwarder stats %+v, want %d delivered", st, len(evs))
	}
	return st
}

// readTopic reads every record of topic (as a plain consumer, no group)
// until it has want records or the deadline passes.
func readTopic(t testing.TB, c *kfake.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s, want %d", len(out), topic, want)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// delivery is one event a worker handled.
type delivery struct {
	stamp  uint64 // global handling order
	node   int
	id     uint64
	entity schema.EntityKey
}

// collector records what workers handle, over any number of nodes.
type collector struct {
	stamp atomic.Uint64
	mu    sync.Mutex
	got   []delivery
	ids   map[uint64]bool
	count atomic.Int64 // distinct events handled
}

// handler returns the bus handler of node.
func (c *collector) handler(node int) engine.Handler {
	return func(_ int, batch []*schema.Event) {
		c.mu.Lock()
		if c.ids == nil {
			c.ids = make(map[uint64]bool)
		}
		for _, ev := range batch {
			c.got = append(c.got, delivery{stamp: c.stamp.Add(1), node: node, id: ev.ID, entity: ev.Entity})
			if !c.ids[ev.ID] {
				c.ids[ev.ID] = true
				c.count.Add(1)
			}
		}
		c.mu.Unlock()
	}
}

// waitCount waits until at least n distinct events were handled.
func (c *collector) waitCount(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.count.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("handled %d events, want %d", c.count.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// check verifies the deliveries against the events sent: every event
// handled at least once (exactly once when exact), and each entity's events
// handled in the order they were sent, duplicates aside (a redelivered run
// may restart an entity's sequence, never reorder it).
func (c *collector) check(t testing.TB, sent []schema.Event, exact bool) (dups int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[uint64]int, len(sent))
	for _, d := range c.got {
		seen[d.id]++
	}
	for i := range sent {
		n := seen[sent[i].ID]
		switch {
		case n == 0:
			t.Fatalf("event %d (entity %v) never handled; %d handled in all", sent[i].ID, sent[i].Entity, len(c.got))
		case n > 1 && exact:
			t.Fatalf("event %d handled %d times", sent[i].ID, n)
		}
		dups += n - 1
	}
	if len(seen) != len(sent) {
		t.Fatalf("%d distinct events handled, %d sent", len(seen), len(sent))
	}
	// Per entity, the first handling of each event follows the order the
	// events were sent (duplicates are later re-handlings of a tail).
	entityOrder := map[schema.EntityKey][]uint64{}
	for i := range sent {
		entityOrder[sent[i].Entity] = append(entityOrder[sent[i].Entity], sent[i].ID)
	}
	first := map[uint64]uint64{} // id → stamp of first handling
	for _, d := range c.got {    // in stamp order: appended under mu
		if _, ok := first[d.id]; !ok {
			first[d.id] = d.stamp
		}
	}
	for k, ids := range entityOrder {
		for i := 1; i < len(ids); i++ {
			if first[ids[i]] < first[ids[i-1]] {
				t.Fatalf("entity %v: event %d first handled before event %d", k, ids[i], ids[i-1])
			}
		}
	}
	return dups
}

// node is one detection node: a bus, a Source, and its Run in a goroutine.
type node struct {
	bus    *engine.Bus
	src    *Source
	cancel context.CancelFunc
	done   chan error
}

// startNode starts a detection node whose workers feed col.
func startNode(t testing.TB, cfg Config, col *collector, id, partitions int) *node {
	t.Helper()
	bus, err := engine.New(engine.Config{Partitions: partitions, QueueSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(col.handler(id)); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(cfg, bus)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{bus: bus, src: src, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- src.Run(ctx) }()
	return n
}

// stop stops the node gracefully: the Source drains, commits and leaves,
// then the bus shuts down.
func (n *node) stop(t testing.TB) {
	t.Helper()
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("source: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("source did not stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.bus.Shutdown(ctx); err != nil {
		t.Errorf("bus: %v", err)
	}
}

func (n *node) String() string { return fmt.Sprintf("%+v", n.src.Stats()) }

var testLogLevel = slog.LevelWarn
