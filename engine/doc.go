// Package engine is Kestrel's event bus: sensor threads Publish events, the
// bus shards them by entity key into per-partition lock-free rings (package
// ring), and a worker per partition (or per few partitions, when they
// outnumber the processors: Config.Workers) hands them, in order and in
// batches, to a Handler and to every Subscriber.
//
//	sensor ──Publish──▶ Bus ──xxh3(entity key) mod N──▶ partition ring ──▶ worker ──▶ Handler
//	                                                                         └──▶ Subscribers
//
// # Lifecycle
//
// New validates a Config (its zero value is usable: see Config for every
// default) and allocates every ring slot up front (a Producer registered in
// Ordered mode allocates its own). Publish may be called as soon as New
// returns, from any number of goroutines; events wait in their
// partitions until Run starts the workers, one goroutine per partition up
// to GOMAXPROCS of them (each locked to its own OS thread, and bound to a
// CPU, when Config asks).
// Subscribe may be called before or after Run. Shutdown refuses new events,
// drains what was accepted, closes the subscribers' queues and returns
// once every goroutine the bus started has returned, or once its context
// ends, with a *ShutdownError saying what was left.
//
// # Sharding and order
//
// An event's partition is XXH3-64 of its entity key's 16 big-endian bytes
// (schema.EntityKey.Bytes) modulo the partition count (Bus.PartitionOf): a
// fixed function, the same in every run and every process. All events of
// one entity land on one partition and reach the Handler and each
// Subscriber in the order they were published (from one goroutine; the
// order of concurrent Publish calls is the order their reservations won;
// with Config.Ordered, (TsMono, ID) order across producers: see Ordered
// mode).
//
// # Routing
//
// Config.Route lets a consumer ask for more copies: it returns, per event,
// a PartitionSet of further partitions (a fixed bitset, so a bus with
// Route has at most MaxRoutedPartitions, 1024) that must see it, and
// Publish copies the event there after its entity partition. The
// bus stays ignorant of why: package detect routes an event to the
// partitions owning the sequence state its join keys can advance or
// cancel. Each copy goes to a partition once; each producer's order holds
// in every partition; only the entity partition's copy reaches
// Subscribers, and Stats count the copies in the partitions that hold
// them. Without Route, or when it names only the entity partition, the
// path is the one-copy path above.
//
// # Ordered mode
//
// By default a partition hands on its events in arrival order: each
// producer's order holds, but events of independent producers interleave
// as their Publish calls happen to land. Config.Ordered makes the order a
// function of the events instead, for producers that each publish in
// timestamp order (a sensor per CPU, a reader per log file):
//
//	bus, _ := engine.New(engine.Config{Partitions: n, Ordered: true})
//	p, _ := bus.Producer() // one per source goroutine; Close it when done
//	p.Publish(&ev)         // raises p's watermark to ev.TsMono
//	p.Advance(now)         // an idle source's heartbeat
//
// Each Producer has its own ring (a lane) in every partition and a
// watermark: the timestamp every event it publishes from now on is at
// least, raised by each publish and by Advance. A partition's worker
// merges its lanes by (TsMono, ID), the way a Flink or Kafka Streams
// operator merges its inputs under watermarks: it hands on the least head
// only while its timestamp is below the watermark of every open producer
// with nothing queued there (one that may still publish before it), so
// the Handler and Subscribers see each partition's events in (TsMono, ID)
// order whatever the interleaving, and a rerun sees the same order. An
// event its producer published behind its own watermark is handed on
// anyway, and counted in PartitionStats.Late.
//
// What it costs and what to mind: a lane of QueueSize slots per producer
// per partition; a merge step per event and an atomic store per raised
// watermark (PERF.md has figures); an event waits until every producer
// has moved past its timestamp, so an idle producer that neither
// publishes, advances nor closes holds every partition back (Advance is
// the heartbeat; Close lets go for good), and a producer registered
// mid-stream starts at watermark 0. Bus.Publish, PublishBatch and Claim
// are the default producer's: it holds nothing back until first used.
// Backpressure is per lane: a lane held back by another producer's
// watermark fills and pushes back (Block) or refuses (Drop) only its own
// producer, so a blocked producer never stalls the merge it waits for,
// with one exception: a producer blocked on a full lane whose events all
// share one timestamp, while another producer waits at that same
// timestamp, waits out BackpressureTimeout (and the event is counted
// TimedOut). Shutdown closes every lane and hands on everything accepted,
// in merged order. Route's copies go through the producer's lanes, so they
// are merged too; Claim's watermark rises at Commit.
//
// # Copies and allocation
//
// Publish copies the event into its ring slot (schema.Event.CopyFrom), so
// the caller may reuse its Event at once; the worker hands the Handler
// pointers into the slots, valid for the call; each Subscriber gets its own
// copy in its own queue, and Recv copies it out again. In the steady state
// nothing on this path allocates: slots keep the field storage they grew.
// A producer that builds each event in an Event of its own and has no use
// for it after publishing gives it away with PublishMove instead: a spilled
// event's field array (more than schema.InlineFields fields, as most ECS
// events have) changes hands rather than being copied, and the Event comes
// back empty with the slot's former storage. Claim builds in the slot
// itself. After a single publish the producer prefetches the next slot, so
// that at a sensor's rate the next publish finds it in the cache.
//
// # Backpressure and accounting
//
// When a partition is full, Publish follows Config.Backpressure: Drop
// refuses the event at once (ErrDropped); Block waits for room, at most
// Config.BackpressureTimeout on Config.Clock (ErrTimeout). A subscriber's
// queue that is full holds up its partition's worker the same way, which
// in turn fills the partition and pushes back on the producers: a slow
// subscriber slows the bus down or makes it refuse events, as configured;
// it never makes it lose one without saying so.
//
// Nothing is lost silently. Every event Publish accepts (nil) or refuses
// (ErrDropped, ErrTimeout) is counted, per partition, in exactly one of
// Delivered, Dropped, TimedOut or Queued (Stats), so that
//
//	Published = Delivered + Dropped + TimedOut + Queued
//
// holds in every snapshot; each counter but Queued only grows from one
// snapshot to the next, and all are exact whenever no Publish and no worker
// batch is in progress, and after Shutdown (see PartitionStats for the
// bounds while events move). Each Subscriber keeps its own account (SubscriberStats). Stats
// takes no lock and adds nothing to the Publish fast path: accepted events
// are counted by the ring cursors, refusals on the slow path.
//
// # Progress marks
//
// A publisher that must know when its events have been handled (a Kafka
// consumer committing offsets) takes a Mark after publishing: per
// partition, the position just past everything its producer has put in
// the ring it publishes into (its lane in Ordered mode, the partition's
// shared ring otherwise), Route's copies included. Workers release ring
// slots only after the Handler returned for them, in ring order per ring,
// so once Handled is at or past the mark in every partition (Reached),
// every event published before the mark has been handled in every
// partition that holds a copy. In a shared ring the mark also covers other
// publishers' earlier events: it is reached later, never early. Marks
// take no lock and, into a slice with room, allocate nothing.
//
// # Errors
//
// Publish returns the sentinel values ErrClosed, ErrDropped and ErrTimeout
// themselves (compare with == or errors.Is; nothing is allocated). Config
// errors are *ConfigError values that name the field and match
// ErrInvalidConfig. The package never prints; Config.Logger, when set,
// receives rare lifecycle diagnostics, never anything per event.
package engine
