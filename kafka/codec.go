package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record headers the bridge writes and reads.
const (
	// HeaderFormat names the encoding of a record's value and its version:
	// "kbin/1", "jsonl/1" or "kpb/1". A record without it is decoded by
	// sniffing (binary magic, zstd magic, else JSON lines), so any producer
	// of JSON lines (kcat, a script) can feed a Source; protobuf cannot be
	// sniffed, so a kpb record needs the header.
	HeaderFormat = "kestrel-format"
	// HeaderSchema names the schema a record's events were recorded under,
	// as "id/version" ("acme.sensor/2"); a Forwarder writes it when
	// Config.SchemaID is set, and a Source with Config.Local maps records
	// that name another schema. A record without it is taken to be in the
	// Source's own schema. The binary log's own schema_id is not used here:
	// metadata in a record's header would cost it the decoder's fast path.
	HeaderSchema = "kestrel-schema"
	// HeaderDLQReason, on a dead-letter record, says why it could not be
	// decoded; HeaderDLQTopic, HeaderDLQPartition and HeaderDLQOffset say
	// where it was read; HeaderDLQGroup names the group that read it.
	HeaderDLQReason    = "kestrel-dlq-reason"
	HeaderDLQTopic     = "kestrel-dlq-topic"
	HeaderDLQPartition = "kestrel-dlq-partition"
	HeaderDLQOffset    = "kestrel-dlq-offset"
	HeaderDLQGroup     = "kestrel-dlq-group"
)

// Format is how a record's value encodes its events.
type Format uint8

const (
	// FormatBinary is a complete binary log of package replay (FORMAT.md):
	// header, zstd-compressed blocks with checksums, end marker. Header
	// value "kbin/1". The default.
	FormatBinary Format = iota
	// FormatJSON is JSON lines, one event per line in schema's wire form.
	// Header value "jsonl/1".
	FormatJSON
	// FormatProto is one EventBatch message of protoevent/event.proto,
	// naming the Forwarder's schema (Config.SchemaID) beside its events.
	// Header value "kpb/1". A record without HeaderSchema is mapped by the
	// schema its batch names.
	FormatProto
)

// formatVersion is the version the header states; a reader rejects others.
const formatVersion = "1"

// String returns "kbin", "jsonl" or "kpb".
func (f Format) String() string {
	switch f {
	case FormatBinary:
		return "kbin"
	case FormatJSON:
		return "jsonl"
	case FormatProto:
		return "kpb"
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// header returns the HeaderFormat value, "kbin/1", "jsonl/1" or "kpb/1".
func (f Format) header() string {
	switch f {
	case FormatBinary:
		return headerBinary
	case FormatJSON:
		return headerJSON
	case FormatProto:
		return headerProto
	}
	return f.String() + "/" + formatVersion
}

// The format headers' values, built once: decode compares every record's
// header with them.
var (
	headerBinary = FormatBinary.String() + "/" + formatVersion
	headerJSON   = FormatJSON.String() + "/" + formatVersion
	headerProto  = FormatProto.String() + "/" + formatVersion
)

// ParseFormat parses "kbin" (or "binary"), "jsonl" (or "json") and "kpb"
// (or "proto", "protobuf").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "kbin", "binary":
		return FormatBinary, nil
	case "jsonl", "json":
		return FormatJSON, nil
	case "kpb", "proto", "protobuf":
		return FormatProto, nil
	}
	return 0, fmt.Errorf("kafka: unknown format %q (want kbin, jsonl or kpb)", s)
}

// encoder turns groups of events into record values. It keeps one replay
// writer for its whole life, writing into buf: creating a writer (and its
// zstd encoder) per record would cost more than encoding the events.
//
// For the binary format each record is a complete log of FORMAT.md: the
// file header the writer wrote once, the blocks the writer wrote for this
// group (Flush ends a block), and an end marker counting them, built here
// as FORMAT.md specifies. For JSON lines a record is the group's lines; for
// protobuf, one EventBatch naming batch's schema.
type encoder struct {
	format Format
	buf    bytes.Buffer
	bw     *replay.BinaryWriter
	jw     *replay.JSONWriter
	header []byte                 // the binary log's file header
	batch  protoevent.BatchHeader // the schema a protobuf record names
}

