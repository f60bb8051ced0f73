package replay

import (
	"math/big"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

// TestFastLineTakes checks the lines recorders write take the fast path,
// in both shapes and both casings, so it is not silently bypassed.
func TestFastLineTakes(t *testing.T) {
	evs := GenerateEvents(41, 500, nil)
	evs = append(evs, build(t, 9, 1, 5, maxKey, fld(1, stringValue(`quote" back\ tab	nl
 slash/ é`)), fld(2, stringValue(""))))
	obj := strings.Split(strings.TrimSpace(string(encodeAll(t, evs, WriterOptions{}, false))), "\n")
	pairs := strings.Split(strings.TrimSpace(string(encodeAll(t, evs, WriterOptions{FieldsAsPairs: true}, false))), "\n")
	f := fastLine{maxFields: schema.DefaultMaxFields}
	for i := range evs {
		for _, l := range []string{obj[i], pairs[i], lowerVariants(obj[i])} {
			var ev schema.Event
			if !f.decode([]byte(l), &ev) {
				t.Fatalf("fast path refused %s", l)
			}
			if got := string(ev.AppendJSON(nil)); got != obj[i] {
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
		var ev schema.Event
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
	jsonSeeds(f)
	f.Add(`{"event_id":1,"event_type_id":1,"ts_mono_ns":1,"ts_wall_ns":1,"entity_key":340282366920938463463374607431768211455,"fields":[[1,{"i64":-9223372036854775808}],[2,{"string":"a\"\\\/\b\f\n\r\t"}]]}`)
	reg := DemoRegistry()
	fast := [2]fastLine{{maxFields: 8}, {maxFields: 8, reg: reg}}
	slow := [2]schema.Decoder{{MaxFields: 8}, {MaxFields: 8, Registry: reg}}
	f.Fuzz(func(t *testing.T, line string) {
		for i := range fast {
			var a, b schema.Event
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
		want, err := schema.ParseEntityKey(s[:p.pos])
		if err != nil || want != k {
			t.Fatalf("%q: fast %v, ParseEntityKey %v %v", s, k, want, err)
		}
		n, bok := new(big.Int).SetString(s[:p.pos], 10)
		if !bok || n.Cmp(max) >= 0 || n.String() != k.String() {
			t.Fatalf("%q: fast %v, big %v", s, k, n)
		}
	})
}
