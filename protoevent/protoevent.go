// Package protoevent encodes Kestrel events as Protocol Buffers messages,
// for sensors and pipelines that speak protobuf rather than Kestrel's JSON
// lines or binary log. The messages are those of event.proto (package
// kestrel.v1: Value, Array, Field, Event, EventBatch); this package reads
// and writes their wire form directly with protowire, so it needs no
// generated code, allocates nothing to encode into a buffer with room, and
// decodes scalar events without allocating, while code generated from
// event.proto in any language reads and writes the same bytes.
//
// An EventBatch names the schema its events' IDs belong to (schema_id,
// schema_version), so a node on another schema maps them with a
// schema.Mapping, as it does for logs; it is the value of a Kafka record
// in the "kpb/1" encoding. A LogHeader opens package replay's protobuf log
// (.kpb), whose events follow it length-delimited.
//
// Code generated from event.proto by protoc-gen-go is in package pb, for
// callers that want the protobuf runtime; tests keep the two codecs
// byte-for-byte in agreement, and check that protoc --decode reads what
// this package writes and that it reads what protoc --encode writes.
//
// Decoded String and Bytes values reference the input bytes: the caller
// must not modify them while the events are in use (copy the events with
// schema.Event.CopyFrom and the strings with strings.Clone to keep them).
package protoevent

