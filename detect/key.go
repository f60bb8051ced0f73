package detect

import (
	"encoding/binary"
	"math"

	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// joinKey identifies the entity a sequence's partial matches belong to:
// the XXH3-128 hash of the by values, or the zero key (one global
// sequence) when the rule has no by fields. A hash hit is confirmed against the values kept in
// the state, so a collision is counted, never merged.
type joinKey struct {
	hi, lo uint64
}

// Value tags in the hashed form. Integers are tagged by sign, not by kind,
// so I64 5 and U64 5 join (a sensor may write either for the same field).
const (
	tagUint   = 'u'
	tagNeg    = 'i'
	tagFloat  = 'f'
	tagBool   = 'b'
	tagString = 's'
	tagBytes  = 'y'
	tagArray  = 'a'
	tagNull   = 'n'
)

// appendKeyValue appends v's hashed form to dst; ok is false for Null,
// which never joins.
func appendKeyValue(dst []byte, v value.Value) ([]byte, bool) {
	switch v.Kind() {
	case value.KindI64:
		i, _ := v.I64()
		if i < 0 {
			return binary.LittleEndian.AppendUint64(append(dst, tagNeg), uint64(i)), true
		}
		return binary.LittleEndian.AppendUint64(append(dst, tagUint), uint64(i)), true
	case value.KindU64:
		u, _ := v.U64()
		return binary.LittleEndian.AppendUint64(append(dst, tagUint), u), true
	case value.KindF64:
		f, _ := v.F64()
		return binary.LittleEndian.AppendUint64(append(dst, tagFloat), math.Float64bits(f)), true
	case value.KindBool:
		b, _ := v.Bool()
		x := byte(0)
		if b {
			x = 1
		}
		return append(dst, tagBool, x), true
	case value.KindString:
		s, _ := v.Str()
		dst = binary.LittleEndian.AppendUint64(append(dst, tagString), uint64(len(s)))
		return append(dst, s...), true
	case value.KindBytes:
		b, _ := v.Bytes()
		dst = binary.LittleEndian.AppendUint64(append(dst, tagBytes), uint64(len(b)))
		return append(dst, b...), true
	case value.KindArray:
		start := len(dst)
		dst = binary.LittleEndian.AppendUint64(append(dst, tagArray), 0)
		dst = v.AppendJSON(dst)
		binary.LittleEndian.PutUint64(dst[start+1:], uint64(len(dst)-start-9))
		return dst, true
	}
	return dst, false
}

// joinEqual reports whether a and b hash alike (see appendKeyValue).
func joinEqual(a, b value.Value) bool {
	if a.Equal(b) {
		return true
	}
	if c, ok := cmpNum(a, b); ok && c == 0 && a.Kind() != value.KindF64 && b.Kind() != value.KindF64 {
		return true
	}
	if a.Kind() == value.KindF64 && b.Kind() == value.KindF64 {
		x, _ := a.F64()
		y, _ := b.F64()
		return math.Float64bits(x) == math.Float64bits(y) // NaN joins NaN, as its bits hash alike
	}
	return false
}

// keyOf computes the join key of ev for the by fields ids into vals (len
// ids), using buf as scratch; ok is false when a by field is missing or
// Null, unless it is optional (bit i of optional set: ?field, which joins
// on null, as in Elastic EQL). With no by fields the key is the zero key:
// the rule's one global sequence.
func keyOf(ev *schema.Event, ids []schema.FieldID, optional uint64, vals []value.Value, buf []byte) (joinKey, []byte, bool) {
	if len(ids) == 0 {
		return joinKey{}, buf, true
	}
	buf = buf[:0]
	for i, id := range ids {
		v, _ := ev.Get(id)
		var ok bool
		if buf, ok = appendKeyValue(buf, v); !ok {
			if optional&(1<<uint(i)) == 0 || v.Kind() != value.KindNull {
				return joinKey{}, buf, false
			}
			buf = append(buf, tagNull)
		}
		vals[i] = v
	}
	h := xxh3.Hash128(buf)
	return joinKey{h.Hi, h.Lo}, buf, true
}

// owner returns the partition, of n, that holds rule r's state for key k:
// a function of the rule and the join values alone, so every event that can
// advance or cancel that state is routed to the same place.
func owner(r *crule, k joinKey, n int) int {
	if n <= 1 {
		return 0
	}
	return int(((k.hi ^ r.salt) * 0x9e3779b97f4a7c15 >> 32) % uint64(n))
}
