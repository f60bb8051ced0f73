package engine

import (
	"math/bits"

	"github.com/kestrel-sec/kestrel/schema"
)

// The sharding hash is XXH3-64 (seed 0) of the entity key's 16 big-endian
// bytes, schema.EntityKey.Bytes(): a fixed function of the key, so a key maps
// to the same partition in every run and every process given the same
// partition count. hash16 computes it without building the byte slice; it is
// XXH3's 9-16 byte path specialised to length 16, with the secret words it
// reads, and TestHash16MatchesXXH3 checks it against xxh3.Hash.
const (
	xxhKey24 = 0x1f67b3b7a4a44072
	xxhKey32 = 0x78e5c0cc4ee679cb
	xxhKey40 = 0x2172ffcc7dd05a82
	xxhKey48 = 0x8e2443f7744608b8
)

// hash16 returns xxh3.Hash(k.Bytes()).
func hash16(k schema.EntityKey) uint64 {
	// XXH3 reads the bytes as little-endian words; the key is stored
	// big-endian, so each word is byte-reversed.
	lo := bits.ReverseBytes64(k.Hi) ^ (xxhKey24 ^ xxhKey32)
	hi := bits.ReverseBytes64(k.Lo) ^ (xxhKey40 ^ xxhKey48)
	mh, ml := bits.Mul64(lo, hi)
	x := 16 + bits.ReverseBytes64(lo) + hi + (mh ^ ml)
	x ^= x >> 37
	x *= 0x165667919e3779f9
	x ^= x >> 32
	return x
}

// shard maps hashes to partitions: h % n, with a mask when n is a power of
// two (the same result, without a division).
type shard struct {
	n    uint64
	mask uint64 // n-1 when n is a power of two, else 0
}

func newShard(n int) shard {
	s := shard{n: uint64(n)}
	if n&(n-1) == 0 {
		s.mask = uint64(n - 1)
	}
	return s
}

// of returns k's partition. It inlines into Publish, and with one
// partition it does not hash at all.
func (s shard) of(k schema.EntityKey) int {
	if s.n == 1 {
		return 0
	}
	return s.hashed(k)
}

// hashed is of for more than one partition.
func (s shard) hashed(k schema.EntityKey) int {
	h := hash16(k)
	if s.mask != 0 {
		return int(h & s.mask)
	}
	return int(h % s.n)
}

// EntityPartition returns the partition of entity key k on a bus of n
// partitions (Bus.PartitionOf without the bus), so that a consumer built
// before its bus (a Config.Route function) can tell an event's entity
// partition. n < 1 counts as 1.
func EntityPartition(k schema.EntityKey, n int) int {
	if n <= 1 {
		return 0
	}
	return newShard(n).of(k)
}
