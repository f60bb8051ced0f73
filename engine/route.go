package engine

import "math/bits"

// PartitionSet is a set of partitions, 0 to MaxRoutedPartitions-1: what a
// Config.Route function returns. It is a fixed bitset passed by value, so
// building and returning one allocates nothing; the zero value is empty.
// The bus reads only the words its partition count needs, so a small bus
// pays for one word, as with a 64-bit mask.
type PartitionSet [MaxRoutedPartitions / 64]uint64

// Add puts partition p in s; p outside [0, MaxRoutedPartitions) is ignored.
func (s *PartitionSet) Add(p int) {
	if uint(p) < MaxRoutedPartitions {
		s[p>>6] |= 1 << (uint(p) & 63)
	}
}

// Remove takes partition p out of s.
func (s *PartitionSet) Remove(p int) {
	if uint(p) < MaxRoutedPartitions {
		s[p>>6] &^= 1 << (uint(p) & 63)
	}
}

// Has reports whether p is in s.
func (s *PartitionSet) Has(p int) bool {
	return uint(p) < MaxRoutedPartitions && s[p>>6]&(1<<(uint(p)&63)) != 0
}

// Len returns how many partitions s holds.
func (s *PartitionSet) Len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Union adds every partition of o to s.
func (s *PartitionSet) Union(o *PartitionSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

// empty reports whether s holds no partition below words*64.
func (s *PartitionSet) empty(words int) bool {
	for _, w := range s[:words] {
		if w != 0 {
			return false
		}
	}
	return true
}
