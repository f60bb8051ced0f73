package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// jsonSeeds are lines of both shapes, header lines and bad lines; the
// corpora in testdata/fuzz hold more.
func jsonSeeds(f *testing.F) {
	f.Add(goodLine)
	f.Add(`{"magic":[75,69,83,84],"version":1,"schema_version":1,"host":"h"}` + "\n" + goodLine)
	for _, l := range strings.Split(strings.TrimSpace(string(mustRead(f, "testdata/original.jsonl"))), "\n") {
		f.Add(l)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mustRead(f, "testdata/varied.jsonl"))), "\n") {
		f.Add(l)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mustRead(f, "testdata/varied_pairs.jsonl"))), "\n") {
		f.Add(l)
	}
	for _, c := range badLines {
		f.Add(c.line)
	}
}

// FuzzJSONLines reads arbitrary input as a JSON-lines log. It must never
// panic; every error is a *LineError (the reader goes on) or final; and every
// event read must write back to a line that reads to the same event.
func FuzzJSONLines(f *testing.F) {
	jsonSeeds(f)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := NewReaderWith(strings.NewReader(in), ReaderOptions{MaxLineBytes: 4096, MaxFields: 64})
		if err != nil {
			if !errors.Is(err, ErrBadHeader) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
				var le *LineError
				var be *BlockError
				if !errors.As(err, &le) && !errors.As(err, &be) {
					t.Fatalf("NewReader: %v (%T)", err, err)
				}
			}
			return
		}
		defer r.Close()
		var ev schema.Event
		for range 10000 {
			err := r.Next(&ev)
			if err == io.EOF {
				return
			}
			var le *LineError
			if errors.As(err, &le) {
				if le.Line < 1 {
					t.Fatalf("line %d", le.Line)
				}
				continue
			}
			if err != nil {
				return // a final error (binary or zstd input)
			}
			// Invalid UTF-8 is written as the escape \ufffd and comes back
			// as a real U+FFFD, written as it is: after one round trip the
			// line must be stable.
			line := ev.AppendJSON(nil)
			var back schema.Event
			var d schema.Decoder
			if err := d.Decode(line, &back); err != nil {
				t.Fatalf("re-reading %s: %v", line, err)
			}
			again := back.AppendJSON(nil)
			if !bytes.Equal(again, line) && !bytes.Contains(line, []byte(`\ufffd`)) {
				t.Fatalf("round trip changed the event:\n%s\n%s", line, again)
			}
			if err := d.Decode(again, &back); err != nil || !bytes.Equal(back.AppendJSON(nil), again) {
				t.Fatalf("second round trip of %s: %s, %v", again, back.AppendJSON(nil), err)
			}
		}
		t.Fatal("more than 10000 records from a short input")
	})
}

// FuzzSonicVsEncodingJSON decodes each line with the reader's decoder
// (sonic) and with a reference decoder built on encoding/json: where the
// reference reads an event, the reader must read the same one; where it
// rejects the line, so must the reader.
func FuzzSonicVsEncodingJSON(f *testing.F) {
	jsonSeeds(f)
	var d schema.Decoder
	f.Fuzz(func(t *testing.T, line string) {
		if !comparable(line) {
			return
		}
		want, werr := refDecode(line)
		var ev schema.Event
		err := d.DecodeString(line, &ev)
		switch {
		case werr != nil && err == nil:
			t.Fatalf("encoding/json rejects %q (%v), sonic reads %s", line, werr, ev.AppendJSON(nil))
		case werr == nil && err != nil:
			t.Fatalf("encoding/json reads %q as %s, sonic rejects it: %v", line, want, err)
		case werr == nil:
			if got := string(ev.AppendJSON(nil)); got != want {
				t.Fatalf("%q:\n sonic         %s\n encoding/json %s", line, got, want)
			}
		}
	})
}

// comparable leaves out what the two decoders are allowed to treat
// differently: invalid UTF-8 and escaped surrogates (replaced or refused),
// and nesting near the depth limit.
func comparable(line string) bool {
	return utf8.ValidString(line) && !strings.Contains(strings.ToLower(line), `\ud`) &&
		strings.Count(line, "[") < 24 && len(line) < 1<<16
}

