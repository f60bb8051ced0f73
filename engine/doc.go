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
// default) and allocates every ring slot up front. Publish may be called as
// soon as New returns, from any number of goroutines; events wait in their
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
// order of concurrent Publish calls is the order their reservations won).
//
// # Routing
//
// Config.Route lets a consumer ask for more copies: it returns, per event,
// a mask of further partitions (at most MaxRoutedPartitions) that must see
// it, and Publish copies the event there after its entity partition. The
// bus stays ignorant of why: package detect routes an event to the
// partitions owning the sequence state its join keys can advance or
// cancel. Each copy goes to a partition once; each producer's order holds
// in every partition; only the entity partition's copy reaches
// Subscribers, and Stats count the copies in the partitions that hold
// them. Without Route, or when it names only the entity partition, the
// path is the one-copy path above.
//
// # Copies and allocation
//
// Publish copies the event into its ring slot (schema.Event.CopyFrom), so
// the caller may reuse its Event at once; the worker hands the Handler
// pointers into the slots, valid for the call; each Subscriber gets its own
// copy in its own queue, and Recv copies it out again. In the steady state
// nothing on this path allocates: slots keep the field storage they grew.
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
// # Errors
//
// Publish returns the sentinel values ErrClosed, ErrDropped and ErrTimeout
// themselves (compare with == or errors.Is; nothing is allocated). Config
// errors are *ConfigError values that name the field and match
// ErrInvalidConfig. The package never prints; Config.Logger, when set,
// receives rare lifecycle diagnostics, never anything per event.
package engine
