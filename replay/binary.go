package replay

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"

	"github.com/kestrel-sec/kestrel/internal/unsafeconv"
)

// The binary log's layout is specified in FORMAT.md; the constants here are
// its numbers.
const (
	binaryVersion   = 1
	fileHeaderFixed = 20 // magic, version, flags, schema_version, meta_len
	blockHeaderSize = BlockHeaderSize

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

var (
	blockMagic = [4]byte{'K', 'B', 'L', 'K'}
	endMagic   = [4]byte{'K', 'E', 'N', 'D'}
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
	copy      bool          // copy strings into arena instead of viewing buf
	arena     value.Arena   // used when copy
	vals      []value.Value // chunk that Arrays are carved from; never reused
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

// binaryReader reads the binary log block by block.
type binaryReader struct {
	br   *bufio.Reader
	src  *source
	zr   *zstd.Decoder // the outer .zst stream, if any (unusual)
	zdec *zstd.Decoder // block decompressor
	file string
	hdr  Header
	dec  blockDecoder

	off      int64 // offset of the next block header
	blockOff int64 // offset of the current block
	block    int64 // index of the current block
	blocks   int64 // whole blocks read, good or skipped
	good     int64 // blocks read and verified
	events   int64 // events returned
	declared int64 // events the whole blocks' headers declare
	hbuf     [blockHeaderSize]byte
	comp     []byte // compressed payload, reused
	raw      []byte // decompressed payload, reused only when CopyStrings
	final    stickyErr
	closed   bool
}

func newBinaryReader(br *bufio.Reader, src *source, opts ReaderOptions, zr *zstd.Decoder) (Reader, error) {
	r := &binaryReader{br: br, src: src, zr: zr, file: opts.File, block: -1}
	r.dec.reg, r.dec.maxFields, r.dec.maxDepth, r.dec.copy = opts.Registry, opts.maxFields(), opts.maxDepth(), opts.CopyStrings
	if err := r.readFileHeader(); err != nil {
		return nil, err
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxBlockSize),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, err
	}
	r.zdec = zdec
	return r, nil
}

func (r *binaryReader) headerError(err error) error {
	return &BlockError{File: r.file, Block: -1, Offset: 0, Err: err}
}

func (r *binaryReader) readFileHeader() error {
	var fixed [fileHeaderFixed]byte
	if n, err := io.ReadFull(r.br, fixed[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.headerError(fmt.Errorf("%w: %d bytes, shorter than the file header", ErrBadHeader, n))
		}
		return err
	}
	if string(fixed[:8]) != string(binaryMagic) {
		return r.headerError(badHeaderf(fmt.Sprintf("magic % x, want % x", fixed[:8], binaryMagic)))
	}
	version := binary.LittleEndian.Uint16(fixed[8:])
	flags := binary.LittleEndian.Uint16(fixed[10:])
	if version != binaryVersion {
		return r.headerError(badHeaderf(fmt.Sprintf("unsupported version %d (this reader reads version 1)", version)))
	}
	if flags != 0 {
		return r.headerError(badHeaderf(fmt.Sprintf("unknown flags %#x", flags)))
	}
	r.hdr.Version = binaryVersion
	r.hdr.SchemaVersion = binary.LittleEndian.Uint32(fixed[12:])
	metaLen := binary.LittleEndian.Uint32(fixed[16:])
	if metaLen > maxMetaBytes {
		return r.headerError(badHeaderf(fmt.Sprintf("metadata of %d bytes, limit %d", metaLen, maxMetaBytes)))
	}
	rest := make([]byte, int(metaLen)+8)
	if _, err := io.ReadFull(r.br, rest); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.headerError(fmt.Errorf("%w: the file ends inside its header", ErrBadHeader))
		}
		return err
	}
	h := xxh3.New()
	h.Write(fixed[:])
	h.Write(rest[:metaLen])
	if h.Sum64() != binary.LittleEndian.Uint64(rest[metaLen:]) {
		return r.headerError(badHeaderf("header checksum mismatch"))
	}
	if metaLen > 0 {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(rest[:metaLen], &m); err != nil {
			return r.headerError(badHeaderf("metadata is not a JSON object: " + err.Error()))
		}
		if raw, ok := m["schema_id"]; ok {
			if err := json.Unmarshal(raw, &r.hdr.SchemaID); err != nil {
				return r.headerError(badHeaderf("meta schema_id " + truncateString(string(raw), 40) + " is not a string"))
			}
			delete(m, "schema_id")
		}
		if len(m) > 0 {
			r.hdr.Meta = m
		}
	}
	r.off = int64(fileHeaderFixed) + int64(len(rest))
	return nil
}