import (
	"errors"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Field numbers of event.proto.
const (
	valueNull, valueI64, valueU64, valueF64, valueBool, valueString, valueBytes, valueArray = 1, 2, 3, 4, 5, 6, 7, 8

	arrayValues = 1

	fieldID, fieldValue = 1, 2

	eventID, eventType, eventMono, eventWall, eventKeyHi, eventKeyLo, eventFields = 1, 2, 3, 4, 5, 6, 7

	batchSchemaID, batchSchemaVersion, batchEvents = 1, 2, 3
)

// ErrMalformed: bytes that are not a valid message of event.proto, or an
// event that breaks the Event rules (field id 0, a field twice, arrays
// nested too deep).
var ErrMalformed = errors.New("protoevent: malformed message")

// DecodeError says where and why a message does not decode.
type DecodeError struct {
	// Offset is the byte offset in the message being decoded (the event's,
	// for DecodeEvent) where the problem was found.
	Offset int
	// Reason says what is wrong.
	Reason string
}

// Error returns "protoevent: malformed message at byte N: reason".
func (e *DecodeError) Error() string {
	return ErrMalformed.Error() + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns ErrMalformed.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

// AppendEvent appends ev as an Event message (not length-prefixed) to dst.
// It allocates only when dst lacks room.
func AppendEvent(dst []byte, ev *schema.Event) []byte {
	if ev.ID != 0 {
		dst = protowire.AppendTag(dst, eventID, protowire.VarintType)
		dst = protowire.AppendVarint(dst, ev.ID)
	}
	if ev.Type != 0 {
		dst = protowire.AppendTag(dst, eventType, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(ev.Type))
	}
	if ev.TsMono != 0 {
		dst = protowire.AppendTag(dst, eventMono, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(ev.TsMono))
	}
	if ev.TsWall != 0 {
		dst = protowire.AppendTag(dst, eventWall, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(ev.TsWall))
	}
	if ev.Entity.Hi != 0 {
		dst = protowire.AppendTag(dst, eventKeyHi, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, ev.Entity.Hi)
	}
	if ev.Entity.Lo != 0 {
		dst = protowire.AppendTag(dst, eventKeyLo, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, ev.Entity.Lo)
	}
	for _, f := range ev.Fields() {
		dst = protowire.AppendTag(dst, eventFields, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(fieldSize(f)))
		dst = protowire.AppendTag(dst, fieldID, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(f.ID))
		dst = protowire.AppendTag(dst, fieldValue, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(valueSize(f.Value)))
		dst = appendValue(dst, f.Value)
	}
	return dst
}

// SizeEvent returns the length of AppendEvent's output for ev.
func SizeEvent(ev *schema.Event) int {
	n := 0
	if ev.ID != 0 {
		n += 1 + protowire.SizeVarint(ev.ID)
	}
	if ev.Type != 0 {
		n += 1 + protowire.SizeVarint(uint64(ev.Type))
	}
	if ev.TsMono != 0 {
		n += 1 + protowire.SizeVarint(uint64(ev.TsMono))
	}
	if ev.TsWall != 0 {
		n += 1 + protowire.SizeVarint(uint64(ev.TsWall))
	}
	if ev.Entity.Hi != 0 {
		n += 9
	}
	if ev.Entity.Lo != 0 {
		n += 9
	}
	for _, f := range ev.Fields() {
		n += 1 + protowire.SizeBytes(fieldSize(f))
	}
	return n
}

func fieldSize(f schema.Field) int {
	return 1 + protowire.SizeVarint(uint64(f.ID)) + 1 + protowire.SizeBytes(valueSize(f.Value))
}

// valueSize is the length of a Value message holding v.
func valueSize(v value.Value) int {
	switch v.Kind() {
	case value.KindI64:
		i, _ := v.I64()
		return 1 + protowire.SizeVarint(protowire.EncodeZigZag(i))
	case value.KindU64:
		u, _ := v.U64()
		return 1 + protowire.SizeVarint(u)
	case value.KindF64:
		return 9
	case value.KindBool:
		return 2
	case value.KindString:
		s, _ := v.Str()
		return 1 + protowire.SizeBytes(len(s))
	case value.KindBytes:
		b, _ := v.Bytes()
		return 1 + protowire.SizeBytes(len(b))
	case value.KindArray:
		return 1 + protowire.SizeBytes(arraySize(v))
	}
	return 2 // Null
}

func arraySize(v value.Value) int {
	vs, _ := v.Array()
	n := 0
	for _, e := range vs {
		n += 1 + protowire.SizeBytes(valueSize(e))
	}
	return n
}

// appendValue appends the contents of a Value message holding v.
func appendValue(dst []byte, v value.Value) []byte {
	switch v.Kind() {
	case value.KindI64:
		i, _ := v.I64()
		dst = protowire.AppendTag(dst, valueI64, protowire.VarintType)
		return protowire.AppendVarint(dst, protowire.EncodeZigZag(i))
	case value.KindU64:
		u, _ := v.U64()
		dst = protowire.AppendTag(dst, valueU64, protowire.VarintType)
		return protowire.AppendVarint(dst, u)
	case value.KindF64:
		f, _ := v.F64()
		dst = protowire.AppendTag(dst, valueF64, protowire.Fixed64Type)
		return protowire.AppendFixed64(dst, math.Float64bits(f))
	case value.KindBool:
		b, _ := v.Bool()
		dst = protowire.AppendTag(dst, valueBool, protowire.VarintType)
		return protowire.AppendVarint(dst, protowire.EncodeBool(b))
	case value.KindString:
		s, _ := v.Str()
		dst = protowire.AppendTag(dst, valueString, protowire.BytesType)
		return protowire.AppendString(dst, s)
	case value.KindBytes:
		b, _ := v.Bytes()
		dst = protowire.AppendTag(dst, valueBytes, protowire.BytesType)
		return protowire.AppendBytes(dst, b)
	case value.KindArray:
		vs, _ := v.Array()
		dst = protowire.AppendTag(dst, valueArray, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(arraySize(v)))
		for _, e := range vs {
			dst = protowire.AppendTag(dst, arrayValues, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(valueSize(e)))
			dst = appendValue(dst, e)
		}
		return dst
	}
	dst = protowire.AppendTag(dst, valueNull, protowire.VarintType)
	return protowire.AppendVarint(dst, 1)
}

// decoder walks one message, tracking the offset for errors.
type decoder struct {
	b    []byte
	base int // offset of b in the outermost message
}

func (d *decoder) fail(at int, reason string) error {
	return &DecodeError{Offset: d.base + at, Reason: reason}
}

// DecodeEvent decodes an Event message into dst, which it resets first.
// Unknown fields are skipped, as protobuf readers do. An error matches
// ErrMalformed (a *DecodeError). Strings reference b (see the package
// doc); a scalar event of up to schema.InlineFields fields decodes without
// allocating.
func DecodeEvent(b []byte, dst *schema.Event) error {
	dst.Reset()
	d := decoder{b: b}
	return d.event(dst)
}

func (d *decoder) event(dst *schema.Event) error {
	b := d.b
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return d.fail(i, "bad tag")
		}
		at := i
		i += n
		switch {
		case num == eventID && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return d.fail(i, "bad event_id")
			}
			dst.ID, i = v, i+n
		case num == eventType && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 || v > math.MaxUint16 {
				return d.fail(i, "event_type_id out of 0..65535")
			}
			dst.Type, i = schema.EventTypeID(v), i+n
		case (num == eventMono || num == eventWall) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return d.fail(i, "bad timestamp")
			}
			if num == eventMono {
				dst.TsMono = schema.TimestampMono(v)
			} else {
				dst.TsWall = schema.TimestampWall(v)
			}
			i += n
		case (num == eventKeyHi || num == eventKeyLo) && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b[i:])
			if n < 0 {
				return d.fail(i, "bad entity key")
			}
			if num == eventKeyHi {
				dst.Entity.Hi = v
			} else {
				dst.Entity.Lo = v
			}
			i += n
		case num == eventFields && typ == protowire.BytesType:
			m, n := protowire.ConsumeBytes(b[i:])
			if n < 0 {
				return d.fail(i, "bad field length")
			}
			fd := decoder{b: m, base: d.base + i + n - len(m)}
			id, v, err := fd.field()
			if err != nil {
				return err
			}
			if id == 0 || id > math.MaxUint32 {
				return d.fail(at, "field id out of 1..2^32-1")
			}
			if dst.Add(schema.FieldID(id), v) != nil {
				return d.fail(at, "field "+strconv.FormatUint(id, 10)+" set twice")
			}
			i += n
		default:
			n := protowire.ConsumeFieldValue(num, typ, b[i:])
			if n < 0 {
				return d.fail(i, "bad field "+strconv.Itoa(int(num)))
			}
			i += n
		}
	}
	return nil
}