// refDecode is a reference event decoder on encoding/json's tokenizer,
// written from the wire form's definition (DESIGN.md, schema and value docs).
func refDecode(line string) (string, error) {
	if !json.Valid([]byte(line)) {
		return "", errors.New("invalid JSON")
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	next := func() (json.Token, error) { return dec.Token() }
	tok, err := next()
	if err != nil {
		return "", err
	}
	if tok != json.Delim('{') {
		return "", errors.New("not an object")
	}
	b := schema.NewBuilder(nil)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := next()
		if err != nil {
			return "", err
		}
		key := tok.(string)
		if seen[key] {
			return "", errors.New("duplicate key")
		}
		seen[key] = true
		if key == "fields" {
			if err := refFields(dec, b); err != nil {
				return "", err
			}
			continue
		}
		tok, err = next()
		if err != nil {
			return "", err
		}
		n, ok := tok.(json.Number)
		if !ok {
			return "", errors.New(key + ": not a number")
		}
		switch key {
		case "entity_key":
			k, err := schema.ParseEntityKey(string(n))
			if err != nil {
				return "", err
			}
			b.Entity(k)
			continue
		case "event_id", "event_type_id", "ts_mono_ns", "ts_wall_ns":
		default:
			return "", errors.New("unknown key")
		}
		bits := 64
		if key == "event_type_id" {
			bits = 16
		}
		u, err := strconv.ParseUint(string(n), 10, bits)
		if err != nil {
			return "", err
		}
		switch key {
		case "event_id":
			b.ID(u)
		case "event_type_id":
			b.Type(schema.EventTypeID(u))
		case "ts_mono_ns":
			b.Mono(schema.TimestampMono(u))
		case "ts_wall_ns":
			b.Wall(schema.TimestampWall(u))
		}
	}
	if len(seen) != 6 {
		return "", errors.New("missing key")
	}
	ev, err := b.Build()
	if err != nil {
		return "", err
	}
	return string(ev.AppendJSON(nil)), nil
}

func refFields(dec *json.Decoder, b *schema.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	id := func(s string) (schema.FieldID, error) {
		u, err := strconv.ParseUint(s, 10, 32)
		if err != nil || u == 0 {
			return 0, fmt.Errorf("bad field id %q", s)
		}
		return schema.FieldID(u), nil
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			k, _ := dec.Token()
			fid, err := id(k.(string))
			if err != nil {
				return err
			}
			v, err := refValue(dec, 0)
			if err != nil {
				return err
			}
			b.Field(fid, v)
			if b.Err() != nil {
				return b.Err()
			}
		}
	case json.Delim('['):
		for dec.More() {
			if t, _ := dec.Token(); t != json.Delim('[') {
				return errors.New("pair is not an array")
			}
			t, _ := dec.Token()
			n, ok := t.(json.Number)
			if !ok {
				return errors.New("pair id is not a number")
			}
			fid, err := id(string(n))
			if err != nil {
				return err
			}
			if !dec.More() {
				return errors.New("pair without a value")
			}
			v, err := refValue(dec, 0)
			if err != nil {
				return err
			}
			if dec.More() {
				return errors.New("pair of three")
			}
			dec.Token() // ]
			b.Field(fid, v)
			if b.Err() != nil {
				return b.Err()
			}
		}
	default:
		return errors.New("fields is neither an object nor an array")
	}
	_, err = dec.Token() // } or ]
	return err
}

var refVariants = map[string]value.Kind{}

func init() {
	for k := value.KindNull; k <= value.KindArray; k++ {
		refVariants[k.String()] = k
		refVariants[strings.ToLower(k.String())] = k
	}
}

func refValue(dec *json.Decoder, depth int) (value.Value, error) {
	if depth > value.MaxDepth {
		return value.Value{}, errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return value.Value{}, err
	}
	if s, ok := tok.(string); ok && (s == "Null" || s == "null") {
		return value.NullValue(), nil
	}
	if tok != json.Delim('{') {
		return value.Value{}, errors.New("not a value")
	}
	t, err := dec.Token()
	if err != nil {
		return value.Value{}, err
	}
	name, _ := t.(string)
	kind, ok := refVariants[name]
	if !ok || kind == value.KindNull {
		return value.Value{}, errors.New("unknown variant")
	}
	if tok, err = dec.Token(); err != nil {
		return value.Value{}, err
	}
	var v value.Value
	num, isNum := tok.(json.Number)
	switch kind {
	case value.KindI64:
		i, err := strconv.ParseInt(string(num), 10, 64)
		if !isNum || err != nil {
			return v, errors.New("bad I64")
		}
		v = value.I64Value(i)
	case value.KindU64:
		u, err := strconv.ParseUint(string(num), 10, 64)
		if !isNum || err != nil {
			return v, errors.New("bad U64")
		}
		v = value.U64Value(u)
	case value.KindF64:
		if tok == nil {
			v = value.F64Value(math.NaN())
			break
		}
		x, err := strconv.ParseFloat(string(num), 64)
		if !isNum || err != nil {
			return v, errors.New("bad F64")
		}
		v = value.F64Value(x)
	case value.KindBool:
		bv, ok := tok.(bool)
		if !ok {
			return v, errors.New("bad Bool")
		}
		v = value.BoolValue(bv)
	case value.KindString:
		s, ok := tok.(string)
		if !ok {
			return v, errors.New("bad String")
		}
		v = value.StringValue(s)
	case value.KindBytes:
		if tok != json.Delim('[') {
			return v, errors.New("bad Bytes")
		}
		bs := []byte{}
		for dec.More() {
			t, _ := dec.Token()
			n, ok := t.(json.Number)
			u, err := strconv.ParseUint(string(n), 10, 8)
			if !ok || err != nil {
				return v, errors.New("bad byte")
			}
			bs = append(bs, byte(u))
		}
		dec.Token()
		v = value.BytesValue(bs)
	case value.KindArray:
		if tok != json.Delim('[') {
			return v, errors.New("bad Array")
		}
		vs := []value.Value{}
		for dec.More() {
			e, err := refValue(dec, depth+1)
			if err != nil {
				return v, err
			}
			vs = append(vs, e)
		}
		dec.Token()
		v = value.ArrayValue(vs...)
	}
	if dec.More() {
		return v, errors.New("a value has one key")
	}
	_, err = dec.Token() // }
	return v, err
}

