package replay

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/schema"
)

// The protobuf log (.kpb, FORMAT.md): the magic, then length-delimited
// messages of protoevent/event.proto (each a uvarint length and the
// message, as protobuf's delimited streams are): one LogHeader, the
// events, and a zero length that ends the log.

// protoMagic opens a protobuf log; like the binary log's, it is not text.
var protoMagic = []byte("\x89KPB\r\n\x1a\n")

// protoVersion is the protobuf log's format version.
const protoVersion = 1

// The chunks a protoReader carves records from start small, for logs of a
// few events (a fuzzer's, a test's), and double up to protoChunk.
const protoChunkMin, protoChunk = 4 << 10, 64 << 10

// protoReader reads a protobuf log. Each record is read into a chunk that
// is never reused, and decoded in place, so an event's strings reference
// the chunk and stay valid after the next call to Next.
type protoReader struct {
	br        *bufio.Reader
	src       *source
	file      string
	hdr       Header
	reg       *schema.Registry
	maxRec    int // bytes of one record
	maxFields int

	chunkSize int   // the next chunk's size
	records   int64 // event records read, good or bad
	events    int64 // events returned
	off       int64 // offset of the next record
	recOff    int64 // offset of the last record
	chunk     []byte
	final     stickyErr
}

func newProtoReader(br *bufio.Reader, src *source, opts ReaderOptions) (Reader, error) {
	r := &protoReader{br: br, src: src, file: opts.File, reg: opts.Registry, maxRec: opts.maxLine(), maxFields: opts.maxFields()}
	headerError := func(err error) error { return &BlockError{File: r.file, Block: -1, Offset: 0, Err: err} }
	var magic [8]byte
	if n, err := io.ReadFull(br, magic[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, headerError(badHeaderf(fmt.Sprintf("%d bytes, shorter than the magic", n)))
		}
		return nil, err
	}
	if string(magic[:]) != string(protoMagic) {
		return nil, headerError(badHeaderf(fmt.Sprintf("magic % x, want % x", magic[:], protoMagic)))
	}
	r.off = int64(len(magic))
	n, k, err := r.uvarint()
	if err == nil && n > maxMetaBytes {
		err = badHeaderf(fmt.Sprintf("header of %d bytes, limit %d", n, maxMetaBytes))
	}
	var msg []byte
	if err == nil {
		msg = make([]byte, n)
		_, err = io.ReadFull(br, msg)
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: the file ends inside its header", ErrBadHeader)
		}
		return nil, headerError(err)
	}
	ph, err := protoevent.DecodeLogHeader(msg)
	if err != nil {
		return nil, headerError(fmt.Errorf("%w: %w", ErrBadHeader, err))
	}
	if ph.Version != protoVersion {
		return nil, headerError(badHeaderf(fmt.Sprintf("unsupported version %d (this reader reads version 1)", ph.Version)))
	}
	if ph.SchemaID != "" {
		if err := schema.ValidSchemaID(ph.SchemaID); err != nil {
			return nil, headerError(badHeaderf("schema_id: " + err.Error()))
		}
	}
	r.hdr = Header{Version: ph.Version, SchemaVersion: ph.SchemaVersion, SchemaID: ph.SchemaID}
	if len(ph.MetaJSON) > 0 {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ph.MetaJSON, &m); err != nil {
			return nil, headerError(badHeaderf("meta_json is not a JSON object: " + err.Error()))
		}
		for key := range m {
			if reservedKey(key) {
				return nil, headerError(badHeaderf(fmt.Sprintf("meta key %q is reserved", key)))
			}
		}
		if len(m) > 0 {
			r.hdr.Meta = m
		}
	}
	r.off += int64(k) + int64(n)
	return r, nil
}

// errVarint: a record length that is not a valid varint.
var errVarint = errors.New("record length is not a valid varint")

// uvarint reads a record length, returning its size in bytes. err is
// io.EOF when the source ends before it, io.ErrUnexpectedEOF inside it.
func (r *protoReader) uvarint() (v uint64, n int, err error) {
	for shift := uint(0); ; shift += 7 {
		c, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, n, err
		}
		n++
		if n > binaryMaxVarint || n == binaryMaxVarint && c > 1 {
			return 0, n, errVarint
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, n, nil
		}
	}
}

// binaryMaxVarint is the most bytes a 64-bit varint takes.
const binaryMaxVarint = 10

func (r *protoReader) Format() Format { return FormatProto }
func (r *protoReader) Header() Header { return r.hdr }

func (r *protoReader) Pos() Position {
	return Position{File: r.file, Record: r.records, Block: -1, Offset: r.recOff,
		Bytes: r.src.consumed(), TotalBytes: r.src.total}
}

func (r *protoReader) Close() error { return r.src.close(&r.final) }