func (r *binaryReader) Format() Format { return FormatBinary }
func (r *binaryReader) Header() Header { return r.hdr }

func (r *binaryReader) Pos() Position {
	return Position{File: r.file, Record: r.events, Block: r.block, Offset: r.blockOff,
		Bytes: r.src.consumed(), TotalBytes: r.src.total}
}

func (r *binaryReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.final.err = ErrReaderClosed
	r.zdec.Close()
	if r.zr != nil {
		r.zr.Close()
	}
	if r.src.closer != nil {
		return r.src.closer.Close()
	}
	return nil
}

// Next implements Reader.
func (r *binaryReader) Next(dst *schema.Event) error {
	if r.final.err != nil {
		return r.final.err
	}
	for r.dec.left == 0 {
		if err := r.loadBlock(); err != nil {
			if be, ok := err.(*BlockError); ok && be.Skipped {
				return err
			}
			return r.final.set(err)
		}
	}
	if err := r.dec.next(dst); err != nil {
		lost := int64(r.dec.left) + 1 // this event and the rest of the block
		r.dec.left = 0
		return &BlockError{File: r.file, Block: r.block, Offset: r.blockOff, Skipped: true, Lost: lost, Err: err}
	}
	r.events++
	return nil
}

// loadBlock reads, verifies and decompresses the next block; io.EOF after
// the end marker.
func (r *binaryReader) loadBlock() error {
	r.blockOff = r.off
	r.block = r.blocks
	var count uint32 // the block's events, once its header is trusted
	bad := func(skipped bool, err error) error {
		e := &BlockError{File: r.file, Block: r.block, Offset: r.blockOff, Skipped: skipped, Err: err}
		if skipped {
			e.Lost = int64(count)
		}
		return e
	}
	n, err := io.ReadFull(r.br, r.hbuf[:])
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.truncated(int64(n))
		}
		return bad(false, err)
	}
	h := r.hbuf[:]
	if binary.LittleEndian.Uint32(h[24:]) != uint32(xxh3.Hash(h[:24])) {
		return bad(false, corruptf(fmt.Sprintf("block header checksum mismatch (header bytes % x)", h[:8])))
	}
	switch [4]byte(h[:4]) {
	case blockMagic:
	case endMagic:
		r.block = -1
		blocks, events := binary.LittleEndian.Uint64(h[4:]), binary.LittleEndian.Uint64(h[12:])
		if blocks != uint64(r.blocks) || events != uint64(r.declared) {
			return bad(false, corruptf(fmt.Sprintf("end marker counts %d blocks and %d events, the log held %d and %d",
				blocks, events, r.blocks, r.declared)))
		}
		if _, err := r.br.Peek(1); err != io.EOF {
			return bad(false, corruptf("data after the end marker"))
		}
		return io.EOF
	default:
		return bad(false, corruptf(fmt.Sprintf("block magic % x, want % x", h[:4], blockMagic[:])))
	}
	count = binary.LittleEndian.Uint32(h[4:])
	rawLen := binary.LittleEndian.Uint32(h[8:])
	compLen := binary.LittleEndian.Uint32(h[12:])
	sum := binary.LittleEndian.Uint64(h[16:])
	switch {
	case rawLen == 0 || rawLen > MaxBlockSize:
		return bad(false, corruptf(fmt.Sprintf("uncompressed size %d out of 1..%d", rawLen, MaxBlockSize)))
	case compLen == 0 || int(compLen) > compBound(int(rawLen)):
		return bad(false, corruptf(fmt.Sprintf("compressed size %d out of 1..%d", compLen, compBound(int(rawLen)))))
	case count == 0 || count > MaxBlockEvents || count > rawLen/minEventSize:
		return bad(false, corruptf(fmt.Sprintf("event count %d out of 1..%d for %d bytes", count,
			min(MaxBlockEvents, rawLen/minEventSize), rawLen)))
	}
	if cap(r.comp) < int(compLen) {
		r.comp = make([]byte, compLen)
	}
	r.comp = r.comp[:compLen]
	if n, err := io.ReadFull(r.br, r.comp); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.truncated(blockHeaderSize + int64(n))
		}
		return bad(false, err)
	}
	r.off += blockHeaderSize + int64(compLen)
	r.blocks++
	r.declared += int64(count)
	if got := xxh3.Hash(r.comp); got != sum {
		return bad(true, corruptf(fmt.Sprintf("payload checksum %016x, header says %016x", got, sum)))
	}
	var raw []byte
	if r.dec.copy {
		if cap(r.raw) < int(rawLen) {
			r.raw = make([]byte, 0, rawLen)
		}
		raw = r.raw[:0:rawLen]
	} else {
		// Values will reference this buffer: never reuse it.
		raw = make([]byte, 0, rawLen)
	}
	raw, err = r.zdec.DecodeAll(r.comp, raw)
	if err != nil {
		return bad(true, corruptf("zstd: "+err.Error()))
	}
	if len(raw) != int(rawLen) {
		return bad(true, corruptf(fmt.Sprintf("payload decompressed to %d bytes, header says %d", len(raw), rawLen)))
	}
	r.good++
	r.dec.reset(raw, int(count))
	return nil
}

