package node

import (
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/internal/pad"
)

// A partition's lag is how long its worker has been behind its input: the
// wall time since it began the backlog it is working through, and 0 while
// it keeps up. It grows by a second per second while the partition cannot
// keep up (a hot entity, a slow rule, too few workers) and falls to 0 when
// the worker has handled everything queued. It is measured on the node's
// wall clock, whatever the events' timestamps say (a replay's are the
// log's, a fleet's are other hosts'). Queue depth says how much waits;
// lag says for how long the partition has been behind.
//
// The worker knows it caught up when it handled a batch shorter than the
// bus's BatchSize: it took every event queued. A backlog begins with the
// first batch after that. Lag is read as 0 when the queue is empty, so an
// idle partition is never behind.
//
// Reading a clock costs more than the rest of a small batch's bookkeeping
// (100 ns or more on a virtual machine), and a worker that keeps up hands
// over batches of one event, so the worker reads no clock for a batch that
// may end its backlog: it marks the backlog pending, and a backlog's start
// is the time the first full batch ended, or the time Stats first saw it
// pending, whichever came first. So lag is short by at most one batch's
// work, or, for a worker stuck in its first batch, by the time until the
// first Stats (a scrape) saw it: from the second scrape on it grows as it
// should. Not counted either: the time events wait before the worker
// starts on a new backlog (a wake-up, or the other partitions' batches of
// a shared worker).

// backlogPending marks a backlog whose start time is not read yet.
const backlogPending = -1

// backlog is one partition's: written by its worker (at most twice per
// batch) and by Stats (once per backlog), read by Stats; padded so that
// partitions do not share a cache line.
type backlog struct {
	_ pad.Line
	// since is when the current backlog began, in nanoseconds since
	// Node.epoch plus one; 0 while the partition is caught up;
	// backlogPending while behind since a time not read yet.
	since atomic.Int64
	_     [pad.CacheLine - 8]byte
}

// sinceEpoch is the time since Node.epoch plus one, never 0.
func (n *Node) sinceEpoch() int64 { return int64(time.Since(n.epoch)) + 1 }

// lags returns each partition's lag, given its queue depths.
func (n *Node) lags(queued []uint64) []time.Duration {
	out := make([]time.Duration, len(n.backlog))
	now := n.sinceEpoch()
	for p := range out {
		if p >= len(queued) || queued[p] == 0 {
			continue
		}
		b := &n.backlog[p]
		since := b.since.Load()
		if since == backlogPending {
			if b.since.CompareAndSwap(backlogPending, now) {
				since = now
			} else {
				since = b.since.Load() // the worker got there first
			}
		}
		if since > 0 {
			out[p] = time.Duration(max(now-since, 0))
		}
	}
	return out
}
