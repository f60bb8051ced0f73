package replay

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestRecorderRoundTrip records from several publishing goroutines into a
// bus, then replays the log: the same events reach each partition in the
// same order.
func TestRecorderRoundTrip(t *testing.T) {
	evs := demo.GenerateEvents(51, 4000, nil)
	var got1, got2 [2][]string
	handler := func(got *[2][]string) engine.Handler {
		return func(p int, batch []*schema.Event) {
			for _, ev := range batch {
				got[p] = append(got[p], string(ev.AppendJSON(nil)))
			}
		}
	}
	bus, err := engine.New(engine.Config{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	bus.Run(handler(&got1))
	var log bytes.Buffer
	w, _ := NewBinaryWriter(&log, WriterOptions{})
	rec := NewRecorder(bus, w)
	var wg sync.WaitGroup
	for g := range 4 { // each goroutine publishes its own entities
		wg.Go(func() {
			for i := range evs {
				if evs[i].Entity.Lo%4 == uint64(g) {
					if err := rec.Publish(&evs[i]); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := rec.Stats(); st.Recorded != int64(len(evs)) || st.Failed != 0 {
		t.Fatalf("recorder %+v", st)
	}

	bus2, _ := engine.New(engine.Config{Partitions: 2})
	bus2.Run(handler(&got2))
	rp, _ := New(bus2, Config{})
	r, err := NewReader(&log)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st, err := rp.ReplayReader(ctx, r); err != nil || st.Published != int64(len(evs)) {
		t.Fatal(st, err)
	}
	if err := bus2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for p := range got1 {
		if len(got1[p]) != len(got2[p]) {
			t.Fatalf("partition %d: %d events live, %d replayed", p, len(got1[p]), len(got2[p]))
		}
		for i := range got1[p] {
			if got1[p][i] != got2[p][i] {
				t.Fatalf("partition %d event %d differs", p, i)
			}
		}
	}
}

type failWriter struct{}

func (failWriter) Write(*schema.Event) error { return errors.New("disk full") }
func (failWriter) Flush() error              { return nil }
func (failWriter) Close() error              { return nil }

func TestRecorderCountsWriteFailures(t *testing.T) {
	rec := NewRecorder(&nopPublisher{}, failWriter{})
	ev := build(t, 1, 1, 1, schema.EntityKey{})
	for range 3 {
		if err := rec.Publish(&ev); err != nil {
			t.Fatal(err)
		}
	}
	if st := rec.Stats(); st.Failed != 3 || st.Recorded != 0 || rec.Err() == nil || rec.Close() == nil {
		t.Fatalf("%+v %v", st, rec.Err())
	}
	// A refused event is not recorded.
	rec = NewRecorder(PublisherFunc(func(*schema.Event) error { return ErrDropped }), failWriter{})
	if err := rec.Publish(&ev); !errors.Is(err, ErrDropped) || rec.Stats().Failed != 0 {
		t.Fatal(err, rec.Stats())
	}
}