// Next implements Reader. A record that does not decode, or that the
// registry refuses, is a *LineError naming the record (its 1-based number
// among the events) and the reader goes on after it; a length past the
// limit is a final *BlockError, and a log that ends early a final
// *TruncatedError.
func (r *protoReader) Next(dst *schema.Event) error {
	if r.final.err != nil {
		return r.final.err
	}
	r.recOff = r.off
	n, k, err := r.uvarint()
	switch {
	case err == io.EOF:
		return r.final.set(&TruncatedError{File: r.file, Offset: r.off, Events: r.events})
	case err == io.ErrUnexpectedEOF:
		return r.final.set(&TruncatedError{File: r.file, Offset: r.off, Events: r.events, Partial: int64(k)})
	case err == errVarint:
		return r.final.set(&BlockError{File: r.file, Block: -1, Offset: r.off, Err: corruptf(err.Error())})
	case err != nil:
		return r.final.set(err)
	case n == 0:
		// The end record: nothing may follow it.
		if _, err := r.br.Peek(1); err == nil {
			return r.final.set(&BlockError{File: r.file, Block: -1, Offset: r.off + int64(k),
				Err: corruptf("data after the end of the log")})
		}
		return r.final.set(io.EOF)
	case n > uint64(r.maxRec):
		return r.final.set(&BlockError{File: r.file, Block: -1, Offset: r.off,
			Err: corruptf(fmt.Sprintf("record of %d bytes, more than the limit of %d", n, r.maxRec))})
	}
	buf := r.carve(int(n))
	if got, err := io.ReadFull(r.br, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return r.final.set(&TruncatedError{File: r.file, Offset: r.off, Events: r.events, Partial: int64(k + got)})
		}
		return r.final.set(err)
	}
	r.off += int64(k) + int64(n)
	r.records++
	if err := r.decode(buf, dst); err != nil {
		dst.Reset()
		return &LineError{File: r.file, Line: r.records, Offset: r.recOff, Err: err}
	}
	r.events++
	return nil
}

func (r *protoReader) decode(buf []byte, dst *schema.Event) error {
	if err := protoevent.DecodeEvent(buf, dst); err != nil {
		return err
	}
	if dst.NumFields() > r.maxFields {
		return fmt.Errorf("%w: %d fields, more than the limit of %d", protoevent.ErrMalformed, dst.NumFields(), r.maxFields)
	}
	if r.reg != nil {
		return protoevent.Validate(r.reg, dst)
	}
	if dst.Type == 0 {
		return fmt.Errorf("%w: event_type_id missing", protoevent.ErrMalformed)
	}
	return nil
}

// carve returns n bytes of the current chunk, starting a new chunk when
// the current one lacks room. Chunks are never reused.
func (r *protoReader) carve(n int) []byte {
	if n > len(r.chunk) {
		r.chunkSize = min(max(2*r.chunkSize, protoChunkMin), protoChunk)
		r.chunk = make([]byte, max(n, r.chunkSize))
	}
	b := r.chunk[:n:n]
	r.chunk = r.chunk[n:]
	return b
}

// ProtoWriter records events as the protobuf log of FORMAT.md. It is not
// safe for concurrent use.
type ProtoWriter struct {
	recordOut
	rec []byte // scratch for one record
}

// NewProtoWriter writes the magic and header to w (through a buffer that
// Flush empties) and returns a writer of event records. Close writes the
// end record but does not close w.
func NewProtoWriter(w io.Writer, opts WriterOptions) (*ProtoWriter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := protoevent.LogHeader{Version: protoVersion, SchemaVersion: opts.SchemaVersion, SchemaID: opts.SchemaID}
	if len(opts.Meta) > 0 {
		m, err := json.Marshal(opts.Meta) // keys sorted, values compacted
		if err != nil {
			return nil, fmt.Errorf("replay: meta: %w", err)
		}
		h.MetaJSON = m
	}
	msg := protoevent.AppendLogHeader(nil, h)
	pw := &ProtoWriter{recordOut: recordOut{bw: bufio.NewWriterSize(w, writeBufSize)}}
	pw.rec = append(pw.rec, protoMagic...)
	pw.rec = protowire.AppendBytes(pw.rec, msg)
	pw.bw.Write(pw.rec) // a bufio.Writer keeps the error for Flush
	return pw, nil
}

// Write appends ev as one record. It allocates nothing once its scratch
// buffer has grown to the largest event.
func (w *ProtoWriter) Write(ev *schema.Event) error {
	if w.err != nil {
		return w.err
	}
	b := protowire.AppendVarint(w.rec[:0], uint64(protoevent.SizeEvent(ev)))
	b = protoevent.AppendEvent(b, ev)
	w.rec = b
	return w.put(b)
}

// Events returns the number of events written.
func (w *ProtoWriter) Events() int64 { return w.events }

// Flush writes buffered records through to the underlying writer.
func (w *ProtoWriter) Flush() error { return w.flush() }

// Close writes the end record, flushes, and closes the file Create
// opened. Later writes return ErrClosed.
func (w *ProtoWriter) Close() error {
	if w.err == ErrClosed {
		return nil
	}
	err := w.err
	if err == nil {
		w.bw.WriteByte(0)
		err = w.bw.Flush()
	}
	w.err = ErrClosed
	return closeOwned(w.closer, err)
}