// field decodes a Field message.
func (d *decoder) field() (uint64, value.Value, error) {
	b := d.b
	var (
		id uint64
		v  value.Value
	)
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return 0, v, d.fail(i, "bad tag in a field")
		}
		i += n
		switch {
		case num == fieldID && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return 0, v, d.fail(i, "bad field id")
			}
			id, i = x, i+n
		case num == fieldValue && typ == protowire.BytesType:
			m, n := protowire.ConsumeBytes(b[i:])
			if n < 0 {
				return 0, v, d.fail(i, "bad value length")
			}
			vd := decoder{b: m, base: d.base + i + n - len(m)}
			var err error
			// A value given twice merges into the first, as protobuf
			// merges a repeated embedded message.
			if v, err = vd.value(0, v); err != nil {
				return 0, v, err
			}
			i += n
		default:
			n := protowire.ConsumeFieldValue(num, typ, b[i:])
			if n < 0 {
				return 0, v, d.fail(i, "bad member of a field")
			}
			i += n
		}
	}
	return id, v, nil
}

// value decodes a Value message merged into v (Null, the zero Value, for a
// first one): of several kinds set, the last wins, as for any oneof, and
// an array given while the value is an array extends it, as protobuf
// merges a message given twice; an empty message leaves v as it was.
func (d *decoder) value(depth int, v value.Value) (value.Value, error) {
	b := d.b
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return v, d.fail(i, "bad tag in a value")
		}
		i += n
		want := protowire.VarintType
		switch num {
		case valueF64:
			want = protowire.Fixed64Type
		case valueString, valueBytes, valueArray:
			want = protowire.BytesType
		}
		if num < valueNull || num > valueArray || typ != want {
			n := protowire.ConsumeFieldValue(num, typ, b[i:])
			if n < 0 {
				return v, d.fail(i, "bad member of a value")
			}
			i += n
			continue
		}
		switch typ {
		case protowire.VarintType:
			x, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return v, d.fail(i, "bad varint in a value")
			}
			switch num {
			case valueNull:
				v = value.NullValue()
			case valueI64:
				v = value.I64Value(protowire.DecodeZigZag(x))
			case valueU64:
				v = value.U64Value(x)
			case valueBool:
				v = value.BoolValue(x != 0)
			}
			i += n
		case protowire.Fixed64Type:
			x, n := protowire.ConsumeFixed64(b[i:])
			if n < 0 {
				return v, d.fail(i, "bad f64")
			}
			v, i = value.F64Value(math.Float64frombits(x)), i+n
		default:
			m, n := protowire.ConsumeBytes(b[i:])
			if n < 0 {
				return v, d.fail(i, "bad length in a value")
			}
			switch num {
			case valueString:
				v = value.StringValue(unsafeconv.String(m))
			case valueBytes:
				v = value.BytesValue(m)
			case valueArray:
				if depth >= value.MaxDepth {
					return v, d.fail(i, "arrays nested deeper than "+strconv.Itoa(value.MaxDepth))
				}
				ad := decoder{b: m, base: d.base + i + n - len(m)}
				av, err := ad.array(depth + 1)
				if err != nil {
					return av, err
				}
				if prev, ok := v.Array(); ok && len(prev) > 0 {
					elems, _ := av.Array()
					av = value.ArrayValue(append(slices.Clip(prev), elems...)...)
				}
				v = av
			}
			i += n
		}
	}
	return v, nil
}

