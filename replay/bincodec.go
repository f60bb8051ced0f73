package replay

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// The binary log's layout is specified in FORMAT.md; its framing (magics,
// headers, end marker) is package internal/kbin's, the numbers here bound
// a block's payload.
const (
	// MaxBlockSize bounds a block's uncompressed payload; a reader rejects a
	// larger one before allocating anything for it.
	MaxBlockSize = 8 << 20
	// MaxBlockEvents bounds the events of one block.
	MaxBlockEvents = 1 << 20
	// maxBlockElems bounds the Array elements of one block, so that a
	// block of tiny elements cannot make the reader allocate 16 bytes of
	// Value for each byte of payload.
	maxBlockElems = 1 << 20
	// minEventSize is the smallest encoded event: one byte each for the
	// id, type, two timestamps, entity tag and field count.
	minEventSize = 6
)

// compBound is the largest compressed size a block of raw bytes may claim:
// zstd's worst case is the input plus a small overhead per 128 KiB block.
func compBound(raw int) int { return raw + raw>>7 + 512 }

// Value tags of the block payload.
const (
	tagNull byte = iota
	tagI64
	tagU64
	tagF64
	tagFalse
	tagTrue
	tagString
	tagBytes
	tagArray
)

// Entity key tags.
const (
	entZero byte = iota // 0
	entSame             // the previous event's key in this block
	entLo               // uvarint low 64 bits, high bits 0: small keys
	entFull             // 16 bytes, high then low 64 bits little-endian: hashes
)

// deltaState is what an event is delta-encoded against; it starts at zero
// in every block, so blocks decode independently.
type deltaState struct {
	id, mono, wall uint64
	entity         schema.EntityKey
}

func zigzag(d uint64) uint64   { return d<<1 ^ uint64(int64(d)>>63) }
func unzigzag(u uint64) uint64 { return u>>1 ^ -(u & 1) }

// appendEvent appends ev's encoding to dst and returns it with the number
// of Array elements written.
func appendEvent(dst []byte, st *deltaState, ev *schema.Event, maxDepth int) ([]byte, int, error) {
	dst = binary.AppendUvarint(dst, zigzag(ev.ID-st.id))
	dst = binary.AppendUvarint(dst, uint64(ev.Type))
	dst = binary.AppendUvarint(dst, zigzag(uint64(ev.TsMono)-st.mono))
	dst = binary.AppendUvarint(dst, zigzag(uint64(ev.TsWall)-st.wall))
	switch k := ev.Entity; {
	case k.IsZero():
		dst = append(dst, entZero)
	case k == st.entity:
		dst = append(dst, entSame)
	case k.Hi == 0 && k.Lo < 1<<56: // at most 8 varint bytes
		dst = append(dst, entLo)
		dst = binary.AppendUvarint(dst, k.Lo)
	default:
		dst = append(dst, entFull)
		dst = binary.LittleEndian.AppendUint64(dst, k.Hi)
		dst = binary.LittleEndian.AppendUint64(dst, k.Lo)
	}
	st.id, st.mono, st.wall, st.entity = ev.ID, uint64(ev.TsMono), uint64(ev.TsWall), ev.Entity
	fs := ev.Fields()
	dst = binary.AppendUvarint(dst, uint64(len(fs)))
	var prev schema.FieldID
	elems := 0
	for _, f := range fs {
		dst = binary.AppendUvarint(dst, uint64(f.ID-prev))
		prev = f.ID
		var err error
		if dst, err = appendValue(dst, f.Value, maxDepth, &elems); err != nil {
			return dst, elems, err
		}
	}
	return dst, elems, nil
}

