package kafka

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kfake"
)

// eventCount sizes the end-to-end tests: smaller under -race and -short.
func eventCount() int {
	switch {
	case raceEnabled:
		return 4000
	case testing.Short():
		return 4000
	}
	return 20000
}

// TestEndToEnd forwards events to a three-broker cluster and consumes them
// with two Sources in one group: every event reaches a worker exactly once,
// each entity's events in the order they were sent.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 8, "e2e")
	cfg := testConfig(t, c, "e2e")
	sent := events(eventCount())
	col := &collector{}
	a := startNode(t, cfg, col, 1, 4)
	b := startNode(t, cfg, col, 2, 3)
	waitGroup(t, c, cfg.Group, 2)
	fst := forward(t, cfg, sent)
	col.waitCount(t, len(sent), 20*time.Second)
	a.stop(t)
	b.stop(t)
	col.check(t, sent, true)
	sa, sb := a.src.Stats(), b.src.Stats()
	if sa.Events+sb.Events != uint64(len(sent)) || sa.Records+sb.Records != fst.Records {
		t.Fatalf("sources published %d+%d events from %d+%d records, want %d from %d",
			sa.Events, sb.Events, sa.Records, sb.Records, len(sent), fst.Records)
	}
	if sa.Events == 0 || sb.Events == 0 || sa.Poison+sb.Poison != 0 || sa.Pending+sb.Pending != 0 {
		t.Fatalf("source stats: %+v %+v", sa, sb)
	}
	t.Logf("forwarder %+v", fst)
	t.Logf("node a %+v", sa)
	t.Logf("node b %+v", sb)
}

// publishPaced publishes evs through f in chunks, a pause between chunks,
// so that the stream is live while the group changes. It returns when all
// were published.
func publishPaced(t testing.TB, f *Forwarder, evs []schema.Event, chunks int, pause time.Duration) {
	step := (len(evs) + chunks - 1) / chunks
	for i := range evs {
		if err := f.Publish(&evs[i]); err != nil {
			t.Error(err)
			return
		}
		if i%step == step-1 {
			time.Sleep(pause)
		}
	}
}

// TestRebalanceExactlyOnce changes the group while events flow: node A
// starts alone, node B joins (A hands partitions over), then A leaves (B
// takes everything). Nothing fails, so every event still reaches a worker
// exactly once, in per-entity order.
func TestRebalanceExactlyOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 6, "rebal")
	cfg := testConfig(t, c, "rebal")
	sent := events(eventCount())
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		publishPaced(t, f, sent, 60, 20*time.Millisecond)
	}()

	col := &collector{}
	a := startNode(t, cfg, col, 1, 2)
	col.waitCount(t, len(sent)/4, 20*time.Second)
	b := startNode(t, cfg, col, 2, 3)
	waitAssigned(t, b.src, 20*time.Second)
	col.waitCount(t, len(sent)/2, 20*time.Second)
	a.stop(t)
	<-pubDone
	closeForwarder(t, f)
	col.waitCount(t, len(sent), 20*time.Second)
	b.stop(t)

	col.check(t, sent, true)
	sa, sb := a.src.Stats(), b.src.Stats()
	if sa.Revoked == 0 || sb.Assigned <= sb.Revoked-sa.Revoked {
		t.Logf("a %+v\nb %+v", sa, sb)
	}
	if sa.Events == 0 || sb.Events == 0 || sa.Events+sb.Events != uint64(len(sent)) {
		t.Fatalf("events published: a %d, b %d, want %d in all", sa.Events, sb.Events, len(sent))
	}
	t.Logf("a %+v", sa)
	t.Logf("b %+v", sb)
}

// waitGroup waits until the group is stable with members members, every
// partition assigned.
func waitGroup(t testing.TB, c *kfake.Cluster, group string, members int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.WaitGroupStable(ctx, group, members); err != nil {
		t.Fatalf("group %s: %v", group, err)
	}
}