// array decodes an Array message.
func (d *decoder) array(depth int) (value.Value, error) {
	b := d.b
	var vs []value.Value
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return value.Value{}, d.fail(i, "bad tag in an array")
		}
		i += n
		if num != arrayValues || typ != protowire.BytesType {
			n := protowire.ConsumeFieldValue(num, typ, b[i:])
			if n < 0 {
				return value.Value{}, d.fail(i, "bad member of an array")
			}
			i += n
			continue
		}
		m, n := protowire.ConsumeBytes(b[i:])
		if n < 0 {
			return value.Value{}, d.fail(i, "bad element length")
		}
		ed := decoder{b: m, base: d.base + i + n - len(m)}
		e, err := ed.value(depth, value.Value{})
		if err != nil {
			return value.Value{}, err
		}
		vs = append(vs, e)
		i += n
	}
	return value.ArrayValue(vs...), nil
}

// BatchHeader is what an EventBatch says about its events' schema.
type BatchHeader struct {
	SchemaID      string
	SchemaVersion uint32
}

// AppendBatch appends an EventBatch message of evs, under the schema h
// names, to dst.
func AppendBatch(dst []byte, h BatchHeader, evs []*schema.Event) []byte {
	if h.SchemaID != "" {
		dst = protowire.AppendTag(dst, batchSchemaID, protowire.BytesType)
		dst = protowire.AppendString(dst, h.SchemaID)
	}
	if h.SchemaVersion != 0 {
		dst = protowire.AppendTag(dst, batchSchemaVersion, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(h.SchemaVersion))
	}
	for _, ev := range evs {
		dst = protowire.AppendTag(dst, batchEvents, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(SizeEvent(ev)))
		dst = AppendEvent(dst, ev)
	}
	return dst
}

// ReadBatchHeader returns an EventBatch's schema id and version without
// decoding its events, so that a reader can pick the schema.Mapping
// before it decodes them. The id is a copy.
func ReadBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	err := (&decoder{b: b}).scalars("batch", func(m scalar) string {
		switch {
		case m.num == batchSchemaID && m.typ == protowire.BytesType:
			h.SchemaID = string(m.bytes)
		case m.num == batchSchemaVersion && m.typ == protowire.VarintType:
			if m.varint > math.MaxUint32 {
				return "schema_version out of 32 bits"
			}
			h.SchemaVersion = uint32(m.varint)
		}
		return ""
	})
	return h, err
}

// scalar is one member of a message read by decoder.scalars: a varint's
// value, or the contents of a length-delimited member.
type scalar struct {
	num    protowire.Number
	typ    protowire.Type
	varint uint64
	bytes  []byte
}

// scalars walks the members of a message named what, such as a header,
// calling take with each; take ignores those it does not want and returns
// a reason to refuse one it does, "" to go on. Members of other wire types
// are skipped.
func (d *decoder) scalars(what string, take func(scalar) string) error {
	b := d.b
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return d.fail(i, "bad tag in a "+what)
		}
		i += n
		m := scalar{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			m.varint, n = protowire.ConsumeVarint(b[i:])
		case protowire.BytesType:
			m.bytes, n = protowire.ConsumeBytes(b[i:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[i:])
		}
		if n < 0 {
			return d.fail(i, "bad member of a "+what)
		}
		if reason := take(m); reason != "" {
			return d.fail(i, reason)
		}
		i += n
	}
	return nil
}

