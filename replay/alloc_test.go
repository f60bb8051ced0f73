package replay

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// nopPublisher accepts every event and keeps nothing.
type nopPublisher struct{ n int }

func (p *nopPublisher) Publish(*schema.Event) error { p.n++; return nil }

// TestWriteNoAlloc checks the writers allocate nothing per event once their
// buffers have grown.
func TestWriteNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	evs := demo.GenerateEvents(31, 2000, nil)
	for _, c := range []struct {
		name string
		opts WriterOptions
		bin  bool
	}{
		{"json", WriterOptions{}, false},
		{"json pairs", WriterOptions{FieldsAsPairs: true}, false},
		{"json zstd", WriterOptions{Compress: true}, false},
		{"binary", WriterOptions{}, true},
	} {
		var w Writer
		var err error
		if c.bin {
			w, err = NewBinaryWriter(io.Discard, c.opts)
		} else {
			w, err = NewJSONWriter(io.Discard, c.opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs { // warm up: grow the buffers, fill a few blocks
			w.Write(&evs[i])
		}
		i := 0
		allocs := testing.AllocsPerRun(len(evs), func() {
			if err := w.Write(&evs[i%len(evs)]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Write", c.name, allocs)
		}
		w.Close()
	}
}

// TestReadAllocsAmortised checks reading allocates nothing per event beyond
// shared blocks: strings are carved from arenas and block buffers, so a
// whole log costs a handful of allocations per 64 KiB, not one per event.
func TestReadAllocsAmortised(t *testing.T) {
	if unsafeconv.Copies {
		t.Skip("the purego build copies what it views")
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	evs := demo.GenerateEvents(32, 5000, nil)
	for _, c := range []struct {
		name string
		data []byte
		opts ReaderOptions
	}{
		{"json", encodeAll(t, evs, WriterOptions{}, false), ReaderOptions{}},
		{"json pairs", encodeAll(t, evs, WriterOptions{FieldsAsPairs: true}, false), ReaderOptions{}},
		{"binary", encodeAll(t, evs, WriterOptions{}, true), ReaderOptions{}},
		{"binary copy", encodeAll(t, evs, WriterOptions{}, true), ReaderOptions{CopyStrings: true}},
	} {
		var ev schema.Event
		allocs := testing.AllocsPerRun(3, func() {
			r, err := NewReaderWith(bytes.NewReader(c.data), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for r.Next(&ev) == nil {
				n++
			}
			r.Close()
			if n != len(evs) {
				t.Fatalf("%s: read %d events of %d", c.name, n, len(evs))
			}
		})
		if per := allocs / float64(len(evs)); per > 0.05 {
			t.Errorf("%s: %.3f allocations per event (%v per log of %d bytes)", c.name, per, allocs, len(c.data))
		}
	}
}

// atomicClock is a MockClock with no lock at all (clock.Manager's SetMock
// takes an uncontended mutex).
type atomicClock struct{ t atomic.Uint64 }

func (c *atomicClock) NowMono() uint64  { return c.t.Load() }
func (c *atomicClock) SetMock(t uint64) { c.t.Store(t) }

// TestReplayLoopNoAlloc checks the replay loop itself adds nothing per
// event to what the reader costs.
func TestReplayLoopNoAlloc(t *testing.T) {
	if unsafeconv.Copies {
		t.Skip("the purego build copies what it views")
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	evs := demo.GenerateEvents(33, 5000, nil)
	data := encodeAll(t, evs, WriterOptions{}, true)
	rp, err := New(&nopPublisher{}, Config{Clock: new(atomicClock)})
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(3, func() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rp.ReplayReader(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	})
	if per := allocs / float64(len(evs)); per > 0.05 {
		t.Errorf("%.3f allocations per event", per)
	}
}
