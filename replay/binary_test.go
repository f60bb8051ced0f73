package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
)

// blockSpan is where one block lies in a binary log.
type blockSpan struct {
	off, end int
	events   int
	end_     bool // the end marker
}

// blocks walks a well-formed binary log's blocks.
func blocks(tb testing.TB, data []byte) []blockSpan {
	tb.Helper()
	metaLen := int(binary.LittleEndian.Uint32(data[16:]))
	off := kbin.FileHeaderFixed + metaLen + 8
	var out []blockSpan
	for off < len(data) {
		h := data[off : off+kbin.BlockHeaderSize]
		if string(h[:4]) == "KEND" {
			out = append(out, blockSpan{off: off, end: off + kbin.BlockHeaderSize, end_: true})
			break
		}
		comp := int(binary.LittleEndian.Uint32(h[12:]))
		out = append(out, blockSpan{off: off, end: off + kbin.BlockHeaderSize + comp, events: int(binary.LittleEndian.Uint32(h[4:]))})
		off += kbin.BlockHeaderSize + comp
	}
	return out
}

// readLog reads data to its end, skipping skippable errors, and returns the
// events read and every error met.
func readLog(data []byte, opts ReaderOptions) ([]schema.Event, []error, error) {
	r, err := NewReaderWith(bytes.NewReader(data), opts)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var (
		evs  []schema.Event
		errs []error
	)
	for i := 0; ; i++ {
		var ev schema.Event
		err := r.Next(&ev)
		switch {
		case err == nil:
			evs = append(evs, ev)
			continue
		case err == io.EOF:
			return evs, errs, nil
		}
		var be *BlockError
		var le *LineError
		if errors.As(err, &be) && be.Skipped || errors.As(err, &le) {
			errs = append(errs, err)
			continue
		}
		return evs, errs, err
	}
}

func smallLog(tb testing.TB) ([]schema.Event, []byte) {
	evs := append(variedEvents(tb), demo.GenerateEvents(9, 12, nil)...)
	return evs, encodeAll(tb, evs, WriterOptions{BlockEvents: 4, Meta: goldenMeta}, true)
}

// TestBinaryTruncated cuts a log at every byte: the reader recovers the
// whole blocks before the cut and says so, never more, never silently.
func TestBinaryTruncated(t *testing.T) {
	evs, data := smallLog(t)
	spans := blocks(t, data)
	want := lines(evs)
	for cut := 0; cut < len(data); cut++ {
		got, _, err := readLog(data[:cut], ReaderOptions{})
		if cut == 0 {
			continue // empty input is an empty JSON-lines log
		}
		if cut < spans[0].off {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("cut at %d, inside the file header: %v, want ErrBadHeader", cut, err)
			}
			continue
		}
		var te *TruncatedError
		if !errors.As(err, &te) || !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: %v, want a *TruncatedError", cut, err)
		}
		// The whole blocks before the cut.
		whole, events, start := 0, 0, spans[0].off
		for _, s := range spans {
			if s.end_ || s.end > cut {
				break
			}
			whole++
			events += s.events
			start = s.end
		}
		if te.Blocks != int64(whole) || te.Events != int64(events) || te.Offset != int64(start) ||
			te.Partial != int64(cut-start) || len(got) != events {
			t.Fatalf("cut at %d: %+v with %d events, want %d blocks, %d events, offset %d, partial %d",
				cut, te, len(got), whole, events, start, cut-start)
		}
		for i := range got {
			if s := string(got[i].AppendJSON(nil)); s != want[i] {
				t.Fatalf("cut at %d: event %d differs", cut, i)
			}
		}
		if !strings.Contains(err.Error(), "recovered") {
			t.Fatalf("message %q does not say what was recovered", err)
		}
	}
}

