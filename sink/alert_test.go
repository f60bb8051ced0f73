package sink

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fullAlert uses every field and every value kind, with strings that need
// escaping and the extremes of every number.
func fullAlert() *Alert {
	ids := []uint64{1, 18446744073709551615}
	return &Alert{
		ID:       NewAlertID("revshell-001", ids),
		RuleID:   "revshell-001",
		RuleName: "Reverse \"shell\" <detection>",
		Severity: schema.SeverityCritical,
		Tags:     []string{"execution", "T1059", "ünïcode"},
		TsMono:   1_000_000_001,
		TsWall:   1_767_226_612_500_000_123,
		Entity:   schema.EntityKey{Hi: math.MaxUint64, Lo: math.MaxUint64},
		EventIDs: ids,
		Message:  "line1\nline2\ttab \\ \u2028 \x01",
		Fields: []AlertField{
			{Path: "process.executable", Value: value.StringValue("/bin/sh")},
			{Path: "process.pid", Value: value.I64Value(-5)},
			{Path: "process.uid", Value: value.U64Value(math.MaxUint64)},
			{Path: "score", Value: value.F64Value(1.5)},
			{Path: "interactive", Value: value.BoolValue(true)},
			{Path: "payload", Value: value.BytesValue([]byte("hi"))},
			{Path: "args", Value: value.ArrayValue(value.I64Value(1), value.NullValue())},
			{Path: "parent", Value: value.NullValue()},
		},
		Suppressed: 3,
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got %s\nwant %s", path, got, want)
	}
}

func TestAlertJSONGolden(t *testing.T) {
	cases := []struct {
		file  string
		alert *Alert
	}{
		{"alert_full.json", fullAlert()},
		{"alert_zero.json", &Alert{}},
		{"alert_typical.json", testAlert(7)},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			line := append(c.alert.AppendJSON(nil), '\n')
			checkGolden(t, c.file, line)
			if !json.Valid(line) {
				t.Fatalf("not valid JSON: %s", line)
			}
			var back Alert
			if err := json.Unmarshal(line, &back); err != nil {
				t.Fatal(err)
			}
			if again := append(back.AppendJSON(nil), '\n'); !bytes.Equal(again, line) {
				t.Errorf("round trip differs:\n got %s\nwant %s", again, line)
			}
		})
	}
}

// TestAlertJSONKeys pins the documented key order.
func TestAlertJSONKeys(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader(fullAlert().AppendJSON(nil)))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		if s, ok := tok.(string); ok && depth == 1 && dec.More() {
			keys = append(keys, s)
			// skip the value
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{"alert_id", "rule_id", "rule_name", "severity", "tags", "ts_mono_ns", "ts_wall_ns",
		"time", "entity_key", "event_ids", "message", "fields", "suppressed_count"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

// TestAlertJSONExamples reads the repository's golden alerts (written by
// cmd/kestrel) and writes them back byte for byte.
func TestAlertJSONExamples(t *testing.T) {
	f, err := os.Open("../examples/alerts.golden.jsonl")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var a Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if got := a.AppendJSON(nil); !bytes.Equal(got, sc.Bytes()) {
			t.Fatalf("line %d:\n got %s\nwant %s", n, got, sc.Bytes())
		}
		if a.ID != NewAlertID(a.RuleID, a.EventIDs) {
			t.Errorf("line %d: alert_id %s is not NewAlertID(%q, %v)", n, a.ID, a.RuleID, a.EventIDs)
		}
	}
	if n == 0 {
		t.Skip("no alerts")
	}
}

func TestNewAlertID(t *testing.T) {
	// Pinned: alert ids are a wire form; changing them breaks downstream
	// deduplication of replays.
	if got, want := NewAlertID("exfil-001", []uint64{21, 23}), "29bed92ac7b703fc59641498f402e339"; got != want {
		t.Errorf("NewAlertID = %s, want %s", got, want)
	}
	if NewAlertID("a", []uint64{1}) == NewAlertID("a", []uint64{1, 0}) {
		t.Error("event id lists of different length collide")
	}
	if NewAlertID("a", nil) == NewAlertID("b", nil) {
		t.Error("rule ids collide")
	}
	long := string(make([]byte, 1000))
	if len(NewAlertID(long, make([]uint64, 100))) != 32 {
		t.Error("long input: wrong length")
	}
	if n := testing.AllocsPerRun(100, func() { _ = NewAlertID("rule", []uint64{1, 2, 3}) }); n > 1 && !raceEnabled {
		t.Errorf("NewAlertID allocates %v times, want at most 1 (the string)", n)
	}
	buf := make([]byte, 0, 64)
	if got := string(AppendAlertID(buf, "exfil-001", []uint64{21, 23})); got != "29bed92ac7b703fc59641498f402e339" {
		t.Errorf("AppendAlertID = %s", got)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendAlertID(buf[:0], "rule", []uint64{1, 2, 3}) }); n != 0 && !raceEnabled {
		t.Errorf("AppendAlertID allocates %v times, want 0", n)
	}
}