func (r *binaryReader) truncated(partial int64) error {
	return &TruncatedError{File: r.file, Offset: r.blockOff, Blocks: r.good, Events: r.events, Partial: partial}
}

// BinaryWriter records events as the binary log of FORMAT.md. It is not
// safe for concurrent use.
type BinaryWriter struct {
	w      io.Writer
	closer io.Closer // the file Create opened
	enc    *zstd.Encoder
	size   int // target block size
	maxEv  int // events per block
	st     deltaState
	raw    []byte // the block being filled
	comp   []byte
	count  int // events in raw
	elems  int // Array elements in raw
	hdr    [blockHeaderSize]byte
	blocks int64
	events int64
	err    error // sticky: the first write error, or ErrClosed
}

// NewBinaryWriter writes the file header to w and returns a writer of
// blocks. Events are buffered into a block until it reaches
// opts.BlockSize bytes or opts.BlockEvents events, then compressed and
// written with one Write. Close writes the end marker but does not close w.
func NewBinaryWriter(w io.Writer, opts WriterOptions) (*BinaryWriter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	bw := &BinaryWriter{w: w, size: opts.BlockSize, maxEv: opts.BlockEvents}
	if bw.size == 0 {
		bw.size = DefaultBlockSize
	}
	if bw.maxEv == 0 {
		bw.maxEv = DefaultBlockEvents
	}
	meta := opts.Meta
	if opts.SchemaID != "" {
		// The schema id travels in meta, where a reader that predates it
		// keeps it as one more member: the format stays version 1.
		meta = make(map[string]json.RawMessage, len(opts.Meta)+1)
		for k, v := range opts.Meta {
			meta[k] = v
		}
		id, _ := json.Marshal(opts.SchemaID)
		meta["schema_id"] = id
	}
	hdr, err := appendFileHeader(nil, opts.SchemaVersion, meta)
	if err != nil {
		return nil, err
	}
	// A block is one frame and matches never reach across blocks, so the
	// window need not be larger than a usual block: a small one keeps the
	// encoder's tables (allocated per writer) small.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(opts.level()),
		zstd.WithEncoderCRC(false), zstd.WithWindowSize(blockWindow(bw.size)), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	bw.enc = enc
	if _, err := w.Write(hdr); err != nil {
		enc.Close()
		return nil, err
	}
	bw.raw = make([]byte, 0, bw.size+bw.size/4)
	return bw, nil
}

// blockWindow is the zstd window for blocks of size bytes: the power of two
// at or above it, within zstd's bounds.
func blockWindow(size int) int {
	w := zstd.MinWindowSize
	for w < size && w < zstd.MaxWindowSize {
		w <<= 1
	}
	return w
}

