package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"github.com/kestrel-sec/kestrel/schema"
)

// jsonReader reads JSON lines: an optional header line, then one event per
// line, decoded by one reused schema.Decoder straight from the bufio
// buffer (lines longer than that buffer are assembled in long).
type jsonReader struct {
	br     *bufio.Reader
	src    *source
	zr     *zstd.Decoder // the .zst stream decoder, if any
	format Format
	file   string
	max    int // MaxLineBytes
	dec    schema.Decoder
	hdr    Header

	line    int64 // lines read
	events  int64 // events returned
	partial int64 // bytes of the line a read error cut short
	off     int64 // offset of the next line
	lineOff int64 // offset of the last line read
	long    []byte

	pending    []byte // the first line, read while looking for a header
	hasPending bool
	pendingErr error // the first line's error, likewise
	final      stickyErr
}

func newJSONReader(br *bufio.Reader, src *source, opts ReaderOptions, format Format, zr *zstd.Decoder) (Reader, error) {
	r := &jsonReader{
		br: br, src: src, zr: zr, format: format, file: opts.File, max: opts.maxLine(),
		dec: schema.Decoder{Registry: opts.Registry, MaxFields: opts.maxFields(), MaxDepth: opts.maxDepth(),
			NoFastPath: opts.noFastPath},
	}
	line, err := r.readLine()
	switch {
	case err == io.EOF:
		r.final.set(io.EOF)
		return r, nil
	case err != nil:
		if _, ok := err.(*LineError); ok {
			r.pendingErr = err
			return r, nil
		}
		err = r.ioError(err)
		if _, ok := err.(*TruncatedError); ok {
			// A stream cut inside its first line is still a log: Next
			// reports the cut, so lenient replay counts it like any other.
			r.final.set(err)
			return r, nil
		}
		return nil, err
	}
	hdr, isHeader, err := parseJSONHeader(line)
	if err != nil {
		return nil, &LineError{File: r.file, Line: 1, Err: err}
	}
	if isHeader {
		r.hdr = hdr
	} else {
		// The line stays valid in br's buffer (or in long) until the next
		// read, which is Next's.
		r.pending, r.hasPending = line, true
	}
	return r, nil
}

func (r *jsonReader) Format() Format { return r.format }
func (r *jsonReader) Header() Header { return r.hdr }

func (r *jsonReader) Pos() Position {
	return Position{File: r.file, Record: r.line, Block: -1, Offset: r.lineOff,
		Bytes: r.src.consumed(), TotalBytes: r.src.total}
}

func (r *jsonReader) Close() error { return r.src.close(&r.final, r.zr) }

// Next implements Reader.
func (r *jsonReader) Next(dst *schema.Event) error {
	if r.final.err != nil {
		return r.final.err
	}
	for {
		var line []byte
		switch {
		case r.hasPending:
			line, r.pending, r.hasPending = r.pending, nil, false
		case r.pendingErr != nil:
			err := r.pendingErr
			r.pendingErr = nil
			return err
		default:
			var err error
			if line, err = r.readLine(); err != nil {
				if _, ok := err.(*LineError); ok {
					return err
				}
				if err == io.EOF {
					return r.final.set(io.EOF)
				}
				return r.final.set(r.ioError(err))
			}
		}
		if isBlank(line) {
			continue
		}
		if err := r.dec.Decode(line, dst); err != nil {
			// Logs concatenated with cat carry a header line per part; one
			// that checks out is skipped (the first header is kept).
			if _, isHeader, herr := parseJSONHeader(line); isHeader {
				if herr == nil {
					continue
				}
				err = herr
			}
			return &LineError{File: r.file, Line: r.line, Offset: r.lineOff, Err: err}
		}
		r.events++
		return nil
	}
}

// ioError wraps a read error, which ends the reader, with the position.
func (r *jsonReader) ioError(err error) error {
	if err == io.ErrUnexpectedEOF {
		// The zstd stream ended inside a frame: a cut file, reported as the
		// binary reader reports one, so that lenient replay counts it.
		return &TruncatedError{File: r.file, Offset: r.off, Events: r.events, Partial: r.partial, Line: r.line + 1}
	}
	where := "line " + strconv.FormatInt(r.line+1, 10)
	if r.file != "" {
		where = r.file + ":" + strconv.FormatInt(r.line+1, 10)
	}
	return fmt.Errorf("%s: reading %s: %w", where, r.format, err)
}

