package engine_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Publishing and consuming: one Event reused for every Publish, a Handler
// run by the partition workers, and a subscriber that receives everything.
func Example() {
	bus, err := engine.New(engine.Config{Partitions: 2})
	if err != nil {
		panic(err)
	}
	sub, err := bus.Subscribe()
	if err != nil {
		panic(err)
	}
	counts := make([]int, bus.Partitions()) // one per partition: no lock
	if err := bus.Run(func(partition int, batch []*schema.Event) {
		counts[partition] += len(batch)
	}); err != nil {
		panic(err)
	}

	b := schema.NewBuilder(nil)
	var ev schema.Event
	for i := range 3 {
		b.Reset().Type(1).ID(uint64(i+1)).Entity(schema.EntityKeyFrom64(42)).
			Field(1, value.StringValue(fmt.Sprint("/bin/cmd", i)))
		if err := b.BuildInto(&ev); err != nil {
			panic(err)
		}
		if err := bus.Publish(&ev); err != nil { // copies ev: reuse it at once
			panic(err)
		}
	}

	if err := bus.Shutdown(context.Background()); err != nil { // drains
		panic(err)
	}
	for {
		var got schema.Event
		if err := sub.Recv(context.Background(), &got); errors.Is(err, engine.ErrClosed) {
			break
		}
		path, _ := got.Get(1)
		fmt.Println(got.ID, path)
	}
	fmt.Println("handled:", counts[0]+counts[1], "published:", bus.Stats().Total().Published)
	// Output:
	// 1 /bin/cmd0
	// 2 /bin/cmd1
	// 3 /bin/cmd2
	// handled: 3 published: 3
}

// Under Drop a full partition refuses the event at once, and counts it.
func ExampleBus_Publish() {
	bus, err := engine.New(engine.Config{Partitions: 1, QueueSize: 2, Backpressure: engine.Drop})
	if err != nil {
		panic(err)
	}
	defer bus.Shutdown(context.Background())
	ev := schema.Event{ID: 1, Type: 1}
	for range 3 { // no worker runs yet: the third finds the ring full
		fmt.Println(bus.Publish(&ev))
	}
	fmt.Printf("%+v\n", bus.Stats().Partitions[0])
	// Output:
	// <nil>
	// <nil>
	// engine: partition full, event dropped
	// {Published:3 Delivered:0 Dropped:1 TimedOut:0 Queued:2 HighWater:2 Late:0}
}

// PublishBatch reserves consecutive events of one partition as one range.
func ExampleBus_PublishBatch() {
	bus, err := engine.New(engine.Config{Partitions: 4})
	if err != nil {
		panic(err)
	}
	evs := make([]schema.Event, 5)
	for i := range evs {
		evs[i] = schema.Event{ID: uint64(i), Type: 1, Entity: schema.EntityKeyFrom64(7)}
	}
	n, err := bus.PublishBatch(evs)
	fmt.Println(n, err)
	if err := bus.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(bus.Stats().Total().Delivered)
	// Output:
	// 5 <nil>
	// 5
}

// The partition of an entity depends only on its key and the partition
// count: the same in every run and every process.
func ExampleBus_PartitionOf() {
	bus, err := engine.New(engine.Config{Partitions: 4})
	if err != nil {
		panic(err)
	}
	defer bus.Shutdown(context.Background())
	for _, k := range []uint64{0, 1, 42} {
		fmt.Println(k, bus.PartitionOf(schema.EntityKeyFrom64(k)))
	}
	// Output:
	// 0 0
	// 1 3
	// 42 1
}

// Shutdown's context bounds the drain; the error says what was left.
func ExampleBus_Shutdown() {
	bus, err := engine.New(engine.Config{Partitions: 1, BatchSize: 1})
	if err != nil {
		panic(err)
	}
	entered, release := make(chan struct{}, 1), make(chan struct{})
	if err := bus.Run(func(int, []*schema.Event) {
		entered <- struct{}{}
		<-release
	}); err != nil {
		panic(err)
	}
	ev := schema.Event{ID: 1, Type: 1}
	for range 3 {
		if err := bus.Publish(&ev); err != nil {
			panic(err)
		}
	}
	<-entered // the worker holds the first event
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = bus.Shutdown(ctx) // the Handler is stuck: ctx ends first
	var se *engine.ShutdownError
	fmt.Println(errors.As(err, &se), errors.Is(err, context.DeadlineExceeded), se.Running)
	close(release)
	err = bus.Shutdown(context.Background()) // waits for the worker
	fmt.Println(err)
	// Output:
	// true true 1
	// engine: shutdown: context deadline exceeded with 2 events still queued
}