// TestBinaryCorrupt flips every bit position's byte of a log: each flip is
// detected, the error names the block's offset, and the blocks not hit are
// still read.
func TestBinaryCorrupt(t *testing.T) {
	evs, data := smallLog(t)
	spans := blocks(t, data)
	step := 1
	if testing.Short() || raceEnabled {
		step = 7
	}
	for i := 0; i < len(data); i += step {
		bad := bytes.Clone(data)
		bad[i] ^= 0x5a
		got, errs, err := readLog(bad, ReaderOptions{File: "x.kbin"})
		if err == nil && len(errs) == 0 {
			t.Fatalf("flip at %d: not detected", i)
		}
		if i < len(kbin.Magic) {
			continue // no longer a binary log: read as JSON lines, and bad
		}
		if i < spans[0].off {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("flip at %d, in the file header: %v, want ErrBadHeader", i, err)
			}
			continue
		}
		var hit blockSpan
		for _, s := range spans {
			if i >= s.off && i < s.end {
				hit = s
			}
		}
		e := err
		if e == nil {
			e = errs[0]
		}
		var be *BlockError
		if !errors.As(e, &be) || !errors.Is(e, ErrCorrupt) {
			t.Fatalf("flip at %d: %v, want a *BlockError matching ErrCorrupt", i, e)
		}
		if be.Offset != int64(hit.off) || be.File != "x.kbin" {
			t.Fatalf("flip at %d: error at offset %d, want the block's %d: %v", i, be.Offset, hit.off, e)
		}
		if i >= hit.off+kbin.BlockHeaderSize && !hit.end_ {
			// A payload flip skips that block only.
			if err != nil || len(errs) != 1 || !be.Skipped || be.Lost != int64(hit.events) ||
				len(got) != len(evs)-hit.events {
				t.Fatalf("flip at %d in a payload: %d events, errors %v, final %v", i, len(got), errs, err)
			}
		}
	}
}

// resum rewrites a block header's checksum after a test changed it.
func resum(h []byte) {
	binary.LittleEndian.PutUint32(h[24:], uint32(xxh3.Hash(h[:24])))
}

// TestBinaryLying covers blocks whose header is consistent but lies about
// the payload, and payloads that decode to nonsense.
func TestBinaryLying(t *testing.T) {
	_, data := smallLog(t)
	sp := blocks(t, data)[0]
	mutate := func(name string, f func(h []byte), want error) {
		t.Helper()
		bad := bytes.Clone(data)
		f(bad[sp.off : sp.off+kbin.BlockHeaderSize])
		_, errs, err := readLog(bad, ReaderOptions{})
		if err == nil && len(errs) > 0 {
			err = errs[0]
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	le := binary.LittleEndian
	mutate("raw size smaller", func(h []byte) { le.PutUint32(h[8:], le.Uint32(h[8:])-1); resum(h) }, ErrCorrupt)
	mutate("raw size larger", func(h []byte) { le.PutUint32(h[8:], le.Uint32(h[8:])+1); resum(h) }, ErrCorrupt)
	mutate("raw size huge", func(h []byte) { le.PutUint32(h[8:], MaxBlockSize+1); resum(h) }, ErrCorrupt)
	mutate("no events", func(h []byte) { le.PutUint32(h[4:], 0); resum(h) }, ErrCorrupt)
	mutate("more events", func(h []byte) { le.PutUint32(h[4:], le.Uint32(h[4:])+1); resum(h) }, ErrCorrupt)
	mutate("fewer events", func(h []byte) { le.PutUint32(h[4:], le.Uint32(h[4:])-1); resum(h) }, ErrCorrupt)
	mutate("compressed size huge", func(h []byte) { le.PutUint32(h[12:], 1<<31); resum(h) }, ErrCorrupt)
	mutate("bad magic", func(h []byte) { h[0] = 'X'; resum(h) }, ErrCorrupt)

	// Data after the end marker.
	if _, _, err := readLog(append(bytes.Clone(data), 0), ReaderOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: %v, want ErrCorrupt", err)
	}
	// A wrong version and unknown flags.
	for _, off := range []int{8, 10} {
		bad := bytes.Clone(data)
		bad[off] = 9
		metaLen := int(le.Uint32(bad[16:]))
		le.PutUint64(bad[kbin.FileHeaderFixed+metaLen:], xxh3.Hash(bad[:kbin.FileHeaderFixed+metaLen]))
		if _, _, err := readLog(bad, ReaderOptions{}); !errors.Is(err, ErrBadHeader) {
			t.Errorf("header byte %d: %v, want ErrBadHeader", off, err)
		}
	}
}

// TestBinaryBlockPayload feeds the block decoder payloads with a valid
// frame: every malformed one is an error, never a panic.
func TestBinaryBlockPayload(t *testing.T) {
	for _, p := range []string{
		"",                                             // no event
		"\x02",                                         // ends in event_id
		"\x02\x00\x02\x02\x00\x00",                     // type 0
		"\x02\x02\x02\x02\x07\x00",                     // unknown entity tag
		"\x02\x02\x02\x02\x00\x05",                     // 5 fields, no bytes
		"\x02\x02\x02\x02\x00\x01\x00\x00",             // field id delta 0
		"\x02\x02\x02\x02\x00\x01\x01\x09",             // unknown value tag
		"\x02\x02\x02\x02\x00\x01\x01\x06\x09ab",       // string past the end
		"\x02\x02\x02\x02\x00\x01\x01\x08\x02\x00",     // array past the end
		"\x02\x02\x02\x02\x00\x01\x01\x03\x00",         // F64 past the end
		"\x02\x02\x02\x02\x00\x00\x00",                 // a byte after the last event
		"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", // varint overflow
	} {
		var d blockDecoder
		d.maxFields, d.maxDepth = 16, 4
		d.reset([]byte(p), 1)
		var ev schema.Event
		if err := d.next(&ev); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%q: %v, want ErrCorrupt", p, err)
		}
	}
}

// TestBinaryTooLarge checks the writer refuses an event no block can hold
// and goes on with the next.
func TestBinaryTooLarge(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewBinaryWriter(&buf, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	big := build(t, 1, 1, 1, schema.EntityKey{}, fld(1, stringValue(strings.Repeat("x", MaxBlockSize))))
	small := build(t, 2, 1, 2, schema.EntityKey{}, fld(1, stringValue("ok")))
	if err := w.Write(&small); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge event: %v, want ErrTooLarge", err)
	}
	if err := w.Write(&small); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, buf.Bytes(), ReaderOptions{})
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
}