// readLine returns the next line without its line ending. The line is a
// view of the read buffer, valid until the next read. A line over the
// limit is skipped through its newline and reported as a *LineError.
func (r *jsonReader) readLine() ([]byte, error) {
	r.lineOff = r.off
	s, err := r.br.ReadSlice('\n')
	switch err {
	case nil:
	case bufio.ErrBufferFull:
		return r.readLongLine(s)
	case io.EOF:
		if len(s) == 0 {
			return nil, io.EOF
		}
	default:
		r.partial = int64(len(s))
		return nil, err
	}
	r.off += int64(len(s))
	r.line++
	s = trimEOL(s)
	if len(s) > r.max {
		return nil, r.tooLong(int64(len(s)))
	}
	return s, nil
}

// readLongLine assembles a line longer than the read buffer in r.long,
// keeping no more than the limit allows and counting the rest.
func (r *jsonReader) readLongLine(first []byte) ([]byte, error) {
	limit := r.max + 2 // room for "\r\n" past the longest line allowed
	r.long = append(r.long[:0], first...)
	n := int64(len(first))
	for {
		s, err := r.br.ReadSlice('\n')
		n += int64(len(s))
		if room := limit - len(r.long); room > 0 {
			r.long = append(r.long, s[:min(room, len(s))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			r.partial = n
			return nil, err
		}
		break
	}
	r.off += n
	r.line++
	line := trimEOL(r.long)
	size := int64(len(line))
	if n > int64(limit) {
		size = n // read up to the limit only: the line is at least this long
	}
	if size > int64(r.max) {
		if cap(r.long) > 4*readBufSize {
			r.long = nil // do not keep a huge buffer for one hostile line
		}
		return nil, r.tooLong(size)
	}
	return line, nil
}

func (r *jsonReader) tooLong(n int64) error {
	return &LineError{File: r.file, Line: r.line, Offset: r.lineOff,
		Err: fmt.Errorf("%w: %d bytes or more, limit %d", ErrLineTooLong, n, r.max)}
}

func trimEOL(s []byte) []byte {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		s = s[:n-1]
		if n > 1 && s[n-2] == '\r' {
			s = s[:n-2]
		}
	}
	return s
}

func isBlank(s []byte) bool {
	for _, c := range s {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// Header line of the Rust original: {"magic":[75,69,83,84],"version":1,...}.
var headerMagic = [4]byte{'K', 'E', 'S', 'T'}

const (
	formatVersion = 1
	maxMetaBytes  = 1 << 20
)

// parseJSONHeader reports whether line is a header line and, if so, what
// it says. A line that is not an object with a "magic" member is no header
// (the event decoder will judge it); one that is must be a valid header.
func parseJSONHeader(line []byte) (Header, bool, error) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] != '{' || !bytes.Contains(t, []byte(`"magic"`)) {
		return Header{}, false, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(t, &m) != nil {
		return Header{}, false, nil
	}
	if _, ok := m["magic"]; !ok {
		return Header{}, false, nil
	}
	h, err := headerFromMap(m)
	return h, true, err
}

// headerFromMap checks magic and version and keeps the other members.
func headerFromMap(m map[string]json.RawMessage) (Header, error) {
	var magic []int
	if err := json.Unmarshal(m["magic"], &magic); err != nil || len(magic) != 4 ||
		magic[0] != int(headerMagic[0]) || magic[1] != int(headerMagic[1]) ||
		magic[2] != int(headerMagic[2]) || magic[3] != int(headerMagic[3]) {
		return Header{}, badHeaderf("magic is " + truncateString(string(m["magic"]), 40) + `, want [75,69,83,84] ("KEST")`)
	}
	delete(m, "magic")
	var h Header
	raw, ok := m["version"]
	if !ok {
		return Header{}, badHeaderf(`missing "version"`)
	}
	if err := json.Unmarshal(raw, &h.Version); err != nil || h.Version != formatVersion {
		return Header{}, badHeaderf("unsupported version " + truncateString(string(raw), 40) + " (this reader reads version 1)")
	}
	delete(m, "version")
	if raw, ok := m["schema_version"]; ok {
		if err := json.Unmarshal(raw, &h.SchemaVersion); err != nil {
			return Header{}, badHeaderf("schema_version " + truncateString(string(raw), 40) + " is not an unsigned 32-bit integer")
		}
		delete(m, "schema_version")
	}
	if raw, ok := m["schema_id"]; ok {
		if err := json.Unmarshal(raw, &h.SchemaID); err != nil {
			return Header{}, badHeaderf("schema_id " + truncateString(string(raw), 40) + " is not a string")
		}
		delete(m, "schema_id")
	}
	if len(m) > 0 {
		h.Meta = m
	}
	return h, nil
}

// appendHeaderJSON appends the header as one JSON object, in the Rust
// original's shape, with the meta members in key order.
func appendHeaderJSON(dst []byte, h Header) ([]byte, error) {
	dst = append(dst, `{"magic":[75,69,83,84],"version":`...)
	dst = strconv.AppendUint(dst, uint64(formatVersion), 10)
	dst = append(dst, `,"schema_version":`...)
	dst = strconv.AppendUint(dst, uint64(h.SchemaVersion), 10)
	if h.SchemaID != "" {
		dst = append(dst, `,"schema_id":`...)
		dst = appendQuotedKey(dst, h.SchemaID)
	}
	keys := make([]string, 0, len(h.Meta))
	for k := range h.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if reservedKey(k) {
			return nil, fmt.Errorf("replay: meta key %q is reserved", k)
		}
		v := h.Meta[k]
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, fmt.Errorf("replay: meta %q is not valid JSON: %w", k, err)
		}
		dst = append(dst, ',')
		dst = appendQuotedKey(dst, k)
		dst = append(dst, ':')
		dst = append(dst, c.Bytes()...)
	}
	return append(dst, '}'), nil
}

