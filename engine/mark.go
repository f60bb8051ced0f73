package engine

import (
	"github.com/kestrel-sec/kestrel/ring"
	"github.com/kestrel-sec/kestrel/schema"
)

// Positions: every ring counts the slots ever reserved in it (its
// reservation cursor) and the slots its worker has released (its release
// cursor). A worker takes a ring's events in ring order, and in Ordered
// mode the merge takes each lane's in lane order, and it releases a batch
// only after the Handler returned for it and every subscriber was offered
// it (deliver, deliverMerged). So once a ring's release cursor reaches a
// position, every event reserved below it has been handled, whatever the
// merge did across lanes and whatever else shares the ring. Mark reads the
// first cursor of a producer's rings, Handled and Reached the second.

// ringOf returns the ring p publishes into in partition i: its lane in
// Ordered mode, the partition's shared ring otherwise.
func (p *Producer) ringOf(i int) *ring.MPSC[schema.Event] {
	if p.lanes != nil {
		return p.lanes[i]
	}
	return p.bus.parts[i].ring
}

// Mark returns dst, resized to Partitions() (it allocates only when dst is
// shorter), holding per partition the position just past every event this
// producer has published there so far: in Ordered mode in its own lane,
// otherwise in the partition's ring, which every producer of the bus
// shares. Route's copies count in the partitions that hold them, since
// they go through the same rings. Compare a mark only with Handled or
// Reached of the same producer: once the worker of every partition has
// passed the mark there, the Handler has returned for every event the
// producer published before Mark, copies included (and every subscriber
// was offered it). In a shared ring the mark also covers other producers'
// events reserved before it, so it is reached no sooner than they are
// handled: later, never early.
//
// A mark counts reservations: call it after the publishing calls it should
// cover have returned. It takes no lock and allocates nothing.
func (p *Producer) Mark(dst []uint64) []uint64 {
	dst = sized(dst, len(p.bus.parts))
	for i := range dst {
		dst[i] = p.ringOf(i).Reserved()
	}
	return dst
}

// Handled returns dst, resized to Partitions() (it allocates only when dst
// is shorter), holding per partition how far the worker has handled this
// producer's ring there: the position just past the last event for which
// the Handler has returned. Positions only grow. Compare with Mark.
func (p *Producer) Handled(dst []uint64) []uint64 {
	dst = sized(dst, len(p.bus.parts))
	for i := range dst {
		dst[i] = p.ringOf(i).Released()
	}
	return dst
}

// Reached reports whether the workers have handled everything mark (from
// this producer's Mark) covers: whether, in every partition, Handled is at
// or past it. A mark of another length reports false. It allocates
// nothing.
func (p *Producer) Reached(mark []uint64) bool {
	if len(mark) != len(p.bus.parts) {
		return false
	}
	for i, m := range mark {
		if p.ringOf(i).Released() < m {
			return false
		}
	}
	return true
}

// Mark is the default producer's Producer.Mark: it covers what Publish,
// PublishBatch and Claim (and every other producer sharing the
// partitions' rings, outside Ordered mode) published so far.
func (b *Bus) Mark(dst []uint64) []uint64 { return b.def.Mark(dst) }

// Handled is the default producer's Producer.Handled.
func (b *Bus) Handled(dst []uint64) []uint64 { return b.def.Handled(dst) }

// Reached is the default producer's Producer.Reached.
func (b *Bus) Reached(mark []uint64) bool { return b.def.Reached(mark) }

// sized returns dst with length n, reusing its array when it has room.
func sized(dst []uint64, n int) []uint64 {
	if cap(dst) < n {
		return make([]uint64, n)
	}
	return dst[:n]
}
