package schema

import (
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/value"
)

// fastEvents returns events whose values all take the fast path: every
// scalar kind but F64, both edges of the integers, escapes and non-ASCII.
func fastEvents(tb testing.TB) []Event {
	tb.Helper()
	maxKey := EntityKey{Hi: math.MaxUint64, Lo: math.MaxUint64}
	var out []Event
	for i := range 50 {
		b := NewBuilder(nil).ID(uint64(i)).Type(EventTypeID(1 + i%3)).Mono(TimestampMono(1e9 + i)).
			Wall(TimestampWall(1.7e18 + float64(i))).Entity(EntityKeyFrom64(uint64(i * 7919)))
		b.Field(1, value.StringValue("/usr/bin/curl -fsSL https://example.com/"+strconv.Itoa(i)))
		b.Field(2, value.I64Value(int64(-i)))
		b.Field(3, value.U64Value(uint64(i)*1e15))
		b.Field(4, value.BoolValue(i%2 == 0))
		if i%5 == 0 {
			b.Field(5, value.NullValue())
		}
		ev, err := b.Build()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
	ev, err := NewBuilder(nil).ID(math.MaxUint64).Type(math.MaxUint16).Mono(math.MaxUint64).Entity(maxKey).
		Field(1, value.StringValue("quote\" back\\ tab\t nl\n slash/ é 🦅")).
		Field(2, value.I64Value(math.MinInt64)).Field(3, value.U64Value(math.MaxUint64)).
		Field(9, value.StringValue("")).Build()
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, ev)
}

// pairsForm writes ev with its fields as the Rust original's [id, value]
// pairs.
func pairsForm(ev *Event) string {
	obj := string(ev.AppendJSON(nil))
	head := obj[:strings.Index(obj, `"fields":`)+len(`"fields":`)]
	var b strings.Builder
	b.WriteString(head + "[")
	for i, f := range ev.Fields() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[" + strconv.FormatUint(uint64(f.ID), 10) + ",")
		b.Write(f.Value.AppendJSON(nil))
		b.WriteByte(']')
	}
	b.WriteString("]}")
	return b.String()
}

// TestFastLineTakes checks the lines recorders write take the fast path,
// in both shapes and both casings, so it is not silently bypassed.
func TestFastLineTakes(t *testing.T) {
	evs := fastEvents(t)
	var obj []string
	f := fastLine{maxFields: DefaultMaxFields, arena: new(valuejson.Arena)}
	for i := range evs {
		o := string(evs[i].AppendJSON(nil))
		obj = append(obj, o)
		for _, l := range []string{o, pairsForm(&evs[i]), lowerVariants(o)} {
			var ev Event
			if !f.decode([]byte(l), &ev) {
				t.Fatalf("fast path refused %s", l)
			}
			if got := string(ev.AppendJSON(nil)); got != o {
				t.Fatalf("fast path read %s as\n%s", l, got)
			}
		}
	}
	for _, l := range []string{
		` ` + obj[0], // white space
		obj[0] + ` `, // trailing white space
		`{"event_type_id":1,"event_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{}}`, // key order
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"1":{"F64":1.5}}}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"1":{"String":"\u00e9"}}}`,
		`{"event_id":01,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{}}`,
		`{"event_id":1e3,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{}}`,
		`{"event_id":18446744073709551616,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{}}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":340282366920938463463374607431768211456,"fields":{}}`,
		`{"event_id":1,"event_type_id":0,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{}}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"1":"Null","1":"Null"}}`,
		`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":0,"fields":{"1":{"I64":-9223372036854775809}}}`,
	} {
		var ev Event
		if f.decode([]byte(l), &ev) {
			t.Errorf("fast path took %s", l)
		}
	}
}

func lowerVariants(s string) string {
	for _, v := range []string{"Null", "I64", "U64", "Bool", "String"} {
		s = strings.ReplaceAll(s, `"`+v+`"`, `"`+strings.ToLower(v)+`"`)
	}
	return s
}

// FuzzFastLine checks the fast path against schema.Decoder (sonic) on the
// same line: wherever the fast path reads an event, sonic reads the same one.
func FuzzFastLine(f *testing.F) {
	for i, ev := range fastEvents(f) {
		if i%10 == 0 || i == 50 {
			f.Add(string(ev.AppendJSON(nil)))
			f.Add(pairsForm(&ev))
		}
	}
	if golden, err := os.ReadFile(filepath.Join("testdata", "events.golden.jsonl")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(golden)), "\n") {
			f.Add(l)
		}
	}
	f.Add(`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":340282366920938463463374607431768211455,"fields":[[1,{"i64":-9223372036854775808}],[2,{"string":"a\"\\\/\b\f\n\r\t"}]]}`)
	reg := NewRegistry()
	if _, err := reg.RegisterFields(FieldDef{Path: "a.s", DataType: TypeString}, FieldDef{Path: "a.i", DataType: TypeI64},
		FieldDef{Path: "a.u", DataType: TypeU64}, FieldDef{Path: "a.b", DataType: TypeBool}, FieldDef{Path: "a.any"}); err != nil {
		f.Fatal(err)
	}
	fast := [2]fastLine{{maxFields: 8, arena: new(valuejson.Arena)}, {maxFields: 8, reg: reg, arena: new(valuejson.Arena)}}
	slow := [2]Decoder{{MaxFields: 8, NoFastPath: true}, {MaxFields: 8, Registry: reg, NoFastPath: true}}
	f.Fuzz(func(t *testing.T, line string) {
		for i := range fast {
			var a, b Event
			if !fast[i].decode([]byte(line), &a) {
				continue
			}
			if err := slow[i].DecodeString(line, &b); err != nil {
				t.Fatalf("registry %v: fast path read %q as %s; sonic: %v", i == 1, line, a.AppendJSON(nil), err)
			}
			if x, y := a.AppendJSON(nil), b.AppendJSON(nil); string(x) != string(y) {
				t.Fatalf("registry %v: %q:\n fast  %s\n sonic %s", i == 1, line, x, y)
			}
		}
	})
}