// newEncoder returns an encoder whose binary blocks are as large as the
// format allows: a record is one block unless its events pass half of
// replay.MaxBlockSize.
func newEncoder(f Format, level int) (*encoder, error) {
	return newEncoderSize(f, level, replay.MaxBlockSize/2)
}

// newEncoderSize returns an encoder closing binary blocks at blockSize
// bytes (tests make records of several blocks with a small one).
func newEncoderSize(f Format, level, blockSize int) (*encoder, error) {
	e := &encoder{format: f}
	opts := replay.WriterOptions{Level: level}
	var err error
	switch f {
	case FormatBinary:
		opts.BlockSize = blockSize
		opts.BlockEvents = replay.MaxBlockEvents
		if e.bw, err = replay.NewBinaryWriter(&e.buf, opts); err != nil {
			return nil, err
		}
		e.header = bytes.Clone(e.buf.Bytes())
		e.buf.Reset()
	case FormatJSON:
		if e.jw, err = replay.NewJSONWriter(&e.buf, opts); err != nil {
			return nil, err
		}
	case FormatProto:
	default:
		return nil, fmt.Errorf("kafka: unknown format %d", uint8(f))
	}
	return e, nil
}

// close releases the writer's resources.
func (e *encoder) close() {
	if e.bw != nil {
		e.bw.Close()
	}
	if e.jw != nil {
		e.jw.Close()
	}
}

// appendRecord appends the record value holding evs, in order, to dst. An
// event the writer refuses (too large for a block) is left out: bad counts
// those and err is the first one's error. n is the number of events in the
// value; with n == 0 nothing is appended.
func (e *encoder) appendRecord(dst []byte, evs []*schema.Event) (out []byte, n, bad int, err error) {
	if e.format == FormatProto {
		if len(evs) == 0 {
			return dst, 0, 0, nil
		}
		return protoevent.AppendBatch(dst, e.batch, evs), len(evs), 0, nil
	}
	e.buf.Reset()
	for _, ev := range evs {
		var werr error
		if e.bw != nil {
			werr = e.bw.Write(ev)
		} else {
			werr = e.jw.Write(ev)
		}
		if werr != nil {
			bad++
			if err == nil {
				err = werr
			}
			continue
		}
		n++
	}
	var ferr error
	if e.bw != nil {
		ferr = e.bw.Flush()
	} else {
		ferr = e.jw.Flush()
	}
	if ferr != nil { // writing into a bytes.Buffer cannot fail: the writer is broken
		return dst, 0, len(evs), ferr
	}
	if n == 0 {
		return dst, 0, bad, err
	}
	if e.format == FormatJSON {
		return append(dst, e.buf.Bytes()...), n, bad, err
	}
	blocks := e.buf.Bytes()
	nb, _, ok := kbin.WalkBlocks(blocks)
	if !ok {
		return dst, 0, len(evs), errors.New("kafka: the binary writer wrote something other than whole blocks")
	}
	dst = append(dst, e.header...)
	dst = append(dst, blocks...)
	return kbin.AppendEndMarker(dst, uint64(nb), uint64(n)), n, bad, err
}