// BackpressureTimeout passes on the configured clock: here a mock clock
// that runs a thousand times faster than real time.
func ExampleConfig() {
	mock := clock.New()
	mock.SetMock(0)
	bus, err := engine.New(engine.Config{
		Partitions:          1,
		QueueSize:           2,
		Backpressure:        engine.Block,
		BackpressureTimeout: time.Second,
		Clock:               mock,
	})
	if err != nil {
		panic(err)
	}
	defer bus.Shutdown(context.Background())
	ev := schema.Event{ID: 1, Type: 1}
	fmt.Println(bus.Publish(&ev), bus.Publish(&ev)) // now the partition is full
	if err := mock.SetSpeed(1000); err != nil {
		panic(err)
	}
	fmt.Println(bus.Publish(&ev)) // no worker runs: it waits a mock second
	// Output:
	// <nil> <nil>
	// engine: partition full, publish timed out
}

// Validate names the field at fault.
func ExampleConfig_Validate() {
	err := engine.Config{QueueSize: -1}.Validate()
	fmt.Println(err)
	fmt.Println(errors.Is(err, engine.ErrInvalidConfig))
	// Output:
	// engine: invalid config: QueueSize: must be in [0, 16777216], got -1
	// true
}

// Building an event in its slot: Claim hands out the slot's event, reset
// and keyed, to fill in place; Commit publishes it. Nothing is copied.
func ExampleBus_Claim() {
	bus, err := engine.New(engine.Config{Partitions: 1})
	if err != nil {
		panic(err)
	}
	if err := bus.Run(func(_ int, batch []*schema.Event) {
		for _, ev := range batch {
			pid, _ := ev.Get(2)
			fmt.Println(ev.ID, ev.Entity, pid)
		}
	}); err != nil {
		panic(err)
	}
	for i := range 2 {
		c, err := bus.Claim(schema.EntityKeyFrom64(7))
		if err != nil {
			panic(err)
		}
		ev := c.Event()
		ev.ID, ev.Type = uint64(i+1), 1
		err = ev.Add(2, value.I64Value(int64(4242+i)))
		c.Commit() // once per Claim, whatever happened while filling
		if err != nil {
			panic(err)
		}
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// 1 7 4242
	// 2 7 4243
}

// A producer that fills one Event of its own for every event and gives
// each away: PublishMove hands the fields to the bus without copying a
// spilled event's field array, and leaves the Event empty, ready for the
// next one, with storage to fill it without allocating.
func ExampleBus_PublishMove() {
	bus, err := engine.New(engine.Config{Partitions: 1})
	if err != nil {
		panic(err)
	}
	if err := bus.Run(func(_ int, batch []*schema.Event) {
		for _, ev := range batch {
			fmt.Println(ev.ID, len(ev.Fields()), "fields")
		}
	}); err != nil {
		panic(err)
	}
	var ev schema.Event // the producer's own, reused
	for i := range 2 {
		ev.ID, ev.Type, ev.Entity = uint64(i+1), 1, schema.EntityKeyFrom64(7)
		for f := range 12 { // more fields than an Event holds inline
			if err := ev.Add(schema.FieldID(f+1), value.I64Value(int64(f))); err != nil {
				panic(err)
			}
		}
		if err := bus.PublishMove(&ev); err != nil {
			panic(err) // on an error ev is as it was: publish it again, or drop it
		}
		fmt.Println("after the move:", len(ev.Fields()), "fields")
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	// Unordered output:
	// after the move: 0 fields
	// after the move: 0 fields
	// 1 12 fields
	// 2 12 fields
}

// Two sources, each in timestamp order, on an Ordered bus: whatever the
// interleaving of their Publish calls, the Handler sees one timestamp
// order. Each source is a Producer; a source with nothing to say moves its
// watermark with Advance, and Close lets go of the merge.
func ExampleBus_Producer() {
	bus, err := engine.New(engine.Config{Partitions: 1, Ordered: true})
	if err != nil {
		panic(err)
	}
	if err := bus.Run(func(_ int, batch []*schema.Event) {
		for _, ev := range batch {
			fmt.Println(ev.TsMono, ev.ID)
		}
	}); err != nil {
		panic(err)
	}
	a, _ := bus.Producer()
	b, _ := bus.Producer()
	publish := func(p *engine.Producer, id, ts uint64) {
		ev, err := schema.NewBuilder(nil).Type(1).ID(id).Mono(schema.TimestampMono(ts)).Build()
		if err != nil {
			panic(err)
		}
		if err := p.Publish(&ev); err != nil {
			panic(err)
		}
	}
	publish(a, 1, 30) // a runs ahead ...
	publish(a, 2, 40)
	publish(b, 3, 10) // ... of b
	b.Advance(35)     // b is idle until 35: a's 30 may go
	publish(b, 4, 50)
	a.Close()
	b.Close()
	if err := bus.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// 10 3
	// 30 1
	// 40 2
	// 50 4
}