// FuzzEntityKey checks the fast path's 128-bit decimal parser against
// schema.ParseEntityKey and math/big.
func FuzzEntityKey(f *testing.F) {
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", "340282366920938463463374607431768211455",
		"340282366920938463463374607431768211456", "01", "1e3", "99999999999999999999999999999999999999999"} {
		f.Add(s)
	}
	max := new(big.Int).Lsh(big.NewInt(1), 128)
	f.Fuzz(func(t *testing.T, s string) {
		p := fastParser{buf: []byte(s)}
		k, ok := p.entity()
		if !ok {
			return
		}
		want, err := ParseEntityKey(s[:p.pos])
		if err != nil || want != k {
			t.Fatalf("%q: fast %v, ParseEntityKey %v %v", s, k, want, err)
		}
		n, bok := new(big.Int).SetString(s[:p.pos], 10)
		if !bok || n.Cmp(max) >= 0 || n.String() != k.String() {
			t.Fatalf("%q: fast %v, big %v", s, k, n)
		}
	})
}

// TestPlainRun checks the word-at-a-time scan against the byte loop's rule
// for every special byte at every position.
func TestPlainRun(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for n := 0; n < 40; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, c := range []byte{'"', '\\', 0, 0x1f, 0x20, 0x7f, 0x80, 0xff, 'a', '!', '#', '[', ']'} {
				buf := []byte(strings.Repeat("x", n))
				if pos < n {
					buf[pos] = c
				}
				end := plainRun(buf, 0)
				for i := 0; i < end; i++ {
					if !plain(buf[i]) {
						t.Fatalf("n %d, byte %#x at %d: run to %d passes it", n, c, pos, end)
					}
				}
				if end+8 <= n && func() bool {
					for _, b := range buf[end : end+8] {
						if !plain(b) {
							return false
						}
					}
					return true
				}() {
					t.Fatalf("n %d, byte %#x at %d: stopped at %d before a plain word", n, c, pos, end)
				}
			}
		}
	}
}

// TestDigits checks the integer parser against strconv on every length and
// the edges around 2^64.
func TestDigits(t *testing.T) {
	check := func(s string) {
		t.Helper()
		u, n, ok := digits([]byte(s))
		num := s
		for i, c := range s {
			if c < '0' || c > '9' {
				num = s[:i]
				break
			}
		}
		want, err := strconv.ParseUint(num, 10, 64)
		rest := s[len(num):]
		wantOK := err == nil && num != "" && (len(num) == 1 || num[0] != '0') &&
			(rest == "" || !strings.ContainsAny(rest[:1], ".eE"))
		if ok != wantOK || ok && (u != want || n != len(num)) {
			t.Errorf("%q: %d, %d, %v; want %d, %v", s, u, n, ok, want, wantOK)
		}
	}
	for n := 1; n <= 21; n++ {
		check(strings.Repeat("9", n))
		check("1" + strings.Repeat("0", n-1))
		check(strings.Repeat("1234567890", 3)[:n] + ",")
		check(strings.Repeat("8", n) + "}")
	}
	for _, s := range []string{"", "0", "00", "01", "0,", "0.5", "1e5", "12345678e", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "123456789012345678", "1234567890123456789", "12345678901234567890", "x", "-1", "12345678:"} {
		check(s)
	}
}

// BenchmarkLine decodes one typical line again and again: the fast path
// against the sonic path of the same Decoder.
func BenchmarkLine(b *testing.B) {
	evs := fastEvents(b)
	line := evs[1].AppendJSON(nil)
	var ev Event
	for _, c := range []struct {
		name string
		d    Decoder
	}{{"fast", Decoder{}}, {"sonic", Decoder{NoFastPath: true}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.d.Decode(line, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecoderTakesFastPath checks that Decoder itself sends canonical lines
// down the fast path (the sonic visitor never runs), with and without a
// registry, and that NoFastPath turns it off.
func TestDecoderTakesFastPath(t *testing.T) {
	reg := NewRegistry()
	if _, err := reg.RegisterFields(FieldDef{Path: "a.s", DataType: TypeString}, FieldDef{Path: "a.i", DataType: TypeI64},
		FieldDef{Path: "a.u", DataType: TypeU64}, FieldDef{Path: "a.b", DataType: TypeBool}, FieldDef{Path: "a.any"}); err != nil {
		t.Fatal(err)
	}
	evs := fastEvents(t)[:50] // the last one has field 9, unknown to reg
	for _, d := range []*Decoder{{}, {Registry: reg}} {
		for i := range evs {
			line := evs[i].AppendJSON(nil)
			var ev Event
			if err := d.Decode(line, &ev); err != nil {
				t.Fatal(err)
			}
			if d.v.ev != nil {
				t.Fatalf("registry %v: sonic decoded %s", d.Registry != nil, line)
			}
		}
	}
	d := &Decoder{NoFastPath: true}
	var ev Event
	if err := d.Decode(evs[0].AppendJSON(nil), &ev); err != nil || d.v.ev == nil {
		t.Fatalf("NoFastPath: %v, sonic ran: %v", err, d.v.ev != nil)
	}
}
