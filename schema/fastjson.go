package schema

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// fastLine decodes the event lines recorders actually write, without sonic:
// the keys in the canonical order, no white space, fields as an object or as
// [id, value] pairs, and values that are Null, I64, U64, Bool or String
// (variant names in either case). It accepts a strict subset of what the
// sonic path accepts and gives the same event for it (FuzzFastLine checks
// both); on anything else, including every error, it reports false and the
// Decoder reads the line with sonic, which gives the error its exact reason.
type fastLine struct {
	reg       *Registry
	maxFields int
	b         Builder
	arena     *valuejson.Arena // the Decoder's
	scratch   []byte           // unescaped string
}

// decode parses line into dst, reporting whether it could; on false dst is
// unspecified.
func (f *fastLine) decode(line []byte, dst *Event) bool {
	p := fastParser{buf: line}
	b := &f.b
	b.Reset()
	if !p.lit(`{"event_id":`) {
		return false
	}
	id, ok := p.uint64()
	if !ok || !p.lit(`,"event_type_id":`) {
		return false
	}
	typ, ok := p.uint64()
	if !ok || typ == 0 || typ > math.MaxUint16 || !p.lit(`,"ts_mono_ns":`) {
		return false
	}
	mono, ok := p.uint64()
	if !ok || !p.lit(`,"ts_wall_ns":`) {
		return false
	}
	wall, ok := p.uint64()
	if !ok || !p.lit(`,"entity_key":`) {
		return false
	}
	key, ok := p.entity()
	if !ok || !p.lit(`,"fields":`) {
		return false
	}
	b.ID(id).Type(EventTypeID(typ)).Mono(TimestampMono(mono)).Wall(TimestampWall(wall)).Entity(key)
	if !f.fields(&p) || !p.lit("}") || p.pos != len(p.buf) {
		return false
	}
	return b.BuildInto(dst) == nil
}

// fields parses the fields member in either shape.
func (f *fastLine) fields(p *fastParser) bool {
	pairs := p.peek() == '['
	if !pairs && p.peek() != '{' {
		return false
	}
	p.pos++
	close := byte('}')
	if pairs {
		close = ']'
	}
	if p.peek() == close {
		p.pos++
		return true
	}
	for n := 1; ; n++ {
		if n > f.maxFields {
			return false
		}
		var id uint64
		var ok bool
		if pairs {
			if !p.lit("[") {
				return false
			}
			id, ok = p.uint64()
			if !ok || !p.lit(",") {
				return false
			}
		} else {
			if !p.lit(`"`) {
				return false
			}
			id, ok = p.uint64()
			if !ok || !p.lit(`":`) {
				return false
			}
		}
		if id == 0 || id > math.MaxUint32 {
			return false
		}
		v, ok := f.value(p)
		if !ok || pairs && !p.lit("]") {
			return false
		}
		if f.reg != nil {
			def, ok := f.reg.Field(FieldID(id))
			if !ok || def.Dynamic { // the slow path says why
				return false
			}
			cv, err := def.DataType.Coerce(v)
			if err != nil {
				return false
			}
			v = cv
		}
		if f.b.Field(FieldID(id), v).Err() != nil { // a duplicate
			return false
		}
		switch p.peek() {
		case ',':
			p.pos++
		case close:
			p.pos++
			return true
		default:
			return false
		}
	}
}

// value parses "Null" or {"Variant":payload} for the variants it handles.
// It dispatches on the variant's first letter, so each value costs one
// literal comparison.
func (f *fastLine) value(p *fastParser) (value.Value, bool) {
	var v value.Value
	switch p.peek() {
	case '"':
		return v, p.lit(`"Null"`) || p.lit(`"null"`)
	case '{':
	default:
		return v, false
	}
	if len(p.buf)-p.pos < 3 || p.buf[p.pos+1] != '"' {
		return v, false
	}
	c := p.buf[p.pos+2]
	p.pos += 3
	switch c {
	case 'S', 's':
		if !p.lit(`tring":`) {
			return v, false
		}
		s, ok := f.str(p)
		if !ok {
			return v, false
		}
		v = value.StringValue(s)
	case 'U', 'u':
		if !p.lit(`64":`) {
			return v, false
		}
		u, ok := p.uint64()
		if !ok {
			return v, false
		}
		v = value.U64Value(u)
	case 'I', 'i':
		if !p.lit(`64":`) {
			return v, false
		}
		neg := p.peek() == '-'
		if neg {
			p.pos++
		}
		u, ok := p.uint64()
		switch {
		case !ok:
			return v, false
		case !neg && u <= math.MaxInt64:
			v = value.I64Value(int64(u))
		case neg && u <= 1<<63:
			v = value.I64Value(int64(-u))
		default:
			return v, false
		}
	case 'B', 'b':
		switch {
		case p.lit(`ool":true`):
			v = value.BoolValue(true)
		case p.lit(`ool":false`):
			v = value.BoolValue(false)
		default:
			return v, false
		}
	default:
		return v, false // F64, Bytes, Array, or not a value: Decoder
	}
	return v, p.lit("}")
}

