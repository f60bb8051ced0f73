package replay

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

// busRun replays path into a fresh bus of the given configuration, with
// handler h, and returns the replay's stats, the bus's, and the error.
func busRun(t *testing.T, path string, cfg engine.Config, rcfg Config, h engine.Handler) (Stats, engine.Stats, error) {
	t.Helper()
	bus, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		if err := bus.Run(h); err != nil {
			t.Fatal(err)
		}
	}
	rp, err := New(bus, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	st, rerr := rp.Replay(context.Background(), path)
	if h == nil {
		if err := bus.Run(nil); err != nil { // drain what was queued
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return st, bus.Stats(), rerr
}

// TestReplayDeterministicBus replays into a real engine.Bus: every run gives
// each partition the same events in the same order, and nothing is lost.
func TestReplayDeterministicBus(t *testing.T) {
	n := 20000
	if testing.Short() || raceEnabled {
		n = 4000
	}
	evs := demo.GenerateEvents(21, n, nil)
	path := writeLog(t, t.TempDir(), "bus.kbin", evs)
	const parts = 4
	var first [parts][]string
	for run := range 3 {
		var got [parts][]string // each written by its partition's worker only
		clk := clock.New()
		st, bst, err := busRun(t, path, engine.Config{Partitions: parts, QueueSize: 256, Clock: clk},
			Config{Clock: clk}, func(p int, batch []*schema.Event) {
				for _, ev := range batch {
					got[p] = append(got[p], string(ev.AppendJSON(nil)))
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		tot := bst.Total()
		if st.Published != int64(n) || st.Dropped != 0 || tot.Delivered != uint64(n) || tot.Published != uint64(n) {
			t.Fatalf("run %d: replay %+v, bus %+v", run, st, tot)
		}
		if run == 0 {
			first = got
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d: a partition saw a different order", run)
		}
	}
}

// TestReplayBusDrops fills a bus nobody consumes: the replay's Dropped
// equals the bus's own count.
func TestReplayBusDrops(t *testing.T) {
	evs := demo.GenerateEvents(22, 1000, nil)
	path := writeLog(t, t.TempDir(), "drop.jsonl", evs)
	st, bst, err := busRun(t, path, engine.Config{Partitions: 2, QueueSize: 64, Backpressure: engine.Drop}, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tot := bst.Total()
	if st.Published != 128 || st.Dropped != 1000-128 || tot.Dropped != uint64(st.Dropped) || tot.Delivered != 128 {
		t.Fatalf("replay %+v, bus %+v", st, tot)
	}

	// Under Block, a full bus times out; the replay counts those as drops.
	st, bst, err = busRun(t, path, engine.Config{Partitions: 1, QueueSize: 16, BackpressureTimeout: time.Microsecond}, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tot := bst.Total(); st.Dropped == 0 || tot.TimedOut != uint64(st.Dropped) || st.Published+st.Dropped != 1000 {
		t.Fatalf("replay %+v, bus %+v", st, tot)
	}
}

// TestReplayBusClosed stops with a *PublishError once the bus is closed.
func TestReplayBusClosed(t *testing.T) {
	path := writeLog(t, t.TempDir(), "closed.kbin", demo.GenerateEvents(23, 10, nil))
	bus, err := engine.New(engine.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rp, _ := New(bus, Config{})
	st, err := rp.Replay(context.Background(), path)
	var pe *PublishError
	if !errors.As(err, &pe) || !errors.Is(err, engine.ErrClosed) || pe.Record != 1 || st.Published != 0 {
		t.Fatalf("%v, %+v", err, st)
	}
}

// TestReplayBusTimeSync checks handlers behind a real bus never see the
// clock behind the event they handle: the replay sets it before publishing.
// (They may see it ahead: the replay goes on while workers handle earlier
// events; TestReplayWithTimeSync checks exact equality with a synchronous
// Publisher.)
func TestReplayBusTimeSync(t *testing.T) {
	evs := demo.GenerateEvents(24, 2000, nil)
	path := writeLog(t, t.TempDir(), "sync.jsonl", evs)
	clk := clock.New()
	var behind atomic.Int64
	st, _, err := busRun(t, path, engine.Config{Partitions: 2, Clock: clk}, Config{Clock: clk},
		func(_ int, batch []*schema.Event) {
			for _, ev := range batch {
				if clk.NowMono() < uint64(ev.TsMono) {
					behind.Add(1)
				}
			}
		})
	if err != nil || st.Published != 2000 {
		t.Fatal(err, st)
	}
	if behind.Load() != 0 {
		t.Fatalf("%d events handled with the clock behind them", behind.Load())
	}
}

// BenchmarkReplayBus replays each format into a real engine.Bus (two
// partitions, Block, workers consuming with no handler): one replaying
// thread, as a command line's replay runs.
func BenchmarkReplayBus(b *testing.B) {
	benchLogs(b)
	for _, c := range []struct {
		name string
		data func() []byte
	}{
		{"json", func() []byte { return benchJSON }},
		{"zstd", func() []byte { return benchZstd }},
		{"binary", func() []byte { return benchBin }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data())))
			for b.Loop() {
				clk := clock.New()
				bus, err := engine.New(engine.Config{Partitions: 2, Clock: clk})
				if err != nil {
					b.Fatal(err)
				}
				if err := bus.Run(nil); err != nil {
					b.Fatal(err)
				}
				rp, err := New(bus, Config{Clock: clk})
				if err != nil {
					b.Fatal(err)
				}
				r, err := NewReader(bytes.NewReader(c.data()))
				if err != nil {
					b.Fatal(err)
				}
				st, err := rp.ReplayReader(context.Background(), r)
				if err != nil || st.Published != benchEvents {
					b.Fatal(err, st)
				}
				r.Close()
				if err := bus.Shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			reportEvents(b, benchEvents)
		})
	}
}
