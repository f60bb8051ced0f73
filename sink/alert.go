package sink

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/zeebo/xxh3"

	"github.com/kestrel-sec/kestrel/internal/valuejson"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// AlertField is one field of an alert, by path ("process.pid").
type AlertField struct {
	Path  string      // the field's path, unique within an alert
	Value value.Value // written in value's JSON form
}

// FieldsForm says how an alert's fields are written.
type FieldsForm uint8

// The fields forms.
const (
	// FieldsTagged writes each value in value's tagged JSON form,
	// {"process.name":{"String":"bash"}}, which reads back exactly (the
	// default, and the original Kestrel's form).
	FieldsTagged FieldsForm = iota
	// FieldsFlat writes ECS-flat plain JSON, {"process.name":"bash",
	// "process.pid":42}, which a SIEM indexes as it is: Null as null,
	// numbers as numbers, Bytes as a base64 string, Arrays as arrays.
	FieldsFlat
)

// String returns "tagged" or "flat".
func (f FieldsForm) String() string {
	if f == FieldsFlat {
		return "flat"
	}
	if f == FieldsTagged {
		return "tagged"
	}
	return "FieldsForm(" + strconv.Itoa(int(f)) + ")"
}

// ParseFieldsForm reads "tagged" or "flat" ("ecs" is flat too); "" is
// tagged.
func ParseFieldsForm(s string) (FieldsForm, error) {
	switch s {
	case "", "tagged":
		return FieldsTagged, nil
	case "flat", "ecs":
		return FieldsFlat, nil
	}
	return 0, fmt.Errorf("sink: unknown fields form %q (want tagged or flat)", s)
}

// Alert is what a rule produces and an Output delivers.
//
// Ownership: an Alert handed to Output.Emit belongs to the Output from then
// on (see Emit); the Values in Fields may reference memory (strings, bytes)
// that must stay unchanged for as long as the Alert lives. A producer that
// reuses its alerts gives each one a Recycler (SetRecycler), which gets it
// back once the Output is done with it (see Recycler).
type Alert struct {
	ID       string               // alert_id: NewAlertID(RuleID, EventIDs)
	RuleID   string               // rule_id
	RuleName string               // rule_name
	Severity schema.Severity      // severity
	Tags     []string             // tags
	TsMono   schema.TimestampMono // ts_mono_ns
	TsWall   schema.TimestampWall // ts_wall_ns; "time" is derived from it
	Entity   schema.EntityKey     // entity_key
	EventIDs []uint64             // event_ids: triggering event ids, in order
	Message  string               // message
	Fields   []AlertField         // fields, written in slice order; keep paths unique

	// Suppressed is how many alerts with the same deduplication key were
	// suppressed in the window before this one (see DedupConfig); written as
	// "suppressed_count" only when non-zero. Set by the Output's dedup stage.
	Suppressed uint64

	// Form is how AppendJSON writes Fields; Output.Emit sets it from
	// Config.Fields when that is not the default. UnmarshalJSON sets it to
	// FieldsFlat when it reads a plain value.
	Form FieldsForm

	recycler Recycler // where Release hands the alert back; nil: nowhere (recycle.go)
	others   int32    // holders besides one that have yet to Release it (atomic once shared)
}

// NewAlertID returns the deterministic id of the alert that rule ruleID
// raised on eventIDs: 32 lowercase hex digits of the XXH3-128 hash of
//
//	len(ruleID) as 8 bytes little-endian, ruleID, then each event id as 8
//	bytes little-endian, in order.
//
// The length prefix keeps ("a", [x]) and ("a\x00...", []) apart. The same
// rule on the same events gets the same id in every run and process, so
// downstream systems can deduplicate replays.
func NewAlertID(ruleID string, eventIDs []uint64) string {
	var out [32]byte
	return string(AppendAlertID(out[:0], ruleID, eventIDs))
}

// AppendAlertID appends NewAlertID(ruleID, eventIDs), its 32 hex digits,
// to dst; it allocates nothing when dst has room for them (and the hashed
// input, the rule id and 8 bytes per event id, fits in 248 bytes).
func AppendAlertID(dst []byte, ruleID string, eventIDs []uint64) []byte {
	var stack [256]byte
	b := stack[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ruleID)))
	b = append(b, ruleID...)
	for _, id := range eventIDs {
		b = binary.LittleEndian.AppendUint64(b, id)
	}
	sum := xxh3.Hash128(b)
	return appendHex128(dst, sum.Hi, sum.Lo)
}

// appendHex128 appends the 32 lowercase hex digits of hi then lo, most
// significant first: hex.AppendEncode of their big-endian bytes, written
// eight digits at a time (an alert id is built per alert, where a byte
// loop cost as much as the hash).
func appendHex128(dst []byte, hi, lo uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, hexDigits(uint32(hi>>32)))
	dst = binary.BigEndian.AppendUint64(dst, hexDigits(uint32(hi)))
	dst = binary.BigEndian.AppendUint64(dst, hexDigits(uint32(lo>>32)))
	return binary.BigEndian.AppendUint64(dst, hexDigits(uint32(lo)))
}