// str parses a JSON string of valid UTF-8 and copies it into the arena.
// Escapes other than \u are decoded; \u goes to Decoder, which knows
// what to do with surrogates.
func (f *fastLine) str(p *fastParser) (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	start := p.pos
	buf := p.buf
	i := plainRun(buf, start)
	var high byte // ORs every byte: below 0x80 means ASCII, valid UTF-8
	for i < len(buf) && buf[i] != '"' && buf[i] != '\\' && buf[i] >= 0x20 {
		high |= buf[i]
		i++
	}
	if i < len(buf) && buf[i] == '"' {
		raw := buf[start:i]
		if high >= 0x80 && !utf8.Valid(raw) {
			return "", false
		}
		p.pos = i + 1
		return f.arena.String(unsafeconv.String(raw)), true
	}
	// Escapes: unescape into scratch.
	out := append(f.scratch[:0], buf[start:i]...)
	for i < len(buf) {
		c := buf[i]
		switch {
		case c == '"':
			f.scratch = out
			if !utf8.Valid(out) {
				return "", false
			}
			p.pos = i + 1
			return f.arena.String(unsafeconv.String(out)), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(buf) {
			return "", false
		}
		switch buf[i+1] {
		case '"', '\\', '/':
			out = append(out, buf[i+1])
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		default:
			return "", false // \u and invalid escapes
		}
		i += 2
	}
	return "", false
}

// fastParser is a cursor over one line.
type fastParser struct {
	buf []byte
	pos int
}

func (p *fastParser) peek() byte {
	if p.pos < len(p.buf) {
		return p.buf[p.pos]
	}
	return 0
}

// lit consumes s if the input continues with it.
func (p *fastParser) lit(s string) bool {
	if len(p.buf)-p.pos >= len(s) && string(p.buf[p.pos:p.pos+len(s)]) == s {
		p.pos += len(s)
		return true
	}
	return false
}

// uint64 parses a JSON unsigned integer: no sign, no leading zero, no
// fraction or exponent (those go to Decoder), at most 2^64-1.
func (p *fastParser) uint64() (uint64, bool) {
	u, n, ok := digits(p.buf[p.pos:])
	if !ok {
		return 0, false
	}
	p.pos += n
	return u, true
}

// digits parses the unsigned integer at the start of b and returns it with
// its length; ok is false for anything but a JSON integer in uint64 range.
func digits(b []byte) (u uint64, n int, ok bool) {
	for n+8 <= len(b) && n <= 11 { // eight at a time while 19 stay in reach
		w := binary.LittleEndian.Uint64(b[n:])
		if !eightDigits(w) {
			break
		}
		u = u*100_000_000 + parseEight(w)
		n += 8
	}
	for n < len(b) && n < 19 && b[n]-'0' <= 9 { // 19 digits never overflow
		u = u*10 + uint64(b[n]-'0')
		n++
	}
	if n < len(b) && b[n]-'0' <= 9 && n == 19 { // a 20th digit
		d := uint64(b[n] - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, 0, false
		}
		u = u*10 + d
		n++
	}
	switch {
	case n == 0, n > 1 && b[0] == '0':
		return 0, 0, false
	case n < len(b) && (b[n]-'0' <= 9 || b[n] == '.' || b[n] == 'e' || b[n] == 'E'):
		return 0, 0, false // more digits, a fraction or an exponent
	}
	return u, n, true
}

// entity parses entity_key: an unsigned integer up to 2^128-1.
func (p *fastParser) entity() (EntityKey, bool) {
	b := p.buf[p.pos:]
	lo, n, ok := digits(b)
	if ok {
		p.pos += n
		return EntityKeyFrom64(lo), true
	}
	// Past 64 bits: the first 19 digits, then up to 20 more, in 128 bits.
	n = 0
	for n < len(b) && b[n]-'0' <= 9 {
		n++
	}
	if n <= 19 || n > 39 || b[0] == '0' || n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E') {
		return EntityKey{}, false
	}
	var k EntityKey
	for _, c := range b[:19] {
		k.Lo = k.Lo*10 + uint64(c-'0')
	}
	for _, c := range b[19:n] {
		// k = k*10 + c, failing past 2^128-1.
		hiHi, hiLo := bits.Mul64(k.Hi, 10)
		loHi, loLo := bits.Mul64(k.Lo, 10)
		lo, carry := bits.Add64(loLo, uint64(c-'0'), 0)
		hi, carry2 := bits.Add64(hiLo, loHi, carry)
		if hiHi != 0 || carry2 != 0 {
			return EntityKey{}, false
		}
		k = EntityKey{Hi: hi, Lo: lo}
	}
	p.pos += n
	return k, true
}

// plainRun returns the end of the run of plain bytes from start, eight at a
// time: bytes that are ASCII, not '"', not '\\' and not control characters.
// It may stop early (at a word holding a special byte); the caller's byte
// loop goes on from there.
func plainRun(buf []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(buf); i += 8 {
		w := binary.LittleEndian.Uint64(buf[i:])
		q := w ^ (ones * '"')
		b := w ^ (ones * '\\')
		// A zero byte of q or b, a byte below 0x20, or a high bit (the
		// classic has-zero and has-less tricks, exact as to whether any).
		if ((q-ones)&^q|(b-ones)&^b|(w-ones*0x20)&^w|w)&highs != 0 {
			break
		}
	}
	return i
}

// eightDigits reports whether the eight bytes of w (little-endian) are all
// ASCII digits.
func eightDigits(w uint64) bool {
	return w&0xF0F0F0F0F0F0F0F0 == 0x3030303030303030 &&
		(w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 == 0x3030303030303030
}

// parseEight returns the value of the eight ASCII digits in w, the first in
// its low byte (the SWAR reduction simdjson uses: pairs, then quads, then
// the whole).
func parseEight(w uint64) uint64 {
	w = (w & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	w = (w & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (w & 0x0000FFFF0000FFFF) * 42949672960001 >> 32
}