// decoder turns record values back into events. It decodes a whole record
// before anything is published, so a poison record publishes nothing.
//
// A binary record takes a fast path: its file header and end marker are
// checked here (FORMAT.md), and its blocks are fed to one long-lived replay
// reader through stream, so that a record does not pay for a new reader
// (its zstd decoder and read buffer: tens of microseconds and 68 KB, more
// than decoding a few events). Anything unusual on the fast path (metadata
// in the header, a bad block, a count that does not add up) sends the
// record to the slow path, a fresh replay reader over the record alone,
// whose verdict and error message are authoritative; a fuzzer checks that
// both paths agree.
type decoder struct {
	opts    replay.ReaderOptions
	max     int // events per record
	src     bytes.Reader
	evs     []schema.Event // the last record's events, reused
	stream  feeder         // feeds the long-lived reader
	r       replay.Reader  // the long-lived binary reader; nil until needed or after a failure
	mapper  schemaMapper   // maps records of other schemas (Config.Local)
	scratch schema.Event   // a protobuf batch's event being decoded
}

func newDecoder(opts replay.ReaderOptions, maxEvents int) *decoder {
	return &decoder{opts: opts, max: maxEvents}
}

// close releases the long-lived reader.
func (d *decoder) close() {
	if d.r != nil {
		d.r.Close()
		d.r = nil
	}
}

// errTooManyEvents: a record with more events than MaxRecordEvents.
var errTooManyEvents = errors.New("more events than the record limit")

// decode decodes a record's value into d.evs and returns how many events it
// holds. The events' strings reference memory that is never reused (a
// protobuf record's, the record value itself), so the events may be
// published and kept by a bus after the next decode. An error describes
// why the record is poison.
func (d *decoder) decode(headers []kgo.RecordHeader, value []byte) (int, error) {
	mp, named, err := d.mapper.mapping(headers)
	if err != nil {
		return 0, err
	}
	if !named && d.mapper.local != nil && isProto(headers) {
		// No HeaderSchema: the batch may name its schema itself.
		if h, herr := protoevent.ReadBatchHeader(value); herr == nil && h.SchemaID != "" {
			if mp, err = d.mapper.mappingOf([]byte(h.SchemaID + "/" + strconv.FormatUint(uint64(h.SchemaVersion), 10))); err != nil {
				return 0, err
			}
		}
	}
	n, err := d.decodeValue(headers, value)
	if err != nil || mp == nil {
		return n, err
	}
	return d.mapper.apply(mp, d.evs[:n]), nil
}

// decodeValue is decode without the mapping.
func (d *decoder) decodeValue(headers []kgo.RecordHeader, value []byte) (int, error) {
	want := -1 // any format: sniff
	for _, h := range headers {
		if h.Key != HeaderFormat {
			continue
		}
		switch string(h.Value) {
		case headerBinary:
			want = int(FormatBinary)
		case headerJSON:
			want = int(FormatJSON)
		case headerProto:
			want = int(FormatProto)
		default:
			return 0, fmt.Errorf("unsupported %s header %q (this reader reads %s, %s and %s)", HeaderFormat,
				h.Value, FormatBinary.header(), FormatJSON.header(), FormatProto.header())
		}
	}
	if want == int(FormatProto) {
		return d.proto(value)
	}
	if want == int(FormatBinary) && !kbin.IsBinary(value) {
		return 0, fmt.Errorf("%s header says %s but the value does not start with the binary log's magic",
			HeaderFormat, FormatBinary.header())
	}
	if want != int(FormatJSON) && kbin.IsBinary(value) {
		if n, ok := d.fast(value); ok {
			return n, nil
		}
	}
	return d.slow(want, value)
}

