package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// TestForwarderRecords checks what a Forwarder writes: one record per
// entity per flush, keyed by the entity in decimal, the format header, the
// entity's events in order, and all of an entity's records in one
// partition, in order.
func TestForwarderRecords(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 5, "records")
	for _, f := range []Format{FormatBinary, FormatJSON} {
		cfg := testConfig(t, c, "records")
		cfg.Format = f
		cfg.Linger = time.Hour // flushes only when a lane fills, and at Close
		cfg.BatchEvents = 400
		cfg.Lanes = 3
		wantSchema := ""
		if f == FormatJSON { // and records name their schema
			cfg.SchemaID, cfg.SchemaVersion, wantSchema = "acme.sensor", 2, "acme.sensor/2"
		}
		sent := events(2000)
		fst := forward(t, cfg, sent)
		entities := map[schema.EntityKey]bool{}
		for i := range sent {
			entities[sent[i].Entity] = true
		}
		if fst.Records < uint64(len(entities)) || fst.Records >= uint64(len(sent)) {
			t.Errorf("%v: %d records for %d events of %d entities", f, fst.Records, len(sent), len(entities))
		}
		recs := readTopic(t, c, "records", int(fst.Records))
		c.DeleteTopic("records")
		c.CreateTopic("records", 5, nil)

		partOf := map[schema.EntityKey]int32{}
		lastID := map[schema.EntityKey]uint64{}
		byPart := map[int32][]int64{}
		dec := newDecoder(replay.ReaderOptions{}, 1<<16)
		got := 0
		for _, r := range recs {
			if header(r, HeaderFormat) != f.header() {
				t.Fatalf("format header %q", header(r, HeaderFormat))
			}
			if header(r, HeaderSchema) != wantSchema {
				t.Fatalf("schema header %q, want %q", header(r, HeaderSchema), wantSchema)
			}
			n, err := dec.decode(r.Headers, r.Value)
			if err != nil || n == 0 {
				t.Fatalf("record decodes to %d events: %v", n, err)
			}
			k := dec.evs[0].Entity
			if string(r.Key) != k.String() {
				t.Fatalf("key %q, entity %v", r.Key, k)
			}
			if p, ok := partOf[k]; ok && p != r.Partition {
				t.Fatalf("entity %v in partitions %d and %d", k, p, r.Partition)
			}
			partOf[k] = r.Partition
			byPart[r.Partition] = append(byPart[r.Partition], r.Offset)
			for _, ev := range dec.evs[:n] {
				if ev.Entity != k {
					t.Fatalf("record of %v holds an event of %v", k, ev.Entity)
				}
				if ev.ID <= lastID[k] {
					t.Fatalf("entity %v: event %d after %d", k, ev.ID, lastID[k])
				}
				lastID[k] = ev.ID
				got++
			}
		}
		if got != len(sent) {
			t.Fatalf("%d events in the records, %d sent", got, len(sent))
		}
		for p, offs := range byPart {
			for i := 1; i < len(offs); i++ {
				if offs[i] <= offs[i-1] {
					t.Fatalf("partition %d read out of order", p)
				}
			}
		}
	}
}