// ReadBatch decodes the events of an EventBatch in order into ev, calling
// each after every one; each may keep nothing of ev past its return but
// what it copies. It stops at the first error, each's or a *DecodeError.
// Use ReadBatchHeader for the schema.
func ReadBatch(b []byte, ev *schema.Event, each func(ev *schema.Event) error) error {
	for i := 0; i < len(b); {
		num, typ, n := consumeTag(b[i:])
		if n < 0 {
			return &DecodeError{Offset: i, Reason: "bad tag in a batch"}
		}
		i += n
		if num != batchEvents || typ != protowire.BytesType {
			n := protowire.ConsumeFieldValue(num, typ, b[i:])
			if n < 0 {
				return &DecodeError{Offset: i, Reason: "bad member of a batch"}
			}
			i += n
			continue
		}
		m, n := protowire.ConsumeBytes(b[i:])
		if n < 0 {
			return &DecodeError{Offset: i, Reason: "bad event length"}
		}
		ev.Reset()
		d := decoder{b: m, base: i + n - len(m)}
		if err := d.event(ev); err != nil {
			return err
		}
		if err := each(ev); err != nil {
			return err
		}
		i += n
	}
	return nil
}

// LogHeader is the LogHeader message that opens a protobuf event log
// (package replay's .kpb format).
type LogHeader struct {
	// Version is the log format's version.
	Version uint32
	// SchemaVersion and SchemaID name the schema the log's events were
	// recorded under.
	SchemaVersion uint32
	SchemaID      string
	// MetaJSON is the header's other members as one JSON object; empty
	// when none. The codec does not check it is JSON.
	MetaJSON []byte
}

// Field numbers of LogHeader.
const logVersion, logSchemaVersion, logSchemaID, logMeta = 1, 2, 3, 4

// AppendLogHeader appends h as a LogHeader message to dst.
func AppendLogHeader(dst []byte, h LogHeader) []byte {
	if h.Version != 0 {
		dst = protowire.AppendTag(dst, logVersion, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(h.Version))
	}
	if h.SchemaVersion != 0 {
		dst = protowire.AppendTag(dst, logSchemaVersion, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(h.SchemaVersion))
	}
	if h.SchemaID != "" {
		dst = protowire.AppendTag(dst, logSchemaID, protowire.BytesType)
		dst = protowire.AppendString(dst, h.SchemaID)
	}
	if len(h.MetaJSON) != 0 {
		dst = protowire.AppendTag(dst, logMeta, protowire.BytesType)
		dst = protowire.AppendBytes(dst, h.MetaJSON)
	}
	return dst
}

// DecodeLogHeader decodes a LogHeader message; unknown fields are skipped.
// The id and meta are copies. An error matches ErrMalformed.
func DecodeLogHeader(b []byte) (LogHeader, error) {
	var h LogHeader
	err := (&decoder{b: b}).scalars("log header", func(m scalar) string {
		switch {
		case (m.num == logVersion || m.num == logSchemaVersion) && m.typ == protowire.VarintType:
			if m.varint > math.MaxUint32 {
				return "version out of 32 bits"
			}
			if m.num == logVersion {
				h.Version = uint32(m.varint)
			} else {
				h.SchemaVersion = uint32(m.varint)
			}
		case m.num == logSchemaID && m.typ == protowire.BytesType:
			h.SchemaID = string(m.bytes)
		case m.num == logMeta && m.typ == protowire.BytesType:
			h.MetaJSON = append([]byte(nil), m.bytes...)
		}
		return ""
	})
	return h, err
}

// Validate checks ev, as decoded, against reg as Kestrel's other readers
// do: a non-zero event type, every field registered, every value coerced
// to its field's type (in place). The error matches schema.ErrUnknownField
// or schema.ErrTypeMismatch (a *schema.TypeError naming the field), or
// ErrMalformed for a missing type. It allocates nothing for a valid event.
func Validate(reg *schema.Registry, ev *schema.Event) error {
	if ev.Type == 0 {
		return &DecodeError{Reason: "event_type_id missing"}
	}
	fs := ev.Fields()
	for i := range fs {
		def, ok := reg.Field(fs[i].ID)
		if !ok {
			return &schema.FieldError{Field: fs[i].ID, Err: schema.ErrUnknownField}
		}
		v, err := def.DataType.Coerce(fs[i].Value)
		if err != nil {
			if te, ok := err.(*schema.TypeError); ok {
				te.Field, te.Path = fs[i].ID, def.Path
			}
			return err
		}
		fs[i].Value = v
	}
	return nil
}

// consumeTag is protowire.ConsumeTag refusing (n < 0) field numbers past
// protowire.MaxValidNumber, which the protobuf runtime rejects as invalid
// wire data.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}