// FuzzBinaryLog reads arbitrary bytes as a binary log (the magic is
// prepended when missing, so the fuzzer explores past it): no panic, every
// error typed, and every event read re-encodes and reads back the same.
func FuzzBinaryLog(f *testing.F) {
	_, small := smallLog(f)
	f.Add(small)
	f.Add(mustRead(f, "testdata/varied.kbin"))
	f.Add(encodeAll(f, demo.GenerateEvents(1, 20, nil), WriterOptions{BlockEvents: 7}, true))
	f.Add(small[:len(small)/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		if !bytes.HasPrefix(in, kbin.Magic) {
			in = append(bytes.Clone(kbin.Magic), in...)
		}
		evs, errs, err := readLog(in, ReaderOptions{MaxFields: 64})
		for _, e := range append(errs, err) {
			if e == nil {
				continue
			}
			if !errors.Is(e, ErrBadHeader) && !errors.Is(e, ErrCorrupt) && !errors.Is(e, ErrTruncated) {
				t.Fatalf("untyped error %v (%T)", e, e)
			}
		}
		checkReencode(t, evs)
	})
}

// FuzzBinaryBlock feeds the block payload decoder directly, past the
// checksums a fuzzer cannot forge.
func FuzzBinaryBlock(f *testing.F) {
	for _, evs := range [][]schema.Event{variedEvents(f), demo.GenerateEvents(2, 5, nil)} {
		var st deltaState
		var payload []byte
		for i := range evs {
			payload, _, _ = appendEvent(payload, &st, &evs[i], value.MaxDepth)
		}
		f.Add(payload, uint16(len(evs)))
	}
	f.Add([]byte("\x02\x02\x02\x02\x00\x01\x01\x08\x02\x00"), uint16(1))
	var d blockDecoder
	d.maxFields, d.maxDepth = 64, value.MaxDepth
	f.Fuzz(func(t *testing.T, payload []byte, count uint16) {
		if count == 0 || int(count) > len(payload)/minEventSize {
			return // the block header's checks reject these
		}
		d.copy = len(payload)%2 == 0
		d.reset(payload, int(count))
		var evs []schema.Event
		for d.left > 0 {
			var ev schema.Event
			if err := d.next(&ev); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("untyped error %v", err)
				}
				break
			}
			evs = append(evs, ev)
		}
		checkReencode(t, evs)
	})
}

// checkReencode encodes evs in both formats and decodes them back: the
// events must not change. It goes through the codecs the writers and
// readers use per event (appendEvent and the block decoder; AppendJSON and
// the reader's schema.Decoder) rather than through whole logs: a writer and
// a reader per exec cost about 2 MB of zstd tables and read buffers, which
// held the fuzzers to tens of execs a second while they minimised. Framing
// (blocks, checksums, truncation) has its own tests and FuzzBinaryLog.
func checkReencode(t *testing.T, evs []schema.Event) {
	t.Helper()
	if len(evs) == 0 {
		return
	}
	want := lines(evs)
	var st deltaState
	var payload []byte
	for i := range evs {
		var err error
		if payload, _, err = appendEvent(payload, &st, &evs[i], value.MaxDepth); err != nil {
			t.Fatalf("binary: re-encoding event %d: %v", i, err)
		}
	}
	var d blockDecoder
	d.maxFields, d.maxDepth = 64, value.MaxDepth
	d.reset(payload, len(evs))
	dec := schema.Decoder{MaxFields: 64, MaxDepth: value.MaxDepth}
	for i := range evs {
		var back schema.Event
		if err := d.next(&back); err != nil {
			t.Fatalf("binary: re-reading event %d of %d: %v", i, len(evs), err)
		}
		if g := string(back.AppendJSON(nil)); g != want[i] {
			t.Fatalf("binary: event %d changed:\n%s\n%s", i, want[i], g)
		}
		if err := dec.Decode([]byte(want[i]), &back); err != nil {
			t.Fatalf("JSON: re-reading event %d: %v", i, err)
		}
		if g := string(back.AppendJSON(nil)); g != want[i] && !strings.Contains(want[i], `\ufffd`) {
			t.Fatalf("JSON: event %d changed:\n%s\n%s", i, want[i], g)
		}
	}
}