// slow decodes value with a replay reader of its own.
func (d *decoder) slow(want int, value []byte) (int, error) {
	d.src.Reset(value)
	r, err := replay.NewReaderWith(&d.src, d.opts)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if want == int(FormatJSON) && r.Format() != replay.FormatJSON {
		return 0, fmt.Errorf("%s header says %s but the value is %s", HeaderFormat, FormatJSON.header(), r.Format())
	}
	n := 0
	for {
		if n >= d.max {
			var probe schema.Event
			if err := r.Next(&probe); err == io.EOF {
				return n, nil
			}
			return 0, fmt.Errorf("%w (%d)", errTooManyEvents, d.max)
		}
		d.grow(n + 1)
		err := r.Next(&d.evs[n])
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
}

// grow makes d.evs hold at least n events.
func (d *decoder) grow(n int) {
	if n > len(d.evs) {
		d.evs = append(d.evs, make([]schema.Event, n-len(d.evs))...)
		d.evs = d.evs[:cap(d.evs)]
	}
}

// fast decodes a binary record through the long-lived reader. ok is false
// when the record must take the slow path.
func (d *decoder) fast(value []byte) (n int, ok bool) {
	// File header: no metadata (the slow path parses it), checksum right;
	// the end marker intact, counting the blocks and events between.
	if len(value) < kbin.StreamHeaderSize+kbin.EndMarkerSize || !kbin.IsStreamHeader(value) {
		return 0, false
	}
	wantBlocks, wantEvents, ok := kbin.ReadEndMarker(value[len(value)-kbin.EndMarkerSize:])
	if !ok {
		return 0, false
	}
	blocks := value[kbin.StreamHeaderSize : len(value)-kbin.EndMarkerSize]
	nb, count, ok := kbin.WalkBlocks(blocks)
	if !ok || uint64(nb) != wantBlocks || uint64(count) != wantEvents || count > d.max {
		return 0, false
	}
	if count == 0 {
		return 0, true
	}
	if d.r == nil {
		d.stream.buf = streamHeader
		r, err := replay.NewReaderWith(&d.stream, d.opts)
		if err != nil || r.Format() != replay.FormatBinary {
			if r != nil {
				r.Close()
			}
			return 0, false
		}
		d.r = r
	}
	d.stream.buf = blocks
	d.grow(count)
	for i := range count {
		if err := d.r.Next(&d.evs[i]); err != nil {
			d.close() // its state is unknown: start afresh next time
			return 0, false
		}
	}
	if len(d.stream.buf) != 0 {
		d.close()
		return 0, false
	}
	return count, true
}

// streamHeader is the file header the long-lived reader starts with: a
// version 1 log without metadata.
var streamHeader = kbin.AppendStreamHeader(nil)

// feeder hands the long-lived reader the blocks of one record at a time.
// Reading past them is a failure of the fast path, never a wait.
type feeder struct{ buf []byte }

// errStarved: the reader wanted more than the record's blocks.
var errStarved = errors.New("kafka: record stream read past its record")

func (f *feeder) Read(p []byte) (int, error) {
	if len(f.buf) == 0 {
		return 0, errStarved
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// isProto reports whether headers name the protobuf encoding.
func isProto(headers []kgo.RecordHeader) bool {
	for _, h := range headers {
		if h.Key == HeaderFormat {
			return string(h.Value) == headerProto
		}
	}
	return false
}

// proto decodes an EventBatch into d.evs, checking each event as the log
// readers do (an event type, the field limit, the registry when set).
func (d *decoder) proto(value []byte) (int, error) {
	maxFields := d.opts.MaxFields
	if maxFields <= 0 {
		maxFields = schema.DefaultMaxFields
	}
	n := 0
	err := protoevent.ReadBatch(value, &d.scratch, func(ev *schema.Event) error {
		if n >= d.max {
			return fmt.Errorf("%w (%d)", errTooManyEvents, d.max)
		}
		if ev.NumFields() > maxFields {
			return fmt.Errorf("event %d of the batch: %d fields, more than the limit of %d", n+1, ev.NumFields(), maxFields)
		}
		if d.opts.Registry != nil {
			if err := protoevent.Validate(d.opts.Registry, ev); err != nil {
				return fmt.Errorf("event %d of the batch: %w", n+1, err)
			}
		} else if ev.Type == 0 {
			return fmt.Errorf("event %d of the batch: event_type_id missing", n+1)
		}
		d.grow(n + 1)
		// Swap, not copy: the scratch event takes the old storage for reuse.
		d.evs[n], *ev = *ev, d.evs[n]
		n++
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