// TestForwarderHandle feeds a Forwarder from a sensor bus's workers.
func TestForwarderHandle(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 2, 4, "handle")
	cfg := testConfig(t, c, "handle")
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := engine.New(engine.Config{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Run(f.Handle); err != nil {
		t.Fatal(err)
	}
	sent := events(3000)
	if n, err := bus.PublishBatch(sent); err != nil || n != len(sent) {
		t.Fatalf("published %d: %v", n, err)
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := closeForwarder(t, f)
	if st.Events != uint64(len(sent)) || st.Delivered != st.Events || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	col := &collector{}
	n := startNode(t, cfg, col, 1, 2)
	col.waitCount(t, len(sent), 20*time.Second)
	n.stop(t)
	col.check(t, sent, true)
}

// TestForwarderLinger delivers a lone event once it has lingered, without
// a Flush; with no lingering every event is its own record.
func TestForwarderLinger(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 1, "linger")
	cfg := testConfig(t, c, "linger")
	cfg.Linger = 20 * time.Millisecond
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := events(3)
	for round := range 2 {
		if err := f.Publish(&evs[round]); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for f.Stats().Delivered != uint64(round+1) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: lingering event not delivered: %+v", round, f.Stats())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	closeForwarder(t, f)

	cfg.Linger = -1
	f, err = NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		f.Publish(&evs[i])
	}
	if st := closeForwarder(t, f); st.Records != 3 {
		t.Fatalf("no lingering: %d records for 3 events", st.Records)
	}
}

// TestForwarderAccounting covers refusals after Close, encoding failures
// and acks other than all.
func TestForwarderAccounting(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "acct")
	for _, acks := range []Acks{AcksLeader, AcksNone} {
		cfg := testConfig(t, c, "acct")
		cfg.Acks = acks
		cfg.Logger = nil
		f, err := NewForwarder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		evs := events(10)
		huge, err := schema.NewBuilder(nil).ID(99).Type(1).Entity(evs[0].Entity).
			Field(1, value.StringValue(strings.Repeat("x", replay.MaxBlockSize+1))).Build()
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			f.Publish(&evs[i])
		}
		f.Publish(&huge)
		ctx := context.Background()
		if err := f.Close(ctx); !errors.Is(err, ErrUndelivered) {
			t.Fatalf("Close: %v, want ErrUndelivered for the huge event", err)
		}
		if err := f.Publish(&evs[0]); err != ErrClosed {
			t.Fatalf("Publish after Close: %v", err)
		}
		f.Handle(0, []*schema.Event{&evs[1], &evs[2]})
		if err := f.Close(ctx); err != ErrClosed {
			t.Fatalf("second Close: %v", err)
		}
		st := f.Stats()
		want := ForwarderStats{Events: 11, Delivered: 10, Failed: 1, EncodeFailed: 1, Refused: 3,
			Records: st.Records, RecordsDelivered: st.Records, Bytes: st.Bytes}
		if st != want {
			t.Fatalf("acks %v: stats %+v, want %+v", acks, st, want)
		}
	}
}

// TestPublishAllocs proves that buffering an event allocates nothing.
func TestPublishAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	cfg := Config{Brokers: []string{"127.0.0.1:1"}, Linger: time.Hour, BatchEvents: MaxBatchEvents, Lanes: 1}
	f, err := NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := events(64)
	for i := range evs { // grow the lane's copies' spill storage
		f.Publish(&evs[i])
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		f.Publish(&evs[i%len(evs)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("Publish allocates %.1f times", allocs)
	}
	// Nothing can be delivered to port 1: fail fast.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	f.Close(ctx)
	if st := f.Stats(); st.Failed != st.Events || st.InFlight != 0 || st.Buffered != 0 {
		t.Fatalf("after a failed Close: %+v", st)
	}
}

// TestForwarderSplitsLargeGroups keeps records under BatchBytes by
// splitting an entity's events, in order, over several records.
func TestForwarderSplitsLargeGroups(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 2, "split")
	cfg := testConfig(t, c, "split")
	cfg.Format = FormatJSON // ~360 bytes an event: 4096 bytes hold ~10
	cfg.BatchBytes = 4096
	cfg.Linger = time.Hour
	cfg.Lanes = 1
	sent := events(200)
	for i := range sent {
		sent[i].Entity = schema.EntityKeyFrom64(7) // one entity
	}
	fst := forward(t, cfg, sent)
	if fst.Records < 200*360/4096 {
		t.Fatalf("%d records for 200 events of one entity under 4 KiB", fst.Records)
	}
	col := &collector{}
	n := startNode(t, cfg, col, 1, 2)
	col.waitCount(t, len(sent), 20*time.Second)
	n.stop(t)
	col.check(t, sent, true)
}
