package engine

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// everywhere routes every event to every partition of a bus of n, as a
// detection Route that must show each event to all sequence owners does.
func everywhere(n int) func(*schema.Event) PartitionSet {
	return func(*schema.Event) PartitionSet {
		var s PartitionSet
		for p := range n {
			s.Add(p)
		}
		return s
	}
}

// gate holds one partition's Handler inside its first batch until opened.
type gate struct {
	part    int
	entered chan struct{} // receives once the held call has begun
	release chan struct{}
	once    sync.Once
}

func newGate(t *testing.T, part int) *gate {
	g := &gate{part: part, entered: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(g.open) // before the bus's cleanup Shutdown, which waits for the Handler
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) handle(p int, _ []*schema.Event) {
	if p != g.part {
		return
	}
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
}

// waitEntered waits until the held Handler call has begun.
func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the held partition's Handler was never called")
	}
}

// TestMarkRoutedHeld: with Route copying every event into every partition,
// a mark counts the copies, the partitions whose Handler returned reach it,
// and the partition whose Handler is held inside a batch does not, until
// the call returns. A worker per partition, so the held one holds up no
// other.
func TestMarkRoutedHeld(t *testing.T) {
	const parts, n = 4, 10
	bus := newBus(t, Config{Partitions: parts, Workers: parts, QueueSize: 64, Route: everywhere(parts)})
	g := newGate(t, 2)
	if err := bus.Run(g.handle); err != nil {
		t.Fatal(err)
	}
	if m := bus.Mark(nil); !bus.Reached(m) || !slices.Equal(m, make([]uint64, parts)) {
		t.Fatalf("an idle bus: mark %v, reached %v", m, bus.Reached(m))
	}
	var ev schema.Event
	for i := range uint64(n) {
		fill(t, &ev, i+1, schema.EntityKeyFrom64(i), i, false)
		if err := bus.Publish(&ev); err != nil {
			t.Fatal(err)
		}
	}
	mark := bus.Mark(nil)
	for _, m := range mark {
		if m != n {
			t.Fatalf("mark %v: want %d in every partition (the copies count)", mark, n)
		}
	}
	g.waitEntered(t)
	waitFor(t, "the free partitions to reach the mark", func() bool {
		h := bus.Handled(nil)
		return h[0] == n && h[1] == n && h[3] == n
	})
	if h := bus.Handled(nil); h[2] >= mark[2] || bus.Reached(mark) {
		t.Fatalf("partition 2's Handler is held, yet handled %v reaches mark %v", h, mark)
	}
	g.open()
	waitFor(t, "the mark to be reached after the release", func() bool { return bus.Reached(mark) })
	if h := bus.Handled(nil); !slices.Equal(h, mark) {
		t.Fatalf("handled %v, want the mark %v", h, mark)
	}
	if bus.Reached(mark[:1]) {
		t.Error("a mark of the wrong length is reached")
	}
	shutdown(t, bus)
}

// TestMarkUnorderedProducer: without Ordered a Producer is a handle on
// the shared rings, so its mark covers the default producer's events too.
func TestMarkUnorderedProducer(t *testing.T) {
	bus := newBus(t, Config{Partitions: 2, QueueSize: 64})
	p, err := bus.Producer()
	if err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	fill(t, &ev, 1, schema.EntityKeyFrom64(1), 0, false)
	if err := bus.Publish(&ev); err != nil {
		t.Fatal(err)
	}
	if m, d := p.Mark(nil), bus.Mark(nil); !slices.Equal(m, d) {
		t.Fatalf("producer mark %v, bus mark %v: the rings are shared", m, d)
	}
	if p.Reached(bus.Mark(nil)) {
		t.Fatal("reached before Run")
	}
	if err := bus.Run(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the producer's mark", func() bool { return p.Reached(p.Mark(nil)) })
	shutdown(t, bus)
}

// TestMarkOrdered: in Ordered mode each producer marks its own lanes, its
// routed copies included; the merge hands events on across lanes out of
// ring order, and a mark is reached only once every one of the producer's
// events below it was handled, not while a Handler holding one is in
// progress.
func TestMarkOrdered(t *testing.T) {
	const parts = 2
	bus := newBus(t, Config{Partitions: parts, Workers: parts, QueueSize: 64, Ordered: true, Route: everywhere(parts)})
	g := newGate(t, 1)
	if err := bus.Run(g.handle); err != nil {
		t.Fatal(err)
	}
	a, err := bus.Producer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.Producer()
	if err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	for i := range uint64(5) { // a at 1, 3, 5, 7, 9; b at 2, 4, 6
		tsEvent(t, &ev, 2*i+1, 2*i+1, schema.EntityKeyFrom64(i))
		if err := a.Publish(&ev); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			tsEvent(t, &ev, 2*i+2, 2*i+2, schema.EntityKeyFrom64(i))
			if err := b.Publish(&ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	ma, mb := a.Mark(nil), b.Mark(nil)
	if !slices.Equal(ma, []uint64{5, 5}) || !slices.Equal(mb, []uint64{3, 3}) {
		t.Fatalf("marks a %v, b %v: want 5 and 3 per partition (own lanes, copies counted)", ma, mb)
	}
	if d := bus.Mark(nil); !slices.Equal(d, []uint64{0, 0}) || !bus.Reached(d) {
		t.Fatalf("the default producer published nothing, yet marks %v", d)
	}
	a.Advance(100)
	b.Advance(100)
	g.waitEntered(t)
	waitFor(t, "partition 0 to hand on both lanes", func() bool {
		return a.Handled(nil)[0] == 5 && b.Handled(nil)[0] == 3
	})
	if a.Reached(ma) || b.Reached(mb) {
		t.Fatalf("partition 1's Handler is held, yet a handled %v of %v, b %v of %v", a.Handled(nil), ma, b.Handled(nil), mb)
	}
	g.open()
	waitFor(t, "both marks", func() bool { return a.Reached(ma) && b.Reached(mb) })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if m := a.Mark(nil); !slices.Equal(m, ma) || !a.Reached(m) {
		t.Errorf("after Close: mark %v (was %v), reached %v", m, ma, a.Reached(m))
	}
	shutdown(t, bus)
}

// TestMarkAllocs: Mark and Handled into a slice with room, and Reached,
// allocate nothing.
func TestMarkAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	bus := newBus(t, Config{Partitions: 8, QueueSize: 64, Ordered: true})
	p, err := bus.Producer()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m, h := make([]uint64, 8), make([]uint64, 8)
	for _, pr := range []*Producer{bus.def, p} {
		if n := testing.AllocsPerRun(100, func() {
			m = pr.Mark(m)
			h = pr.Handled(h)
			if !pr.Reached(m) {
				t.Fatal("an idle bus's mark is not reached")
			}
		}); n != 0 {
			t.Errorf("Mark, Handled and Reached allocate %v times", n)
		}
	}
}

// BenchmarkMark measures a Mark and a Reached over every partition, what a
// Kafka Source pays per record.
func BenchmarkMark(b *testing.B) {
	for _, parts := range []int{16, 1024} {
		b.Run(strconv.Itoa(parts), func(b *testing.B) {
			b.ReportAllocs()
			bus, err := New(Config{Partitions: parts, QueueSize: 64})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Shutdown(context.Background())
			m := bus.Mark(nil)
			b.ResetTimer()
			for range b.N {
				m = bus.Mark(m)
				if !bus.Reached(m) {
					b.Fatal("an idle bus's mark is not reached")
				}
			}
		})
	}
}
