package schema

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// FieldID identifies a registered field path. 0 means none.
type FieldID uint32

// EventTypeID identifies a registered event type. 0 means none.
type EventTypeID uint16

// TimestampMono is a monotonic time in nanoseconds (see package clock).
type TimestampMono uint64

// TimestampWall is a wall-clock time in nanoseconds since the Unix epoch.
type TimestampWall uint64

// EntityKey is the 128-bit key of the entity an event is about (a process,
// a host, a session). The bus shards by it, so all events of one entity keep
// their order. Hi holds the high 64 bits.
type EntityKey struct {
	Hi, Lo uint64
}

// EntityKeyFrom64 returns the EntityKey whose value is u.
func EntityKeyFrom64(u uint64) EntityKey { return EntityKey{Lo: u} }

// IsZero reports whether k is 0.
func (k EntityKey) IsZero() bool { return k.Hi == 0 && k.Lo == 0 }

// Bytes returns k as 16 big-endian bytes, the form hashed for sharding.
func (k EntityKey) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.Hi)
	binary.BigEndian.PutUint64(b[8:], k.Lo)
	return b
}

// AppendDecimal appends k in decimal, the form of the JSON wire format.
func (k EntityKey) AppendDecimal(dst []byte) []byte {
	if k.Hi == 0 {
		return strconv.AppendUint(dst, k.Lo, 10)
	}
	// Peel off 19 decimal digits at a time (10^19 fits in a uint64).
	const pow19 = 10_000_000_000_000_000_000
	var groups [3]uint64
	n := 0
	hi, lo := k.Hi, k.Lo
	for hi != 0 {
		var r uint64
		hi, r = bits.Div64(0, hi, pow19)
		lo, r = bits.Div64(r, lo, pow19)
		groups[n] = r
		n++
	}
	dst = strconv.AppendUint(dst, lo, 10)
	for i := n - 1; i >= 0; i-- {
		var buf [19]byte
		v := groups[i]
		for j := 18; j >= 0; j-- {
			buf[j] = byte('0' + v%10)
			v /= 10
		}
		dst = append(dst, buf[:]...)
	}
	return dst
}

// String returns k in decimal.
func (k EntityKey) String() string { return string(k.AppendDecimal(nil)) }

// ParseEntityKey parses a decimal integer in [0, 2^128-1].
func ParseEntityKey(s string) (EntityKey, error) {
	if s == "" {
		return EntityKey{}, &SyntaxError{Reason: "entity_key: empty number"}
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return EntityKey{}, &SyntaxError{Reason: "entity_key " + strconv.Quote(s) + " is not a non-negative integer"}
		}
		// (hi,lo) = (hi,lo)*10 + d, checking for overflow past 128 bits.
		h1, l1 := bits.Mul64(lo, 10)
		h2, h2lo := bits.Mul64(hi, 10)
		if h2 != 0 {
			return EntityKey{}, &SyntaxError{Reason: "entity_key " + s + " overflows 128 bits"}
		}
		var carry uint64
		hi, carry = bits.Add64(h2lo, h1, 0)
		if carry != 0 {
			return EntityKey{}, &SyntaxError{Reason: "entity_key " + s + " overflows 128 bits"}
		}
		lo, carry = bits.Add64(l1, uint64(c-'0'), 0)
		hi, carry = bits.Add64(hi, 0, carry)
		if carry != 0 {
			return EntityKey{}, &SyntaxError{Reason: "entity_key " + s + " overflows 128 bits"}
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return EntityKey{}, &SyntaxError{Reason: "entity_key " + s + " has a leading zero"}
	}
	return EntityKey{Hi: hi, Lo: lo}, nil
}
