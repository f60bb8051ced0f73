package engine

import (
	"log/slog"
	"math/bits"
	"runtime"
	"strconv"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
)

// Backpressure says what happens to an event when its queue is full: a
// partition ring for Publish, a subscriber's queue for the worker feeding it.
type Backpressure uint8

const (
	// Block waits for room, at most Config.BackpressureTimeout, then gives
	// up with ErrTimeout (counted as timed out).
	Block Backpressure = iota
	// Drop gives up at once with ErrDropped (counted as dropped).
	Drop
)

// String returns "block" or "drop".
func (b Backpressure) String() string {
	switch b {
	case Block:
		return "block"
	case Drop:
		return "drop"
	}
	return "Backpressure(" + strconv.Itoa(int(b)) + ")"
}

// Defaults for the zero fields of a Config, and bounds.
const (
	// DefaultQueueSize is the default capacity of a partition's ring.
	DefaultQueueSize = 4096
	// DefaultBackpressureTimeout is how long Block waits by default.
	DefaultBackpressureTimeout = 100 * time.Millisecond
	// DefaultBatchSize is the default bound on events per Handler call.
	DefaultBatchSize = 256
	// MaxPartitions bounds Partitions; each has a ring and a worker.
	MaxPartitions = 1 << 12
	// MaxQueueSize bounds QueueSize and SubscriberQueueSize (slots, each an
	// Event of a few hundred bytes, are allocated up front).
	MaxQueueSize = 1 << 24
	// MaxRoutedPartitions bounds Partitions when Config.Route is set: the
	// route is a PartitionSet, a fixed bitset of this many bits returned by
	// value, so that routing allocates nothing.
	MaxRoutedPartitions = 1024
	// ClockPoll is how often, in real time, a side blocked under Block looks
	// at a Config.Clock other than clock.Real to see whether its
	// BackpressureTimeout has passed.
	ClockPoll = time.Millisecond
)

// Config configures a Bus. The zero value is usable: every zero field means
// the default written beside it.
type Config struct {
	// Partitions is the number of partitions, each with its own ring.
	// Default runtime.GOMAXPROCS(0).
	Partitions int
	// Workers is the number of worker goroutines that drain the partitions.
	// Default: one per partition, but no more than GOMAXPROCS (as it was
	// when the Bus was made); at most Partitions. With fewer workers than
	// partitions, worker w serves partitions w, w+Workers, w+2*Workers, ...
	// (Bus.WorkerOf), one batch of each in turn, and parks on all of them
	// at once when none has events: partitions beyond the processors then
	// cost no goroutines taking turns at yielding. Order per partition is
	// unchanged; a Handler call that blocks holds up every partition of its
	// worker.
	Workers int
	// QueueSize is the capacity of each partition's ring, rounded up to a
	// power of two (at least ring.MinCapacity). Default DefaultQueueSize
	// (4096).
	QueueSize int
	// Backpressure is what Publish does when a partition is full, and what a
	// worker does when a subscriber's queue is full. Default Block.
	Backpressure Backpressure
	// BackpressureTimeout bounds how long Block waits, as Clock counts time.
	// Default DefaultBackpressureTimeout (100ms).
	BackpressureTimeout time.Duration
	// Clock measures BackpressureTimeout and stamps Stats.At. Default (nil)
	// real monotonic time, clock.Real{}, against which a blocked Publish
	// waits on one timer. With any other clock a blocked side looks at the
	// clock again every millisecond of real time (ClockPoll), so under a
	// mock clock the timeout passes only as mock time does: a frozen mock
	// clock never times out (replay then waits for a slow consumer rather
	// than losing events to the speed of the machine), and tests decide
	// exactly when a timeout happens. Shutdown releases any waiter.
	Clock clock.Clock
	// Logger receives the bus's rare diagnostics (start, shutdown, a CPU
	// pinning failure); never anything per event. Default (nil) discards;
	// the package never prints.
	Logger *slog.Logger
	// LockThreads locks each worker goroutine to its own OS thread
	// (runtime.LockOSThread) for as long as it runs. Default false: workers
	// are ordinary goroutines. Measured on a 2-vCPU machine, a locked worker
	// that waits for events costs 10-50 µs per wake-up (a park, or a yield,
	// of a locked goroutine hands its thread over through the kernel)
	// against about 1 µs unlocked, and no throughput is gained; lock when
	// the worker's thread must be its own (CPUs implies it, and so may
	// thread-local state the Handler relies on).
	LockThreads bool
	// CPUs, when not empty, pins workers: worker w locks its goroutine to an
	// OS thread and binds that thread to CPU CPUs[w%len(CPUs)] with
	// sched_setaffinity. Linux only; elsewhere it is ignored. A pinning
	// failure is logged and the worker runs unpinned. Default none.
	CPUs []int
	// Wait is the wait strategy of every ring: how a worker waits for events
	// and a blocked producer for room (spin, then yield, then park). The
	// zero value is the ring package's default, which parks when idle, so
	// an idle bus burns no CPU.
	Wait ring.Wait
	// BatchSize is the most events handed to a Handler in one call. Default
	// DefaultBatchSize (256), capped at QueueSize.
	BatchSize int
	// SubscriberQueueSize is the capacity of each subscriber's queue, rounded
	// up to a power of two. Default QueueSize.
	SubscriberQueueSize int
	// Route, when set, names the partitions besides its entity partition an
	// event must also reach, as a PartitionSet (the entity partition, if
	// named, is ignored). Publish and PublishBatch copy the
	// event into each of them after its entity partition. It lets a
	// consumer keep state by a key other than the entity (package detect
	// routes by sequence join key) while the bus knows nothing of that key.
	// It is called on the producer's goroutine, concurrently from every
	// producer, so it must be safe for concurrent use, allocate nothing and
	// not block. Every event still reaches its entity partition once, and
	// only that copy reaches Subscribers. Requires Partitions <=
	// MaxRoutedPartitions. Default nil: one copy per event, as without it.
	Route func(ev *schema.Event) PartitionSet
	// Ordered makes each partition hand its events to the Handler and to
	// Subscribers in timestamp order across producers, for several
	// producers that each publish in timestamp order (Bus.Producer): each
	// producer gets its own ring in every partition, and a partition's
	// worker merges them by (TsMono, ID), releasing an event only once
	// every open producer's watermark has passed its timestamp (see
	// Producer and the package doc, "Ordered mode"). It costs one ring of
	// QueueSize slots per producer per partition and a merge per event.
	// Default false: a partition hands on events in arrival order, which
	// is timestamp order only with one producer in timestamp order.
	Ordered bool
}

