package kafka

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// encodeValue returns the record value of evs in format f.
func encodeValue(t testing.TB, f Format, evs []schema.Event) []byte {
	t.Helper()
	enc, err := newEncoder(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.close()
	ptrs := make([]*schema.Event, len(evs))
	for i := range evs {
		ptrs[i] = &evs[i]
	}
	v, n, bad, err := enc.appendRecord(nil, ptrs)
	if err != nil || n != len(evs) || bad != 0 {
		t.Fatalf("encode: %d events, %d bad, %v", n, bad, err)
	}
	return v
}

// produceRaw produces records with a plain client, bypassing the Forwarder.
func produceRaw(t testing.TB, c *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestPoisonRecords mixes undecodable records into the topic: each goes to
// the dead-letter topic with its reason and origin, is counted, and
// publishes nothing; every good event is still handled exactly once.
func TestPoisonRecords(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 2, 4, "poison", kfake.SeedTopics(2, "poison.dlq"))
	cfg := testConfig(t, c, "poison")
	sent := events(600)
	good := encodeValue(t, FormatBinary, sent[:3])
	flipped := bytes.Clone(good)
	flipped[len(flipped)-kbin.EndMarkerSize-5] ^= 0xff // inside the block's payload
	truncated := good[:len(good)-kbin.EndMarkerSize]
	jsonGood := encodeValue(t, FormatJSON, sent[:2])

	kbin := []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte("kbin/1")}}
	poison := []struct {
		rec    *kgo.Record
		reason string
	}{
		{&kgo.Record{Topic: "poison", Key: []byte("1"), Value: []byte("garbage"), Headers: kbin}, "magic"},
		{&kgo.Record{Topic: "poison", Key: []byte("2"), Value: []byte("{not json\n")}, "line 1"},
		{&kgo.Record{Topic: "poison", Key: []byte("3"), Value: flipped, Headers: kbin}, "checksum"},
		{&kgo.Record{Topic: "poison", Key: []byte("4"), Value: good, Headers: []kgo.RecordHeader{{Key: HeaderFormat, Value: []byte("kbin/9")}}}, "unsupported"},
		{&kgo.Record{Topic: "poison", Key: []byte("5"), Value: truncated, Headers: kbin}, "truncated"},
		{&kgo.Record{Topic: "poison", Key: []byte("6"), Value: jsonGood, Headers: kbin}, "magic"},
	}
	forward(t, cfg, sent[:300])
	for _, p := range poison {
		produceRaw(t, c, p.rec)
	}
	forward(t, cfg, sent[300:])

	col := &collector{}
	a := startNode(t, cfg, col, 1, 2)
	b := startNode(t, cfg, col, 2, 2)
	col.waitCount(t, len(sent), 20*time.Second)
	dlq := readTopic(t, c, "poison.dlq", len(poison))
	a.stop(t)
	b.stop(t)
	col.check(t, sent, true)

	sa, sb := a.src.Stats(), b.src.Stats()
	if got := sa.Poison + sb.Poison; got != uint64(len(poison)) {
		t.Fatalf("poison %d, want %d", got, len(poison))
	}
	if got := sa.DeadLettered + sb.DeadLettered; got != uint64(len(poison)) || sa.DeadLetterFailed+sb.DeadLetterFailed != 0 {
		t.Fatalf("dead-lettered %d (failed %d), want %d", got, sa.DeadLetterFailed+sb.DeadLetterFailed, len(poison))
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range dlq {
		byKey[string(r.Key)] = r
	}
	for _, p := range poison {
		r := byKey[string(p.rec.Key)]
		if r == nil {
			t.Fatalf("record %s not in the dead-letter topic", p.rec.Key)
		}
		if !bytes.Equal(r.Value, p.rec.Value) {
			t.Errorf("record %s: dead-letter value differs from the original", p.rec.Key)
		}
		reason := header(r, HeaderDLQReason)
		if !strings.Contains(reason, p.reason) {
			t.Errorf("record %s: reason %q, want it to mention %q", p.rec.Key, reason, p.reason)
		}
		if header(r, HeaderDLQTopic) != "poison" || header(r, HeaderDLQOffset) == "" ||
			header(r, HeaderDLQPartition) == "" || header(r, HeaderDLQGroup) != cfg.Group {
			t.Errorf("record %s: origin headers %v", p.rec.Key, r.Headers)
		}
		t.Logf("dead letter %s: %s", p.rec.Key, reason)
	}
}

// TestPoisonWithoutDeadLetter counts and skips poison records when the
// dead-letter topic is off, and when writing to it fails.
func TestPoisonWithoutDeadLetter(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "nodlq")
	cfg := testConfig(t, c, "nodlq")
	cfg.DeadLetterTopic = NoDeadLetter
	sent := events(50)
	forward(t, cfg, sent[:20])
	produceRaw(t, c, &kgo.Record{Topic: "nodlq", Value: []byte("{oops")})
	forward(t, cfg, sent[20:])
	col := &collector{}
	n := startNode(t, cfg, col, 1, 1)
	col.waitCount(t, len(sent), 20*time.Second)
	n.stop(t)
	col.check(t, sent, true)
	if st := n.src.Stats(); st.Poison != 1 || st.DeadLetterFailed != 1 || st.DeadLettered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBackpressurePauses gives the Source a tiny bus that drops when full
// and slow workers: the Source pauses fetching and retries, never loses an
// event, and says so in its counters.
func TestBackpressurePauses(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "bp")
	cfg := testConfig(t, c, "bp")
	sent := events(1500)
	forward(t, cfg, sent)

	col := &collector{}
	h := col.handler(1)
	bus, err := engine.New(engine.Config{Partitions: 2, QueueSize: 16, Backpressure: engine.Drop, BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(func(p int, batch []*schema.Event) {
		time.Sleep(200 * time.Microsecond)
		h(p, batch)
	}); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(cfg, bus)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	col.waitCount(t, len(sent), 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.check(t, sent, true)
	st := src.Stats()
	if st.BusRefusals == 0 || st.Pauses == 0 || st.Events != uint64(len(sent)) {
		t.Fatalf("stats %+v: want refusals and pauses, %d events", st, len(sent))
	}
	bst := bus.Stats().Total()
	if bst.Delivered != uint64(len(sent)) || bst.Dropped != st.BusRefusals {
		t.Fatalf("bus %+v: want %d delivered and the source's %d refusals as drops", bst, len(sent), st.BusRefusals)
	}
	t.Logf("source %+v", st)
}

// TestSourceBusClosed ends Run with engine.ErrClosed when the bus shuts
// down under it.
func TestSourceBusClosed(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 1, "closed")
	cfg := testConfig(t, c, "closed")
	forward(t, cfg, events(10))
	bus, err := engine.New(engine.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(cfg, bus)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background())
	if !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Run: %v, want engine.ErrClosed", err)
	}
	if err := src.Run(context.Background()); err != ErrRunning {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
}
