package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// Format is the encoding of a log.
type Format uint8

// The formats a Reader reads and a Writer writes.
const (
	// FormatJSON is JSON lines, one event per line (schema's wire form).
	FormatJSON Format = iota + 1
	// FormatJSONZstd is JSON lines inside a zstd stream.
	FormatJSONZstd
	// FormatBinary is the block-framed binary log (FORMAT.md).
	FormatBinary
	// FormatProto is the protobuf log: length-delimited messages of
	// protoevent/event.proto (FORMAT.md).
	FormatProto
)

// String returns "jsonl", "jsonl+zstd", "binary" or "protobuf".
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "jsonl"
	case FormatJSONZstd:
		return "jsonl+zstd"
	case FormatBinary:
		return "binary"
	case FormatProto:
		return "protobuf"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Header is what a log says about itself: the JSON header line of the Rust
// original, or the binary file header. A JSON-lines log without a header
// line has the zero Header.
type Header struct {
	// Version is the log format version (1).
	Version uint32
	// SchemaVersion is the version of the schema the events were recorded
	// under, as the recorder stated it.
	SchemaVersion uint32
	// SchemaID names the schema the events were recorded under, such as
	// "kestrel.ecs" (see schema.Registry.SetSchema); empty when the log
	// does not say, as logs written before it existed do not. With
	// SchemaVersion it is what Config.Resolve looks a remote schema up by.
	SchemaID string
	// Meta holds the header's other members as raw JSON values ("host",
	// "created_at_ns", ...), kept as written.
	Meta map[string]json.RawMessage
}

// Position says where a Reader is.
type Position struct {
	// File is the log's path; empty when reading an io.Reader.
	File string
	// Record is the 1-based number of the last record read: the line for
	// JSON lines (blank lines and the header line count), the event for the
	// binary log.
	Record int64
	// Block is the 0-based index of the block of the last event (binary
	// log), -1 before the first block and for JSON lines.
	Block int64
	// Offset is the byte offset, in the uncompressed stream, of the last
	// line read (JSON lines) or of the last block's header (binary log).
	Offset int64
	// Bytes is how much of the source has been consumed, in source (for
	// .zst, compressed) bytes. It runs ahead of the records returned by up
	// to a read buffer.
	Bytes int64
	// TotalBytes is the size of the source when known (Open of a regular
	// file), else -1.
	TotalBytes int64
}

// Reader streams the events of a log.
//
// Next decodes the next event into dst, which it resets first, and returns
// io.EOF after the last one. A *LineError (JSON lines) or a *BlockError
// with Skipped set leaves the reader past the bad record, so Next may be
// called again; any other error is final and Next keeps returning it.
//
// The strings of a returned event stay valid after the next call to Next
// (they are copied into an arena, or, for the binary log without
// CopyStrings, reference a block buffer that is never reused), so an event
// may be handed to a bus that holds it past the call. A Reader is not safe
// for concurrent use.
type Reader interface {
	Next(dst *schema.Event) error
	// Format is the format detected.
	Format() Format
	// Header is the log's header (zero when the log has none).
	Header() Header
	// Pos is the reader's position, for progress and error messages.
	Pos() Position
	// Close releases the reader's resources and closes the file that Open
	// opened; it never closes an io.Reader given to NewReader.
	Close() error
}

// Default limits of ReaderOptions.
const (
	// DefaultMaxLineBytes bounds a JSON line (without its newline).
	DefaultMaxLineBytes = 1 << 20
	// maxZstdWindow bounds the window a .zst stream may ask the decoder to
	// hold; zstd's own default is 512 MiB, too much to trust a file with.
	maxZstdWindow = 64 << 20
)

// ReaderOptions configures a Reader. The zero value is ready to use: no
// registry, and the default limits.
type ReaderOptions struct {
	// File names the log in errors and positions; Open sets it to the
	// path.
	File string
	// Registry, when set, makes fields that are not registered, and values
	// of the wrong type, bad records (see schema.Decoder.Registry).
	Registry *schema.Registry
	// MaxLineBytes bounds a JSON line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxFields bounds the fields of one event; 0 means
	// schema.DefaultMaxFields.
	MaxFields int
	// MaxDepth bounds Array nesting in a value; 0 means value.MaxDepth.
	MaxDepth int
	// CopyStrings makes the binary reader copy strings and bytes into an
	// arena instead of referencing the decompressed block, so that keeping
	// one string does not keep its whole block alive; it costs a copy.
	CopyStrings bool

	// noFastPath sends every JSON line through sonic
	// (schema.Decoder.NoFastPath), for the benchmarks that compare the two.
	noFastPath bool
}

// Validate reports options out of range.
func (o *ReaderOptions) Validate() error {
	if o.MaxLineBytes < 0 || o.MaxFields < 0 || o.MaxDepth < 0 {
		return fmt.Errorf("%w: negative limit in ReaderOptions", ErrConfig)
	}
	return nil
}