// hexDigits returns the eight hex digits of v, the digit of nibble k in
// byte k (so the most significant is the highest byte): the nibbles are
// spread one to a byte, then each gets '0', and 'a'-'0'-10 more when
// above 9.
func hexDigits(v uint32) uint64 {
	n := uint64(v)
	n = (n | n<<16) & 0x0000ffff0000ffff
	n = (n | n<<8) & 0x00ff00ff00ff00ff
	n = (n | n<<4) & 0x0f0f0f0f0f0f0f0f
	above9 := (n + 0x0606060606060606) >> 4 & 0x0101010101010101
	return n + 0x3030303030303030 + above9*('a'-'0'-10)
}

// AppendJSON appends the alert's JSON form to dst, on one line, keys in this
// order (suppressed_count only when non-zero):
//
//	{"alert_id":"…","rule_id":"…","rule_name":"…","severity":"high","tags":["…"],
//	 "ts_mono_ns":1,"ts_wall_ns":1,"time":"1970-01-01T00:00:00.000000001Z",
//	 "entity_key":340282366920938463463374607431768211455,"event_ids":[1,2],
//	 "message":"…","fields":{"process.pid":{"U64":1}},"suppressed_count":3}
//
// time is ts_wall_ns in RFC 3339 UTC with all nine fraction digits. nil Tags,
// EventIDs and Fields are written as [] and {}. An out-of-range Severity is
// written as its String form, so AppendJSON never fails.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"alert_id":`...)
	dst = valuejson.AppendQuoted(dst, a.ID)
	dst = append(dst, `,"rule_id":`...)
	dst = valuejson.AppendQuoted(dst, a.RuleID)
	dst = append(dst, `,"rule_name":`...)
	dst = valuejson.AppendQuoted(dst, a.RuleName)
	dst = append(dst, `,"severity":`...)
	dst = valuejson.AppendQuoted(dst, a.Severity.String())
	dst = append(dst, `,"tags":[`...)
	for i, t := range a.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = valuejson.AppendQuoted(dst, t)
	}
	dst = append(dst, `],"ts_mono_ns":`...)
	dst = strconv.AppendUint(dst, uint64(a.TsMono), 10)
	dst = append(dst, `,"ts_wall_ns":`...)
	dst = strconv.AppendUint(dst, uint64(a.TsWall), 10)
	dst = append(dst, `,"time":"`...)
	dst = appendWallTime(dst, a.TsWall)
	dst = append(dst, `","entity_key":`...)
	dst = a.Entity.AppendDecimal(dst)
	dst = append(dst, `,"event_ids":[`...)
	for i, id := range a.EventIDs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, id, 10)
	}
	dst = append(dst, `],"message":`...)
	dst = valuejson.AppendQuoted(dst, a.Message)
	dst = append(dst, `,"fields":{`...)
	for i, f := range a.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = valuejson.AppendQuoted(dst, f.Path)
		dst = append(dst, ':')
		if a.Form == FieldsFlat {
			dst = appendFlat(dst, f.Value)
		} else {
			dst = f.Value.AppendJSON(dst)
		}
	}
	dst = append(dst, '}')
	if a.Suppressed > 0 {
		dst = append(dst, `,"suppressed_count":`...)
		dst = strconv.AppendUint(dst, a.Suppressed, 10)
	}
	return append(dst, '}')
}

// appendFlat appends v as plain JSON (see FieldsFlat).
func appendFlat(dst []byte, v value.Value) []byte {
	switch v.Kind() {
	case value.KindNull:
		return append(dst, "null"...)
	case value.KindF64:
		if x, _ := v.F64(); math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
		return v.AppendText(dst)
	case value.KindI64, value.KindU64, value.KindBool:
		return v.AppendText(dst)
	case value.KindString:
		s, _ := v.Str()
		return valuejson.AppendQuoted(dst, s)
	case value.KindBytes:
		b, _ := v.Bytes()
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"')
	case value.KindArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFlat(dst, e)
		}
		return append(dst, ']')
	}
	return valuejson.AppendQuoted(dst, v.String())
}

// appendWallTime formats ts as RFC 3339 in UTC with all nine fraction
// digits ("2026-01-01T00:16:52.500000123Z"), so every "time" has the same
// width. It covers the whole uint64 range (to the year 2554).
func appendWallTime(dst []byte, ts schema.TimestampWall) []byte {
	return appendUTC(dst, uint64(ts), 9)
}

