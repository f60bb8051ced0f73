package replay

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

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
	hdr    [kbin.BlockHeaderSize]byte
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
	return kbin.AppendFileHeader(dst, schemaVersion, m), nil
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
	copy(h, kbin.BlockMagic[:])
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

func (w *BinaryWriter) own(c io.Closer) { w.closer = c }

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
		_, err = w.w.Write(kbin.AppendEndMarker(w.hdr[:0], uint64(w.blocks), uint64(w.events)))
	}
	w.enc.Close()
	w.err = ErrClosed
	return closeOwned(w.closer, err)
}