func (o *ReaderOptions) maxLine() int {
	if o.MaxLineBytes > 0 {
		return o.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

func (o *ReaderOptions) maxFields() int {
	if o.MaxFields > 0 {
		return o.MaxFields
	}
	return schema.DefaultMaxFields
}

func (o *ReaderOptions) maxDepth() int {
	if o.MaxDepth > 0 {
		return o.MaxDepth
	}
	return value.MaxDepth
}

// zstdMagic opens a zstd stream; with kbin.Magic and the protobuf log's
// magic, it chooses the reader.
var zstdMagic = []byte{0x28, 0xB5, 0x2F, 0xFD}

const readBufSize = 64 << 10

// Open opens the log at path, choosing the reader by the file's first
// bytes (zstd, binary or protobuf magic, else JSON lines) and, when those
// say nothing, by its extension (.kbin binary, .kpb protobuf, .zst zstd).
func Open(path string) (Reader, error) { return OpenWith(path, ReaderOptions{}) }

// OpenWith is Open with options.
func OpenWith(path string, opts ReaderOptions) (Reader, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	total := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		total = st.Size()
	}
	if opts.File == "" {
		opts.File = path
	}
	r, err := newReader(f, f, opts, total, strings.ToLower(extOf(path)))
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func extOf(path string) string {
	for i := len(path) - 1; i >= 0 && path[i] != '/'; i-- {
		if path[i] == '.' {
			return path[i:]
		}
	}
	return ""
}

// NewReader returns a Reader of r, choosing the format by its first bytes.
// It reads the header (if any) before returning.
func NewReader(r io.Reader) (Reader, error) { return NewReaderWith(r, ReaderOptions{}) }

// NewReaderWith is NewReader with options.
func NewReaderWith(r io.Reader, opts ReaderOptions) (Reader, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return newReader(r, nil, opts, -1, "")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// source is what every reader reads from: the counted source, the read
// buffer over it, and the file to close.
type source struct {
	cr     *countingReader
	br     *bufio.Reader
	closer io.Closer
	total  int64
	closed bool
}

// close is every reader's Close: the first call makes final
// ErrReaderClosed, closes decs (the reader's zstd decoders, nil ones
// skipped) in order and then the file; later calls do nothing.
func (s *source) close(final *stickyErr, decs ...*zstd.Decoder) error {
	if s.closed {
		return nil
	}
	s.closed = true
	final.err = ErrReaderClosed
	for _, d := range decs {
		if d != nil {
			d.Close()
		}
	}
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// consumed returns the source bytes read and not still in the buffer.
func (s *source) consumed() int64 { return s.cr.n - int64(s.br.Buffered()) }

func newReader(r io.Reader, closer io.Closer, opts ReaderOptions, total int64, ext string) (Reader, error) {
	src := &source{cr: &countingReader{r: r}, closer: closer, total: total}
	size := readBufSize
	if l, ok := r.(interface{ Len() int }); ok && l.Len() < size {
		// An in-memory log (a Kafka record, a fuzzer's input) smaller than
		// the buffer: do not allocate and clear 64 KiB to read a few
		// hundred bytes. bufio raises the size to its minimum, 16.
		size = l.Len() + 1
	}
	br := bufio.NewReaderSize(src.cr, size)
	src.br = br
	head, err := br.Peek(len(kbin.Magic))
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		return newZstdReader(br, src, opts)
	case len(head) >= 3 && bytes.HasPrefix(protoMagic, head[:min(len(head), len(protoMagic))]):
		return newProtoReader(br, src, opts) // a cut magic fails there, named
	case bytes.HasPrefix(head, kbin.Magic) || len(head) > 0 && bytes.HasPrefix(kbin.Magic, head):
		// A log shorter than the magic that begins like it is a cut binary
		// log, and the binary reader says so.
		return newBinaryReader(br, src, opts, nil)
	case len(head) == 0 && ext == ".kbin":
		return newBinaryReader(br, src, opts, nil) // an empty binary log: no header
	case len(head) == 0 && ext == ".kpb":
		return newProtoReader(br, src, opts) // an empty protobuf log: no header
	case looksLikeJSON(head):
	case ext == ".zst" || ext == ".zstd":
		return newZstdReader(br, src, opts) // fails, naming the bad magic
	case ext == ".kbin":
		return newBinaryReader(br, src, opts, nil) // fails, naming the bad magic
	case ext == ".kpb":
		return newProtoReader(br, src, opts) // fails, naming the bad magic
	}
	return newJSONReader(br, src, opts, FormatJSON, nil)
}

func looksLikeJSON(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	return len(head) == 0 || head[0] == '{'
}

// newZstdReader reads JSON lines (or, unusually, a binary log) inside a
// zstd stream, decoded as it is read, never whole.
func newZstdReader(br *bufio.Reader, src *source, opts ReaderOptions) (Reader, error) {
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow),
		zstd.WithDecoderMaxMemory(maxZstdWindow))
	if err != nil {
		return nil, err
	}
	inner := bufio.NewReaderSize(zr, readBufSize)
	var r Reader
	if head, _ := inner.Peek(len(kbin.Magic)); bytes.Equal(head, kbin.Magic) {
		r, err = newBinaryReader(inner, src, opts, zr)
	} else {
		r, err = newJSONReader(inner, src, opts, FormatJSONZstd, zr)
	}
	if err != nil {
		zr.Close()
		return nil, err
	}
	return r, nil
}

// stickyErr holds a final reader error so later calls return it again.
type stickyErr struct{ err error }

func (s *stickyErr) set(err error) error {
	if s.err == nil {
		s.err = err
	}
	return s.err
}