// TestAppendHex128: the alert id's digits are hex.AppendEncode's of the
// hash's big-endian bytes, on edge and random values.
func TestAppendHex128(t *testing.T) {
	f := func(hi, lo uint64) {
		t.Helper()
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], hi)
		binary.BigEndian.PutUint64(b[8:], lo)
		if got, want := string(appendHex128([]byte("x"), hi, lo)), "x"+hex.EncodeToString(b[:]); got != want {
			t.Fatalf("%#x %#x: %s, want %s", hi, lo, got, want)
		}
	}
	f(0, 0)
	f(^uint64(0), ^uint64(0))
	f(0x0123456789abcdef, 0xfedcba9876543210)
	f(0x9a9a9a9a9a9a9a9a, 0xa9a9a9a9a9a9a9a9)
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		f(rnd.Uint64(), rnd.Uint64())
	}
}

func TestAlertUnmarshalErrors(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`[]`,
		`{"alert_id":"x","entity_key":-1}`,
		`{"alert_id":"x","severity":"nope"}`,
		`{"alert_id":"x","fields":[]}`,
		`{"alert_id":"x","fields":{"a":{"I64":"no"}}}`,
		`{"alert_id":"x"`,
	} {
		var a Alert
		if err := json.Unmarshal([]byte(in), &a); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func TestAlertTimeExtremes(t *testing.T) {
	a := &Alert{TsWall: math.MaxUint64}
	var back Alert
	if err := json.Unmarshal(a.AppendJSON(nil), &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(a.AppendJSON(nil), []byte(`"time":"2554-07-21T23:34:33.709551615Z"`)) {
		t.Errorf("max time: %s", a.AppendJSON(nil))
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	a := fullAlert()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = a.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times", n)
	}
}

// TestAppendUTC checks the hand-written formatter against the time
// package, at the edges and over random instants of the whole range.
func TestAppendUTC(t *testing.T) {
	check := func(ns uint64) {
		t.Helper()
		tm := time.Unix(int64(ns/1e9), int64(ns%1e9)).UTC()
		if got, want := string(appendUTC(nil, ns, 9)), tm.Format("2006-01-02T15:04:05.000000000Z07:00"); got != want {
			t.Fatalf("%d: %s, want %s", ns, got, want)
		}
		if got, want := string(appendUTC(nil, ns, 6)), tm.Format("2006-01-02T15:04:05.000000Z07:00"); got != want {
			t.Fatalf("%d: %s, want %s (6 digits)", ns, got, want)
		}
	}
	for _, ns := range []uint64{0, 1, 86399_999_999_999, 86400e9, 951_782_400e9 /* 2000-02-29 */, 4_107_542_400e9 /* 2100-03-01 */, math.MaxUint64} {
		check(ns)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		check(r.Uint64())
		check(r.Uint64N(4_102_444_800e9)) // before 2100
	}
}

// FuzzAlertUnmarshal: any input either fails with ErrInvalidAlert (or a
// severity error) or decodes to an alert whose JSON decodes to itself.
func FuzzAlertUnmarshal(f *testing.F) {
	f.Add(fullAlert().AppendJSON(nil))
	f.Add((&Alert{}).AppendJSON(nil))
	f.Add([]byte(`{"alert_id":"x","entity_key":5,"fields":{"a":"Null","b":{"Array":[]}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var a Alert
		if err := a.UnmarshalJSON(in); err != nil {
			if !errors.Is(err, ErrInvalidAlert) && !errors.Is(err, schema.ErrUnknownSeverity) {
				t.Fatalf("error %v matches neither sentinel", err)
			}
			return
		}
		out := a.AppendJSON(nil)
		var b Alert
		if err := b.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if again := b.AppendJSON(nil); !bytes.Equal(again, out) {
			t.Fatalf("not stable:\n%s\n%s", out, again)
		}
	})
}

// Decoding errors keep their cause: a bad severity matches both
// ErrInvalidAlert and schema.ErrUnknownSeverity.
func TestAlertUnmarshalWrapsCause(t *testing.T) {
	var a Alert
	err := a.UnmarshalJSON([]byte(`{"alert_id":"x","rule_id":"r","severity":"dire"}`))
	if !errors.Is(err, ErrInvalidAlert) || !errors.Is(err, schema.ErrUnknownSeverity) {
		t.Errorf("bad severity: %v; want ErrInvalidAlert and schema.ErrUnknownSeverity", err)
	}
}

// A RetryAfterError without a cause still has a message (it is logged when
// retries run out) instead of panicking.
func TestRetryAfterErrorWithoutCause(t *testing.T) {
	e := &RetryAfterError{After: time.Second}
	if msg := e.Error(); !strings.Contains(msg, "retry after 1s") {
		t.Errorf("message %q", msg)
	}
	if e.Unwrap() != nil {
		t.Error("no cause, but Unwrap returned one")
	}
}
