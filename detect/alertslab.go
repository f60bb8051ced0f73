package detect

import (
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// alertSlab is where a worker builds its alerts: each one's Alert, event
// ids, fields, alert id and field strings are carved from chunks that
// hold many alerts' worth, so raising an alert allocates nothing but, now
// and then, a new chunk (about one allocation per 64 alerts; none for a
// chunk's other alerts).
//
// Ownership (sink.Output.Emit): an Alert handed over belongs to the
// Output with everything it references. The slab never writes or reuses
// memory it has handed out: it only carves the unused part of a chunk
// and drops a chunk once it is used up, leaving it to the garbage
// collector, which frees it when the last of its alerts is gone. The
// price is memory: an alert an Output keeps (a dedup window, a retry
// queue) keeps its chunk, up to about 40 KiB, alive.
type alertSlab struct {
	alerts []sink.Alert
	ids    []uint64
	fields []sink.AlertField
	bytes  []byte // alert ids and field strings, appended only
}

// Chunk sizes: alerts, event ids and fields for 64 alerts of a sequence
// of a few steps, and 16 KiB of strings (a command line is 100 to 1000
// bytes; a bigger value gets a chunk of its own size).
const (
	slabAlerts = 64
	slabIDs    = 4 * slabAlerts
	slabFields = 8 * slabAlerts
	slabBytes  = 16 << 10
)

// alert returns a zero Alert.
func (s *alertSlab) alert() *sink.Alert {
	if len(s.alerts) == 0 {
		s.alerts = make([]sink.Alert, slabAlerts)
	}
	a := &s.alerts[0]
	s.alerts = s.alerts[1:]
	return a
}

// eventIDs returns n event ids (zero), capacity n.
func (s *alertSlab) eventIDs(n int) []uint64 {
	if n > len(s.ids) {
		s.ids = make([]uint64, max(slabIDs, n))
	}
	x := s.ids[:n:n]
	s.ids = s.ids[n:]
	return x
}

// fieldList returns an empty list with room for n fields (appending past
// n reallocates, never touching a neighbour's).
func (s *alertSlab) fieldList(n int) []sink.AlertField {
	if n > len(s.fields) {
		s.fields = make([]sink.AlertField, max(slabFields, n))
	}
	x := s.fields[:0:n]
	s.fields = s.fields[n:]
	return x
}

// room makes sure the byte chunk has n bytes free.
func (s *alertSlab) room(n int) {
	if cap(s.bytes)-len(s.bytes) < n {
		s.bytes = make([]byte, 0, max(slabBytes, n))
	}
}

// own returns v with its string or bytes copied into the slab (the event's
// may point into a decoder's block, which an alert must not pin); an
// array is copied to the heap (ownValue).
func (s *alertSlab) own(v value.Value) value.Value {
	switch v.Kind() {
	case value.KindString, value.KindBytes:
		s.room(payloadLen(v))
		s.bytes, v = ownInto(s.bytes, v)
		return v
	case value.KindArray:
		return ownValue(v)
	}
	return v
}

// alertID returns sink.NewAlertID(ruleID, ids), its text in the slab.
func (s *alertSlab) alertID(ruleID string, ids []uint64) string {
	s.room(32)
	start := len(s.bytes)
	s.bytes = sink.AppendAlertID(s.bytes, ruleID, ids)
	return slabString(s.bytes[start:])
}
