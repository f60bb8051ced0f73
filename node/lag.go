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
// idle partition is never behind. Two approximations, both small: the
// time events wait before the worker starts on a new backlog (a wake-up,
// or the other partitions' batches of a shared worker) is not counted;
// and a queue holding exactly BatchSize events when the worker takes them
// ends a backlog only at the next short batch.

// backlog is one partition's: written by its worker (at most twice per
// batch) and read by Stats; padded so that partitions do not share a
// cache line.
type backlog struct {
	_ pad.Line
	// since is when the current backlog began, in nanoseconds since
	// Node.epoch plus one; 0 while the partition is caught up.
	since atomic.Int64
	_     [pad.CacheLine - 8]byte
}

// lags returns each partition's lag, given its queue depths.
func (n *Node) lags(queued []uint64) []time.Duration {
	out := make([]time.Duration, len(n.backlog))
	now := int64(time.Since(n.epoch)) + 1
	for p := range out {
		if p < len(queued) && queued[p] > 0 {
			if since := n.backlog[p].since.Load(); since != 0 {
				out[p] = time.Duration(max(now-since, 0))
			}
		}
	}
	return out
}