func appendQuotedKey(dst []byte, k string) []byte {
	b, _ := json.Marshal(k)
	return append(dst, b...)
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// JSONWriter records events as JSON lines, optionally zstd-compressed.
// It is not safe for concurrent use.
type JSONWriter struct {
	recordOut
	zw    *zstd.Encoder
	pairs bool
	line  []byte // scratch for one encoded line
}

// NewJSONWriter returns a writer of JSON lines to w: the header line when
// opts.Header is set, then one event per line. With opts.Compress the
// lines go through a zstd stream. Close finishes the stream but does not
// close w.
func NewJSONWriter(w io.Writer, opts WriterOptions) (*JSONWriter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	jw := &JSONWriter{pairs: opts.FieldsAsPairs}
	out := w
	if opts.Compress {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(opts.level()))
		if err != nil {
			return nil, err
		}
		jw.zw, out = zw, zw
	}
	jw.bw = bufio.NewWriterSize(out, writeBufSize)
	if opts.Header {
		line, err := appendHeaderJSON(nil, Header{SchemaVersion: opts.SchemaVersion, SchemaID: opts.SchemaID, Meta: opts.Meta})
		if err != nil {
			jw.release()
			return nil, err
		}
		jw.bw.Write(append(line, '\n'))
	}
	return jw, nil
}

const writeBufSize = 64 << 10

// Write appends ev as one line.
func (w *JSONWriter) Write(ev *schema.Event) error {
	if w.err != nil {
		return w.err
	}
	// Encode into a scratch line, not bufio's AvailableBuffer: a line that
	// does not fit the space left would make append allocate.
	b := w.line[:0]
	if w.pairs {
		b = ev.AppendJSONPairs(b)
	} else {
		b = ev.AppendJSON(b)
	}
	b = append(b, '\n')
	w.line = b
	return w.put(b)
}

// Events returns the number of events written.
func (w *JSONWriter) Events() int64 { return w.events }

// Flush writes buffered lines through to the underlying writer (ending a
// zstd block, so that a reader can decode everything written so far).
func (w *JSONWriter) Flush() error {
	if err := w.flush(); err != nil {
		return err
	}
	if w.zw != nil {
		if err := w.zw.Flush(); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// Close flushes, ends the zstd stream if any, and closes the file Create
// opened. Later writes return ErrClosed.
func (w *JSONWriter) Close() error {
	if w.err == ErrClosed {
		return nil
	}
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if w.zw != nil {
		if cerr := w.zw.Close(); err == nil {
			err = cerr
		}
	}
	w.err = ErrClosed
	return closeOwned(w.closer, err)
}

func (w *JSONWriter) release() {
	if w.zw != nil {
		w.zw.Close()
	}
}