// waitAssigned waits until s holds partitions.
func waitAssigned(t testing.TB, s *Source, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for st := s.Stats(); st.Assigned == st.Revoked+st.Lost; st = s.Stats() {
		if time.Now().After(deadline) {
			t.Fatal("no partition assigned")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closeForwarder(t testing.TB, f *Forwarder) ForwarderStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return f.Stats()
}

// TestNodeFailureAtLeastOnce stops a node the hard way: its workers hang
// (and never handle what they hold) while its bus fills, then its bus is
// shut down without draining, so its Source cannot commit those records.
// The other node reads them again: every event is handled at least once,
// none is lost, and each entity's order holds.
func TestNodeFailureAtLeastOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 6, "fail")
	cfg := testConfig(t, c, "fail")
	cfg.DrainTimeout = 100 * time.Millisecond
	sent := events(eventCount())
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		publishPaced(t, f, sent, 40, 20*time.Millisecond)
	}()

	col := &collector{}
	var dead atomic.Bool
	release := make(chan struct{})
	a := startNodeWith(t, cfg, 1, 2, func(p int, batch []*schema.Event) {
		if dead.Load() {
			<-release // a hung worker: what it holds is never handled
			return
		}
		col.handler(1)(p, batch)
	})
	b := startNode(t, cfg, col, 2, 2)
	waitGroup(t, c, cfg.Group, 2)
	col.waitCount(t, len(sent)/3, 20*time.Second)

	// A's workers hang; its Source keeps publishing until the bus holds
	// events; then its bus goes without draining.
	dead.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for a.bus.Stats().Total().Queued == 0 {
		if time.Now().After(deadline) {
			t.Fatal("node a's bus never filled")
		}
		time.Sleep(time.Millisecond)
	}
	aborted, cancel := context.WithCancel(context.Background())
	cancel()
	t.Logf("node a bus shutdown: %v", a.bus.Shutdown(aborted))
	a.cancel()
	select {
	case err := <-a.done:
		t.Logf("node a source: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("node a did not stop")
	}
	close(release)
	a.bus.Shutdown(context.Background())

	<-pubDone
	closeForwarder(t, f)
	col.waitCount(t, len(sent), 20*time.Second)
	b.stop(t)
	dups := col.check(t, sent, false)
	sa := a.src.Stats()
	if sa.Abandoned == 0 {
		t.Fatalf("node a abandoned no record: %+v", sa)
	}
	t.Logf("duplicates: %d; a %+v", dups, sa)
	t.Logf("b %+v", b.src.Stats())
}

// startNodeWith starts a node running h.
func startNodeWith(t testing.TB, cfg Config, id, partitions int, h engine.Handler) *node {
	t.Helper()
	bus, err := engine.New(engine.Config{Partitions: partitions, QueueSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(h); err != nil {
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

// TestBrokerRestart takes a broker away while events are produced and
// consumed, then brings it back: the idempotent producer and the group
// carry on, and every event is handled, none lost.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 6, "restart", kfake.ListenFn(listenDroppingConns))
	cfg := testConfig(t, c, "restart")
	sent := events(eventCount())
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		publishPaced(t, f, sent, 40, 15*time.Millisecond)
	}()
	col := &collector{}
	a := startNode(t, cfg, col, 1, 2)
	b := startNode(t, cfg, col, 2, 2)
	col.waitCount(t, len(sent)/4, 20*time.Second)

	// Restart the leader of partition 0 on its port.
	leader := c.LeaderFor("restart", 0)
	port := portOf(t, c, leader)
	if err := c.RemoveNode(leader); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, _, err := c.AddNode(leader, port); err != nil {
		t.Fatal(err)
	}

	<-pubDone
	fst := closeForwarder(t, f)
	col.waitCount(t, len(sent), 30*time.Second)
	a.stop(t)
	b.stop(t)
	dups := col.check(t, sent, false)
	t.Logf("duplicates %d; forwarder %+v", dups, fst)
	t.Logf("a %+v", a.src.Stats())
	t.Logf("b %+v", b.src.Stats())
}

// listenDroppingConns listens like net.Listen, and closing the listener
// also closes the connections it accepted, as a broker process that goes
// away does (kfake's RemoveNode closes only the listener).
func listenDroppingConns(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &droppingListener{Listener: ln}, nil
}

type droppingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

func (l *droppingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns = append(l.conns, c)
	return c, nil
}

func (l *droppingListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
	return err
}

// portOf returns the port node listens on.
func portOf(t testing.TB, c *kfake.Cluster, nodeID int32) int {
	t.Helper()
	addrs := c.ListenAddrs()
	// ListenAddrs is in broker order; node IDs are 0..n-1 at the start.
	_, p, err := net.SplitHostPort(addrs[nodeID])
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port
}