func appendValue(dst []byte, v value.Value, depth int, elems *int) ([]byte, error) {
	switch v.Kind() {
	case value.KindNull:
		return append(dst, tagNull), nil
	case value.KindI64:
		i, _ := v.I64()
		return binary.AppendUvarint(append(dst, tagI64), zigzag(uint64(i))), nil
	case value.KindU64:
		u, _ := v.U64()
		return binary.AppendUvarint(append(dst, tagU64), u), nil
	case value.KindF64:
		f, _ := v.F64()
		return binary.LittleEndian.AppendUint64(append(dst, tagF64), math.Float64bits(f)), nil
	case value.KindBool:
		if b, _ := v.Bool(); b {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case value.KindString:
		s, _ := v.Str()
		dst = binary.AppendUvarint(append(dst, tagString), uint64(len(s)))
		return append(dst, s...), nil
	case value.KindBytes:
		b, _ := v.Bytes()
		dst = binary.AppendUvarint(append(dst, tagBytes), uint64(len(b)))
		return append(dst, b...), nil
	case value.KindArray:
		if depth <= 0 {
			return dst, fmt.Errorf("%w: Array nesting deeper than the reader's limit", ErrTooLarge)
		}
		a, _ := v.Array()
		*elems += len(a)
		dst = binary.AppendUvarint(append(dst, tagArray), uint64(len(a)))
		for _, e := range a {
			var err error
			if dst, err = appendValue(dst, e, depth-1, elems); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, fmt.Errorf("replay: value of unknown kind %v", v.Kind())
}

// blockDecoder decodes the events of one decompressed block payload, one
// per call. Every length and count is checked against the bytes left
// before anything is allocated for it.
type blockDecoder struct {
	buf   []byte
	pos   int
	left  int // events still to decode
	index int // events decoded from this block
	st    deltaState
	elems int // Array elements allocated in this block

	reg       *schema.Registry
	maxFields int
	maxDepth  int
	copy      bool            // copy strings into arena instead of viewing buf
	arena     valuejson.Arena // used when copy
	vals      []value.Value   // chunk that Arrays are carved from; never reused
	b         schema.Builder
}

func (d *blockDecoder) reset(buf []byte, count int) {
	d.buf, d.pos, d.left, d.index, d.st, d.elems = buf, 0, count, 0, deltaState{}, 0
}

func (d *blockDecoder) fail(format string, args ...any) error {
	return corruptf(fmt.Sprintf("event %d of the block (payload byte %d): ", d.index, d.pos) + fmt.Sprintf(format, args...))
}

// uvarint reads a varint as binary.Uvarint does; ok is false when the
// payload ends inside it or it overflows 64 bits. It is written to inline
// (TestUvarintInlines), which the decoder's speed depends on.
func (d *blockDecoder) uvarint() (u uint64, ok bool) {
	buf := d.buf
	var x uint64
	for i, s := d.pos, uint(0); i < len(buf) && s < 64; i, s = i+1, s+7 {
		c := buf[i]
		x |= uint64(c&0x7f) << s
		if c < 0x80 {
			d.pos = i + 1
			return x, s < 63 || c <= 1
		}
	}
	return 0, false
}

// varintError describes a varint uvarint failed to read.
func (d *blockDecoder) varintError(what string) error {
	return d.fail("%s: malformed varint (the payload ends inside it, or it overflows 64 bits)", what)
}

// next decodes the next event into dst.
func (d *blockDecoder) next(dst *schema.Event) error {
	if d.left <= 0 {
		return d.fail("no event left")
	}
	err := d.decode(dst)
	d.left--
	d.index++
	if err == nil && d.left == 0 && d.pos != len(d.buf) {
		err = d.fail("%d bytes after the block's last event", len(d.buf)-d.pos)
	}
	return err
}

func (d *blockDecoder) decode(dst *schema.Event) error {
	b := &d.b
	b.Reset()
	u, ok := d.uvarint()
	if !ok {
		return d.varintError("event_id")
	}
	d.st.id += unzigzag(u)
	b.ID(d.st.id)
	if u, ok = d.uvarint(); !ok {
		return d.varintError("event_type_id")
	}
	if u == 0 || u > math.MaxUint16 {
		return d.fail("event_type_id %d out of 1..65535", u)
	}
	b.Type(schema.EventTypeID(u))
	if u, ok = d.uvarint(); !ok {
		return d.varintError("ts_mono_ns")
	}
	d.st.mono += unzigzag(u)
	b.Mono(schema.TimestampMono(d.st.mono))
	if u, ok = d.uvarint(); !ok {
		return d.varintError("ts_wall_ns")
	}
	d.st.wall += unzigzag(u)
	b.Wall(schema.TimestampWall(d.st.wall))
	if d.pos >= len(d.buf) {
		return d.fail("entity_key: payload ends")
	}
	tag := d.buf[d.pos]
	d.pos++
	switch tag {
	case entZero:
		d.st.entity = schema.EntityKey{}
	case entSame:
	case entLo:
		lo, ok := d.uvarint()
		if !ok {
			return d.varintError("entity_key")
		}
		d.st.entity = schema.EntityKey{Lo: lo}
	case entFull:
		if len(d.buf)-d.pos < 16 {
			return d.fail("entity_key: payload ends")
		}
		d.st.entity = schema.EntityKey{Hi: binary.LittleEndian.Uint64(d.buf[d.pos:]), Lo: binary.LittleEndian.Uint64(d.buf[d.pos+8:])}
		d.pos += 16
	default:
		return d.fail("entity_key: unknown tag %d", tag)
	}
	b.Entity(d.st.entity)
	n, ok := d.uvarint()
	if !ok {
		return d.varintError("field count")
	}
	if n > uint64(d.maxFields) {
		return d.fail("%d fields, more than the limit of %d", n, d.maxFields)
	}
	if n*2 > uint64(len(d.buf)-d.pos) { // each field takes at least 2 bytes
		return d.fail("%d fields in the %d bytes left", n, len(d.buf)-d.pos)
	}
	var id uint64
	for range n {
		delta, ok := d.uvarint()
		if !ok {
			return d.varintError("field id")
		}
		// delta > MaxUint32-id, not id+delta > MaxUint32: the sum of a
		// delta near 2^64 wraps to a lower id and would pass.
		if delta == 0 || delta > math.MaxUint32-id {
			return d.fail("field id delta %d after %d: ids must rise within 1..4294967295", delta, id)
		}
		id += delta
		v, err := d.value(d.maxDepth)
		if err != nil {
			return err
		}
		if d.reg != nil {
			def, ok := d.reg.Field(schema.FieldID(id))
			if !ok {
				return fmt.Errorf("field %d is not registered: %w", id, schema.ErrUnknownField)
			}
			cv, err := def.DataType.Coerce(v)
			if err != nil {
				te := err.(*schema.TypeError)
				te.Field, te.Path = schema.FieldID(id), def.Path
				return te
			}
			v = cv
		}
		b.Field(schema.FieldID(id), v)
	}
	if err := b.BuildInto(dst); err != nil {
		// The checks above leave the builder nothing to refuse; should it
		// refuse anyway, the payload is what is wrong.
		return corruptWrap(fmt.Sprintf("event %d of the block (payload byte %d)", d.index, d.pos), err)
	}
	return nil
}

// value decodes one value; the scalar and string cases stay in this
// function, Arrays go to arrayValue.
func (d *blockDecoder) value(depth int) (value.Value, error) {
	if d.pos >= len(d.buf) {
		return value.Value{}, d.fail("value: payload ends")
	}
	tag := d.buf[d.pos]
	d.pos++
	switch tag {
	case tagNull:
		return value.Value{}, nil
	case tagI64:
		u, ok := d.uvarint()
		if !ok {
			return value.Value{}, d.varintError("I64")
		}
		return value.I64Value(int64(unzigzag(u))), nil
	case tagU64:
		u, ok := d.uvarint()
		if !ok {
			return value.Value{}, d.varintError("U64")
		}
		return value.U64Value(u), nil
	case tagF64:
		if len(d.buf)-d.pos < 8 {
			return value.Value{}, d.fail("F64: payload ends")
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.buf[d.pos:]))
		d.pos += 8
		return value.F64Value(f), nil
	case tagFalse:
		return value.BoolValue(false), nil
	case tagTrue:
		return value.BoolValue(true), nil
	case tagString, tagBytes:
		n, ok := d.uvarint()
		if !ok {
			return value.Value{}, d.varintError("length")
		}
		if n > uint64(len(d.buf)-d.pos) {
			return value.Value{}, d.fail("length %d past the %d bytes left", n, len(d.buf)-d.pos)
		}
		raw := d.buf[d.pos : d.pos+int(n) : d.pos+int(n)]
		d.pos += int(n)
		var s string
		if d.copy {
			s = d.arena.String(unsafeconv.String(raw))
		} else {
			s = unsafeconv.String(raw)
		}
		if tag == tagString {
			return value.StringValue(s), nil
		}
		if n == 0 {
			return value.BytesValue([]byte{}), nil
		}
		return value.BytesValue(unsafeconv.Bytes(s)), nil
	case tagArray:
		return d.arrayValue(depth)
	}
	return value.Value{}, d.fail("unknown value tag %d", tag)
}

func (d *blockDecoder) arrayValue(depth int) (value.Value, error) {
	if depth <= 0 {
		return value.Value{}, d.fail("Array nesting deeper than %d", d.maxDepth)
	}
	n, ok := d.uvarint()
	if !ok {
		return value.Value{}, d.varintError("Array length")
	}
	if n > uint64(len(d.buf)-d.pos) { // each element takes at least a byte
		return value.Value{}, d.fail("Array of %d elements in the %d bytes left", n, len(d.buf)-d.pos)
	}
	if d.elems += int(n); d.elems > maxBlockElems {
		return value.Value{}, d.fail("more than %d Array elements in one block", maxBlockElems)
	}
	out := d.carve(int(n))
	for i := range out {
		var err error
		if out[i], err = d.value(depth - 1); err != nil {
			return value.Value{}, err
		}
	}
	return value.ArrayValue(out...), nil
}

// carve returns n fresh Values from the current chunk. Chunks are never
// reused, since the events handed out reference them.
func (d *blockDecoder) carve(n int) []value.Value {
	if n == 0 {
		return []value.Value{}
	}
	if cap(d.vals)-len(d.vals) < n {
		d.vals = make([]value.Value, 0, max(n, 256))
	}
	l := len(d.vals)
	d.vals = d.vals[:l+n]
	return d.vals[l : l+n : l+n]
}