// Validate reports the first invalid field as a *ConfigError (which matches
// ErrInvalidConfig). Zero fields are valid: they mean the defaults.
func (c Config) Validate() error {
	switch {
	case c.Partitions < 0 || c.Partitions > MaxPartitions:
		return &ConfigError{Field: "Partitions", Reason: "must be in [0, " + strconv.Itoa(MaxPartitions) + "], got " + strconv.Itoa(c.Partitions)}
	case c.QueueSize < 0 || c.QueueSize > MaxQueueSize:
		return &ConfigError{Field: "QueueSize", Reason: "must be in [0, " + strconv.Itoa(MaxQueueSize) + "], got " + strconv.Itoa(c.QueueSize)}
	case c.SubscriberQueueSize < 0 || c.SubscriberQueueSize > MaxQueueSize:
		return &ConfigError{Field: "SubscriberQueueSize", Reason: "must be in [0, " + strconv.Itoa(MaxQueueSize) + "], got " + strconv.Itoa(c.SubscriberQueueSize)}
	case c.Backpressure > Drop:
		return &ConfigError{Field: "Backpressure", Reason: "unknown strategy " + c.Backpressure.String()}
	case c.BackpressureTimeout < 0:
		return &ConfigError{Field: "BackpressureTimeout", Reason: "must not be negative, got " + c.BackpressureTimeout.String()}
	case c.Workers < 0 || c.Workers > MaxPartitions:
		return &ConfigError{Field: "Workers", Reason: "must be in [0, " + strconv.Itoa(MaxPartitions) + "], got " + strconv.Itoa(c.Workers)}
	case c.BatchSize < 0:
		return &ConfigError{Field: "BatchSize", Reason: "must not be negative, got " + strconv.Itoa(c.BatchSize)}
	case c.Route != nil && c.Partitions > MaxRoutedPartitions,
		c.Route != nil && c.Partitions == 0 && runtime.GOMAXPROCS(0) > MaxRoutedPartitions:
		return &ConfigError{Field: "Partitions", Reason: "must be at most " + strconv.Itoa(MaxRoutedPartitions) + " with Route (a PartitionSet), got " + strconv.Itoa(c.Partitions)}
	}
	if err := c.Wait.Validate(); err != nil {
		return &ConfigError{Field: "Wait", Reason: err.Error(), Err: err}
	}
	for _, cpu := range c.CPUs {
		if cpu < 0 || cpu >= 1024 {
			return &ConfigError{Field: "CPUs", Reason: "CPU " + strconv.Itoa(cpu) + " out of range [0, 1024)"}
		}
	}
	return nil
}

// withDefaults returns c with every zero field set to its default. c must be
// valid.
func (c Config) withDefaults() Config {
	if c.Partitions == 0 {
		c.Partitions = min(runtime.GOMAXPROCS(0), MaxPartitions)
	}
	if c.Workers == 0 {
		c.Workers = min(c.Partitions, runtime.GOMAXPROCS(0))
	}
	c.Workers = min(c.Workers, c.Partitions)
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	c.QueueSize = ceilPow2(c.QueueSize)
	if c.SubscriberQueueSize == 0 {
		c.SubscriberQueueSize = c.QueueSize
	}
	c.SubscriberQueueSize = ceilPow2(c.SubscriberQueueSize)
	if c.BackpressureTimeout == 0 {
		c.BackpressureTimeout = DefaultBackpressureTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	c.BatchSize = min(c.BatchSize, c.QueueSize)
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.CPUs = append([]int(nil), c.CPUs...) // the caller may reuse its slice
	return c
}

// ceilPow2 rounds n up to a power of two, at least ring.MinCapacity: the
// capacity the ring will have.
func ceilPow2(n int) int {
	if n <= ring.MinCapacity {
		return ring.MinCapacity
	}
	return 1 << bits.Len(uint(n-1))
}