// TestBinaryFlush checks a flushed, unfinished log reads as truncated with
// every flushed event recovered, as after a sensor crash.
func TestBinaryFlush(t *testing.T) {
	evs := demo.GenerateEvents(2, 100, nil)
	var buf bytes.Buffer
	w, err := NewBinaryWriter(&buf, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			t.Fatal(err)
		}
		if i == 49 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, _, err := readLog(buf.Bytes(), ReaderOptions{})
	var te *TruncatedError
	if !errors.As(err, &te) || te.Blocks != 2 || te.Events != 100 || te.Partial != 0 || len(got) != 100 {
		t.Fatalf("%d events, %v", len(got), err)
	}
	w.Close()
}

// blockLog returns a finished binary log of one block holding payload as
// count events, every checksum valid, so the reader sees exactly what a
// fuzzer cannot forge.
func blockLog(tb testing.TB, payload []byte, count int) []byte {
	tb.Helper()
	data, err := appendFileHeader(nil, 1, nil)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	comp := enc.EncodeAll(payload, nil)
	enc.Close()
	le := binary.LittleEndian
	var h [kbin.BlockHeaderSize]byte
	copy(h[:], kbin.BlockMagic[:])
	le.PutUint32(h[4:], uint32(count))
	le.PutUint32(h[8:], uint32(len(payload)))
	le.PutUint32(h[12:], uint32(len(comp)))
	le.PutUint64(h[16:], xxh3.Hash(comp))
	resum(h[:])
	data = append(append(data, h[:]...), comp...)
	var end [kbin.BlockHeaderSize]byte
	copy(end[:], kbin.EndMagic[:])
	le.PutUint64(end[4:], 1)
	le.PutUint64(end[12:], uint64(count))
	resum(end[:])
	return append(data, end[:]...)
}

// TestBinaryFieldIDWrap: a field id delta near 2^64 must not wrap the id
// back to a lower one (the sum overflowed 64 bits and passed the check),
// whether it lands on an id already set or on a new lower one; the error
// matches ErrCorrupt, through the reader too, as FORMAT.md promises.
func TestBinaryFieldIDWrap(t *testing.T) {
	head := "\x02\x02\x02\x02\x00" // id 1, type 2, mono 1, wall 1, key 0
	for name, p := range map[string]string{
		// fields 1 and 2, then delta 2^64-1: id 1 again
		"same id": head + "\x03\x01\x00\x01\x00" + string(binary.AppendUvarint(nil, math.MaxUint64)) + "\x00",
		// field 5, then delta 2^64-3: id 2, lower
		"lower id": head + "\x02\x05\x00" + string(binary.AppendUvarint(nil, math.MaxUint64-2)) + "\x00",
		// field 2^32-1 then delta 1: past the id range
		"past range": head + "\x02" + string(binary.AppendUvarint(nil, math.MaxUint32)) + "\x00\x01\x00",
	} {
		var d blockDecoder
		d.maxFields, d.maxDepth = 16, 4
		d.reset([]byte(p), 1)
		var ev schema.Event
		if err := d.next(&ev); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decoder: %v, want ErrCorrupt", name, err)
		}
		evs, errs, err := readLog(blockLog(t, []byte(p), 1), ReaderOptions{})
		var be *BlockError
		if err != nil || len(evs) != 0 || len(errs) != 1 || !errors.Is(errs[0], ErrCorrupt) ||
			!errors.As(errs[0], &be) || !be.Skipped || be.Lost != 1 {
			t.Errorf("%s: reader: %d events, errors %v, final %v; want one skipped ErrCorrupt block", name, len(evs), errs, err)
		}
	}
}