func appendFileHeader(dst []byte, schemaVersion uint32, meta map[string]json.RawMessage) ([]byte, error) {
	var m []byte
	if len(meta) > 0 {
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m = append(m, '{')
		for i, k := range keys {
			if i > 0 {
				m = append(m, ',')
			}
			m = appendQuotedKey(m, k)
			m = append(m, ':')
			c, err := json.Marshal(meta[k]) // compacts a RawMessage
			if err != nil {
				return nil, fmt.Errorf("replay: meta %q: %w", k, err)
			}
			m = append(m, c...)
		}
		m = append(m, '}')
	}
	if len(m) > maxMetaBytes {
		return nil, fmt.Errorf("replay: metadata of %d bytes, limit %d", len(m), maxMetaBytes)
	}
	start := len(dst)
	dst = append(dst, binaryMagic...)
	dst = binary.LittleEndian.AppendUint16(dst, binaryVersion)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, schemaVersion)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(m)))
	dst = append(dst, m...)
	return binary.LittleEndian.AppendUint64(dst, xxh3.Hash(dst[start:])), nil
}

// Write adds ev to the current block, writing the block out when full.
func (w *BinaryWriter) Write(ev *schema.Event) error {
	if w.err != nil {
		return w.err
	}
	mark, saved := len(w.raw), w.st
	raw, elems, err := appendEvent(w.raw, &w.st, ev, value.MaxDepth)
	if err == nil && (len(raw) > MaxBlockSize || w.elems+elems > maxBlockElems) {
		// Too much for this block: close it and start the event afresh.
		w.raw, w.st = raw[:mark], saved
		if w.count == 0 {
			return fmt.Errorf("%w: %d bytes and %d Array elements, limits %d and %d", ErrTooLarge,
				len(raw)-mark, elems, MaxBlockSize, maxBlockElems)
		}
		if err := w.writeBlock(); err != nil {
			return err
		}
		return w.Write(ev)
	}
	if err != nil {
		w.raw, w.st = raw[:mark], saved
		return err
	}
	w.raw = raw
	w.count++
	w.elems += elems
	if len(w.raw) >= w.size || w.count >= w.maxEv {
		return w.writeBlock()
	}
	return nil
}

// writeBlock compresses and writes the current block.
func (w *BinaryWriter) writeBlock() error {
	if w.count == 0 {
		return nil
	}
	w.comp = w.enc.EncodeAll(w.raw, w.comp[:0])
	if len(w.comp) > compBound(len(w.raw)) {
		w.err = fmt.Errorf("replay: zstd produced %d bytes from %d, past the format's bound", len(w.comp), len(w.raw))
		return w.err
	}
	h := w.hdr[:]
	copy(h, blockMagic[:])
	binary.LittleEndian.PutUint32(h[4:], uint32(w.count))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(w.raw)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(w.comp)))
	binary.LittleEndian.PutUint64(h[16:], xxh3.Hash(w.comp))
	binary.LittleEndian.PutUint32(h[24:], uint32(xxh3.Hash(h[:24])))
	if err := w.writeAll(h, w.comp); err != nil {
		return err
	}
	w.blocks++
	w.events += int64(w.count)
	w.raw, w.count, w.elems, w.st = w.raw[:0], 0, 0, deltaState{}
	return nil
}

// writeAll writes a block's header and payload; an error sticks.
func (w *BinaryWriter) writeAll(h, payload []byte) error {
	if _, err := w.w.Write(h); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(payload); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Events returns the number of events written out in whole blocks.
func (w *BinaryWriter) Events() int64 { return w.events }

// Flush writes the current block out, however full. Each Flush ends a
// block, so flushing often costs compression.
func (w *BinaryWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	return w.writeBlock()
}

// Close writes the last block and the end marker, and closes the file
// Create opened. Later writes return ErrClosed.
func (w *BinaryWriter) Close() error {
	if w.err == ErrClosed {
		return nil
	}
	err := w.err
	if err == nil {
		err = w.writeBlock()
	}
	if err == nil {
		_, err = w.w.Write(AppendEndMarker(w.hdr[:0], uint64(w.blocks), uint64(w.events)))
	}
	w.enc.Close()
	if w.closer != nil {
		if cerr := w.closer.Close(); err == nil {
			err = cerr
		}
	}
	w.err = ErrClosed
	return err
}