// appendUTC writes ns since the Unix epoch as RFC 3339 in UTC with digits
// (1 to 9) fraction digits, truncated. It is time.Time.AppendFormat's
// result without its cost (a third of an alert's encoding): the civil date
// comes from Howard Hinnant's days_from_civil inverse.
func appendUTC(dst []byte, ns uint64, digits int) []byte {
	secs, frac := ns/1e9, ns%1e9
	days, sod := secs/86400, secs%86400
	// civil_from_days, for days >= 0 (1970-01-01 on).
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	var b [30]byte
	b[0] = byte('0' + y/1000)
	b[1] = byte('0' + y/100%10)
	b[2] = byte('0' + y/10%10)
	b[3] = byte('0' + y%10)
	b[4] = '-'
	b[5], b[6] = byte('0'+m/10), byte('0'+m%10)
	b[7] = '-'
	b[8], b[9] = byte('0'+d/10), byte('0'+d%10)
	b[10] = 'T'
	h, mi, se := sod/3600, sod/60%60, sod%60
	b[11], b[12] = byte('0'+h/10), byte('0'+h%10)
	b[13] = ':'
	b[14], b[15] = byte('0'+mi/10), byte('0'+mi%10)
	b[16] = ':'
	b[17], b[18] = byte('0'+se/10), byte('0'+se%10)
	b[19] = '.'
	for i := 28; i >= 20; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 20 + digits
	b[n] = 'Z'
	return append(dst, b[:n+1]...)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a *Alert) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }

// alertJSON is the decoding form of an Alert. It is meant for tests and
// tools, not for the hot path; "time" is read and ignored (ts_wall_ns is
// authoritative).
type alertJSON struct {
	ID         *string         `json:"alert_id"`
	RuleID     string          `json:"rule_id"`
	RuleName   string          `json:"rule_name"`
	Severity   schema.Severity `json:"severity"`
	Tags       []string        `json:"tags"`
	TsMono     uint64          `json:"ts_mono_ns"`
	TsWall     uint64          `json:"ts_wall_ns"`
	Time       string          `json:"time"`
	Entity     json.Number     `json:"entity_key"`
	EventIDs   []uint64        `json:"event_ids"`
	Message    string          `json:"message"`
	Fields     json.RawMessage `json:"fields"`
	Suppressed uint64          `json:"suppressed_count"`
}

// ErrInvalidAlert is matched (errors.Is) by every error of Alert.UnmarshalJSON.
var ErrInvalidAlert = errors.New("sink: invalid alert JSON")

// UnmarshalJSON decodes the form AppendJSON writes, keeping the order of
// fields. Strings are copied out of data. Unknown keys are ignored.
func (a *Alert) UnmarshalJSON(data []byte) error {
	var j alertJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidAlert, err)
	}
	if j.ID == nil {
		return fmt.Errorf("%w: missing alert_id", ErrInvalidAlert)
	}
	var key schema.EntityKey
	if j.Entity != "" {
		k, err := schema.ParseEntityKey(string(j.Entity))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidAlert, err)
		}
		key = k
	}
	fields, form, err := decodeFields(j.Fields)
	if err != nil {
		return err
	}
	*a = Alert{
		ID: *j.ID, RuleID: j.RuleID, RuleName: j.RuleName, Severity: j.Severity,
		Tags: j.Tags, TsMono: schema.TimestampMono(j.TsMono), TsWall: schema.TimestampWall(j.TsWall),
		Entity: key, EventIDs: j.EventIDs, Message: j.Message, Fields: fields,
		Suppressed: j.Suppressed, Form: form,
	}
	return nil
}

// decodeFields reads the "fields" object in order, in either form: a
// value that is an object or "Null" is tagged, anything else plain (flat;
// integers read as I64, else U64, else F64). It reports FieldsFlat when it
// met a plain value.
func decodeFields(raw json.RawMessage) ([]AlertField, FieldsForm, error) {
	form := FieldsTagged
	if len(raw) == 0 || string(raw) == "null" {
		return nil, form, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, form, fmt.Errorf("%w: fields is not an object", ErrInvalidAlert)
	}
	var out []AlertField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, form, fmt.Errorf("%w: fields: %w", ErrInvalidAlert, err)
		}
		path, _ := tok.(string)
		var rv json.RawMessage
		if err := dec.Decode(&rv); err != nil {
			return nil, form, fmt.Errorf("%w: field %q: %w", ErrInvalidAlert, path, err)
		}
		var v value.Value
		if rv[0] == '{' || string(rv) == `"Null"` {
			err = json.Unmarshal(rv, &v)
		} else {
			form = FieldsFlat
			v, err = plainValue(rv)
		}
		if err != nil {
			return nil, form, fmt.Errorf("%w: field %q: %w", ErrInvalidAlert, path, err)
		}
		out = append(out, AlertField{Path: path, Value: v})
	}
	return out, form, nil
}

// plainValue reads a flat field's plain JSON value.
func plainValue(raw json.RawMessage) (value.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return value.Value{}, err
	}
	return plainOf(x)
}

func plainOf(x any) (value.Value, error) {
	switch x := x.(type) {
	case nil:
		return value.NullValue(), nil
	case bool:
		return value.BoolValue(x), nil
	case string:
		return value.StringValue(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return value.I64Value(i), nil
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return value.U64Value(u), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return value.Value{}, fmt.Errorf("number %s out of range", x)
		}
		return value.F64Value(f), nil
	case []any:
		vs := make([]value.Value, len(x))
		for i, e := range x {
			v, err := plainOf(e)
			if err != nil {
				return value.Value{}, err
			}
			vs[i] = v
		}
		return value.ArrayValue(vs...), nil
	}
	return value.Value{}, errors.New("an object inside a flat value")
}
