// Package ring provides bounded lock-free ring buffers: SPSC for one
// producer and one consumer, MPSC for many producers and one consumer.
//
// Both have a fixed capacity, rounded up to a power of two, with every slot
// allocated once by the constructor; nothing on their fast paths takes a
// lock, touches a channel or allocates. The producer's and the consumer's
// cursors each sit alone on a 128-byte padded line, and each side keeps a
// cached copy of the other side's cursor, so the shared one is read only
// when the ring looks full or empty.
//
// Values move one at a time (TryPush, TryPop, and the blocking Push and
// Pop) or in place and in batches, which is the fast way: a producer
// reserves a run of slots (TryReserve, Reserve), writes them through Slot
// and publishes them with one Commit; the consumer sees the committed run
// (Peek, WaitRead), reads it through Slot and frees it with one Release.
//
// The blocking forms wait by a bounded strategy (Wait): spin a little,
// yield the processor a little, then park on a one-slot notify channel
// until the other side signals. A waiter never spins without bound, and
// an idle ring burns no CPU. With GOMAXPROCS 1 a waiter yields where it
// would spin: the side it waits for cannot run while it holds the only P.
//
// Close refuses new reservations at once, but every slot reserved before
// it is still committed and drained: a value is either refused (ErrClosed,
// or false from TryPush) or delivered, never accepted and then lost. The
// close and the reservations are ordered by one word: Close sets a bit in
// the producers' cursor word with the same compare-and-swap that
// reservations use, so each reservation lands wholly before or after it.
//
// Batching is what makes a ring fast: each Commit and each Release is one
// locked instruction (a sequentially consistent atomic store or CAS, all
// that sync/atomic offers), and so is each reservation of an MPSC ring, so
// a run of 16 slots costs about what one slot does. Every reserved slot
// must be committed: the consumer reads in sequence order and stops at the
// first slot that is not.
//
// Each file opens with the invariants it keeps, and each atomic field says
// what its writes publish to whom.
package ring
