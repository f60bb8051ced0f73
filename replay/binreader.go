package replay

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
)

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
	hbuf     [kbin.BlockHeaderSize]byte
	comp     []byte // compressed payload, reused
	raw      []byte // decompressed payload, reused only when CopyStrings
	final    stickyErr
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
	var fixed [kbin.FileHeaderFixed]byte
	if n, err := io.ReadFull(r.br, fixed[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.headerError(fmt.Errorf("%w: %d bytes, shorter than the file header", ErrBadHeader, n))
		}
		return err
	}
	if string(fixed[:8]) != string(kbin.Magic) {
		return r.headerError(badHeaderf(fmt.Sprintf("magic % x, want % x", fixed[:8], kbin.Magic)))
	}
	version := binary.LittleEndian.Uint16(fixed[8:])
	flags := binary.LittleEndian.Uint16(fixed[10:])
	if version != kbin.Version {
		return r.headerError(badHeaderf(fmt.Sprintf("unsupported version %d (this reader reads version 1)", version)))
	}
	if flags != 0 {
		return r.headerError(badHeaderf(fmt.Sprintf("unknown flags %#x", flags)))
	}
	r.hdr.Version = kbin.Version
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
	r.off = int64(kbin.FileHeaderFixed) + int64(len(rest))
	return nil
}

func (r *binaryReader) Format() Format { return FormatBinary }
func (r *binaryReader) Header() Header { return r.hdr }

func (r *binaryReader) Pos() Position {
	return Position{File: r.file, Record: r.events, Block: r.block, Offset: r.blockOff,
		Bytes: r.src.consumed(), TotalBytes: r.src.total}
}

func (r *binaryReader) Close() error { return r.src.close(&r.final, r.zdec, r.zr) }

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
	case kbin.BlockMagic:
	case kbin.EndMagic:
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
		return bad(false, corruptf(fmt.Sprintf("block magic % x, want % x", h[:4], kbin.BlockMagic[:])))
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
			return r.truncated(kbin.BlockHeaderSize + int64(n))
		}
		return bad(false, err)
	}
	r.off += kbin.BlockHeaderSize + int64(compLen)
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
