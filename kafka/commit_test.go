package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committedOffset reads group's committed offset of topic's partition from
// the brokers: -1 when none is committed.
func committedOffset(t testing.TB, c *kfake.Cluster, group, topic string, partition int32) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = []int32{partition}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rt.Topic == topic && rp.Partition == partition {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					t.Fatalf("offset fetch of %s/%d: %v", topic, partition, err)
				}
				return rp.Offset
			}
		}
	}
	return -1
}

// errorCounter is a slog.Handler that counts records at Error and above
// and passes everything on.
type errorCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h errorCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return errorCounter{h.Handler.WithAttrs(as), h.n}
}

func (h errorCounter) WithGroup(g string) slog.Handler {
	return errorCounter{h.Handler.WithGroup(g), h.n}
}

// TestSourceRoutedCommit runs a Source over a bus whose Route copies every
// event into every partition, as detection routing does, while one
// partition's Handler is held inside its first batch. No record's entity
// is in that partition, but every record has copies there, so no offset
// may be committed while it is held, however far the other partitions
// (whose workers handle more events than the Source published into them)
// have gone; once released, everything is committed. Nothing is logged as
// an error.
//
// With 64 partitions and records of one event the Source marks several
// records at once (markRecords: withNext); with 4 and records of 5, each;
// an Ordered bus merges the lanes before handing events on.
func TestSourceRoutedCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		parts, perRecord int
		ordered          bool
	}{{4, 5, false}, {64, 1, false}, {4, 5, true}} {
		t.Run(fmt.Sprintf("%dx%d/ordered=%v", tc.parts, tc.perRecord, tc.ordered), func(t *testing.T) {
			t.Parallel()
			testSourceRoutedCommit(t, tc.parts, tc.perRecord, tc.ordered)
		})
	}
}

func testSourceRoutedCommit(t *testing.T, parts, perRecord int, ordered bool) {
	const records = 20
	held := parts - 1
	topic := fmt.Sprintf("routed%d-%v", parts, ordered)
	c := newCluster(t, 1, 1, topic)
	cfg := testConfig(t, c, topic)
	var errs atomic.Int64
	cfg.Logger = slog.New(errorCounter{cfg.Logger.Handler(), &errs})

	// Records of entities outside the held partition: only their copies
	// sit there, which a Source counting its own events would miss.
	var sent []schema.Event
	for _, ev := range events(8 * records * perRecord) {
		if engine.EntityPartition(ev.Entity, parts) != held && len(sent) < records*perRecord {
			sent = append(sent, ev)
		}
	}
	if len(sent) < records*perRecord {
		t.Fatalf("only %d events outside partition %d", len(sent), held)
	}
	recs := make([]*kgo.Record, records)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: encodeValue(t, FormatBinary, sent[i*perRecord:(i+1)*perRecord])}
	}
	produceRaw(t, c, recs...)

	entered, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	handled := make([]atomic.Int64, parts)
	bus, err := engine.New(engine.Config{
		Partitions: parts,
		Workers:    parts, // the held partition holds up no other
		QueueSize:  1024,
		Ordered:    ordered,
		Route: func(*schema.Event) engine.PartitionSet {
			var s engine.PartitionSet
			for p := range parts {
				s.Add(p)
			}
			return s
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		open()
		bus.Shutdown(context.Background())
	})
	if err := bus.Run(func(p int, batch []*schema.Event) {
		if p == held {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		handled[p].Add(int64(len(batch)))
	}); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(cfg, bus)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()

	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the held partition's Handler was never called")
	}
	deadline := time.Now().Add(30 * time.Second)
	freeDone := func() bool {
		for p := range held {
			if handled[p].Load() < int64(len(sent)) {
				return false
			}
		}
		return true
	}
	for st := src.Stats(); st.Events < uint64(len(sent)) || !freeDone(); st = src.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("source %+v; the free partitions have not handled all %d", st, len(sent))
		}
		time.Sleep(time.Millisecond)
	}
	// The free partitions handled every copy. Give the Source commit
	// intervals to go wrong in (a count-based Source commits here).
	time.Sleep(10 * cfg.CommitInterval)
	if off := committedOffset(t, c, cfg.Group, topic, 0); off != -1 {
		t.Fatalf("offset %d committed while every record has copies held in partition %d", off, held)
	}
	if st := src.Stats(); st.Pending != records || st.Commits != 0 {
		t.Fatalf("source %+v while held: want %d records pending, no commit", st, records)
	}

	open()
	deadline = time.Now().Add(30 * time.Second)
	for committedOffset(t, c, cfg.Group, topic, 0) != records {
		if time.Now().After(deadline) {
			t.Fatalf("offset %d committed after the release, want %d; source %+v",
				committedOffset(t, c, cfg.Group, topic, 0), records, src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if st.Pending != 0 || st.Events != uint64(len(sent)) || st.Abandoned != 0 {
		t.Errorf("source %+v: want %d events, nothing pending or abandoned", st, len(sent))
	}
	for p := range parts {
		if n := handled[p].Load(); n != int64(len(sent)) {
			t.Errorf("partition %d handled %d events, want every one of %d", p, n, len(sent))
		}
	}
	if n := errs.Load(); n != 0 {
		t.Errorf("%d errors logged", n)
	}
}

// TestAdvanceWithNext: records marked together wait for the last one's
// marks, are counted handled with it, and a record without marks waits
// only for those before it.
func TestAdvanceWithNext(t *testing.T) {
	ps := &partState{done: kgo.EpochOffset{Epoch: -1, Offset: -1}, committed: -1}
	m := &marks{parts: []int32{0, 1}, pos: []uint64{5, 3}}
	ps.push(pending{offset: 0, withNext: true})
	ps.push(pending{offset: 1, withNext: true})
	ps.push(pending{offset: 2, marks: m})
	ps.push(pending{offset: 3})
	if n := ps.advance([]uint64{4, 3}); n != 0 || ps.done.Offset != -1 || ps.waiting() != 2 || ps.carried != 2 {
		t.Fatalf("before the marks: %d records, done %d, %d waiting, %d carried", n, ps.done.Offset, ps.waiting(), ps.carried)
	}
	if n := ps.advance([]uint64{4, 3}); n != 0 || m.next != 0 {
		t.Fatalf("again: %d records, %d marks reached", n, m.next)
	}
	if n := ps.advance([]uint64{5, 3}); n != 4 || ps.done.Offset != 4 || ps.waiting() != 0 || ps.carried != 0 {
		t.Fatalf("after the marks: %d records, done %d, %d waiting, %d carried", n, ps.done.Offset, ps.waiting(), ps.carried)
	}
}
