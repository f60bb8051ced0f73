package schema

import (
	"errors"
	"strconv"
	"sync/atomic"
)

// ErrUnmappedEventType: Mapping.Apply met an event whose type the local
// registry has no counterpart for; the event is refused, not rewritten.
var ErrUnmappedEventType = errors.New("schema: event type not mapped to the local schema")

// MappingOptions configures NewMapping. The zero value maps every path to
// the same path.
type MappingOptions struct {
	// Namespace, such as "vendor.acme", keeps one source's fields apart
	// from the local ones of the same path: a remote field p maps to the
	// local field Namespace+"."+p when the local registry has it, and to p
	// otherwise. A remote field already under the namespace maps to its own
	// path. Event type names are mapped the same way.
	Namespace string
}

// Refusal is a remote field or event type that a Mapping cannot carry
// into the local schema, with why, and how often Apply met it.
type Refusal struct {
	// Field is the remote field ID (0 for an event type), EventType the
	// remote event type ID (0 for a field), Path the remote path or name.
	Field     FieldID
	EventType EventTypeID
	Path      string
	// Reason says why it is refused.
	Reason string
	// Count is how many fields (or events) Apply dropped for it so far.
	Count uint64
}

// MappingStats counts what Apply did.
type MappingStats struct {
	// Events is the number of events Apply was given; Refused those it
	// refused (ErrUnmappedEventType).
	Events, Refused uint64
	// DroppedFields is the number of fields Apply removed from events:
	// refused fields, IDs the remote schema does not hold, and values the
	// local type does not accept.
	DroppedFields uint64
}

// Mapping rewrites events recorded under a remote schema into the IDs of a
// local one. It is built once, matching every remote field and event type
// by path or name, into tables indexed by remote ID, so Apply looks nothing
// up by path and allocates nothing. A remote field whose local type is not
// Any and differs from the remote one is mapped with a per-value Coerce;
// values it refuses are dropped and counted.
//
// A Mapping is safe for concurrent use by several goroutines.
type Mapping struct {
	fields []FieldID       // remote id -> local id; 0: refused
	coerce []FieldDataType // remote id -> local type to coerce to; TypeAny: none
	types  []EventTypeID   // remote id -> local id; 0: refused

	fieldDrops []atomic.Uint64 // per remote field id, and [0] for unknown ids
	typeDrops  []atomic.Uint64 // per remote event type id, and [0] for unknown ids

	events, refused, dropped atomic.Uint64

	refusals []Refusal  // built once; Count filled in by Refusals
	rfields  []FieldDef // the remote snapshot's fields, for names

	remoteID      string
	remoteVersion uint32
}

// NewMapping builds the mapping from remote to local as both registries
// stand now. Remote fields and event types without a local counterpart,
// or whose types cannot convert, are refused (see Refusals); that is not
// an error, since a node may want only part of a sensor's fields. It fails
// on a nil registry or an invalid Namespace (ErrInvalidPath).
func NewMapping(remote, local *Registry, opts MappingOptions) (*Mapping, error) {
	if remote == nil || local == nil {
		return nil, &PathError{Path: "", Err: ErrInvalidPath, Detail: "nil registry given to NewMapping"}
	}
	if opts.Namespace != "" {
		if err := validPath(opts.Namespace, true); err != nil {
			return nil, err
		}
	}
	rs, ls := remote.load(), local.load()
	m := &Mapping{
		fields:        make([]FieldID, len(rs.fields)+1),
		coerce:        make([]FieldDataType, len(rs.fields)+1),
		types:         make([]EventTypeID, len(rs.types)+1),
		fieldDrops:    make([]atomic.Uint64, len(rs.fields)+1),
		typeDrops:     make([]atomic.Uint64, len(rs.types)+1),
		rfields:       rs.fields,
		remoteID:      rs.id,
		remoteVersion: rs.schemaVersion,
	}
	lf := uint32(len(ls.fields))
	target := func(t *table, name string, limit uint32) (uint32, string, bool) {
		if ns := opts.Namespace; ns != "" && !(len(name) > len(ns) && name[len(ns)] == '.' && name[:len(ns)] == ns) {
			if id, ok := t.lookup(ns+"."+name, limit); ok {
				return id, ns + "." + name, true
			}
		}
		id, ok := t.lookup(name, limit)
		return id, name, ok
	}
	taken := make(map[FieldID]FieldID) // local id -> remote id mapped to it
	for i, rf := range rs.fields {
		rid := FieldID(i + 1)
		refuse := func(reason string) {
			m.refusals = append(m.refusals, Refusal{Field: rid, Path: rf.Path, Reason: reason})
		}
		id, path, ok := target(ls.paths, rf.Path, lf)
		if !ok {
			refuse("no local field " + path)
			continue
		}
		lid := FieldID(id)
		if other, dup := taken[lid]; dup {
			refuse("local field " + path + " is already the target of remote field " + rs.fields[other-1].Path)
			continue
		}
		lt := ls.fields[id-1].DataType
		switch {
		case lt == TypeAny || lt == rf.DataType || rf.DataType.Base() == lt:
		case convertible(rf.DataType.Base(), lt.Base()) || rf.DataType.Base() == lt.Base():
			m.coerce[rid] = lt // a plugin type validates each value
		default:
			refuse("remote type " + rf.DataType.String() + ", local field " + path + " is " + lt.String())
			continue
		}
		taken[lid] = rid
		m.fields[rid] = lid
	}
	lt := uint32(len(ls.types))
	for i, name := range rs.types {
		id, local, ok := target(ls.names, name, lt)
		if !ok {
			m.refusals = append(m.refusals, Refusal{EventType: EventTypeID(i + 1), Path: name, Reason: "no local event type " + local})
			continue
		}
		m.types[i+1] = EventTypeID(id)
	}
	return m, nil
}

// convertible reports whether Coerce may turn some values of type from
// into type to: between the numeric types, and from Any to anything.
func convertible(from, to FieldDataType) bool {
	num := func(t FieldDataType) bool { return t == TypeI64 || t == TypeU64 || t == TypeF64 }
	return from == TypeAny || (num(from) && num(to) && to != from && from != TypeF64)
}

// Remote returns the remote schema's id and version, as its registry
// stated them when the mapping was built.
func (m *Mapping) Remote() (id string, version uint32) { return m.remoteID, m.remoteVersion }

// Field returns the local ID remote field id maps to, false when refused.
func (m *Mapping) Field(id FieldID) (FieldID, bool) {
	if uint64(id) >= uint64(len(m.fields)) || m.fields[id] == 0 {
		return 0, false
	}
	return m.fields[id], true
}

// EventType returns the local ID remote event type id maps to, false when
// refused.
func (m *Mapping) EventType(id EventTypeID) (EventTypeID, bool) {
	if int(id) >= len(m.types) || m.types[id] == 0 {
		return 0, false
	}
	return m.types[id], true
}

// Apply rewrites ev, recorded under the remote schema, in place into the
// local schema's IDs, keeping its fields sorted: refused fields, field IDs
// the remote schema does not hold and values the local type refuses are
// dropped and counted. An event of a refused event type is left as it was
// and Apply returns ErrUnmappedEventType (counted too). Apply allocates
// nothing.
func (m *Mapping) Apply(ev *Event) error {
	m.events.Add(1)
	if int(ev.Type) >= len(m.types) || m.types[ev.Type] == 0 {
		i := int(ev.Type)
		if i >= len(m.typeDrops) {
			i = 0
		}
		m.typeDrops[i].Add(1)
		m.refused.Add(1)
		return ErrUnmappedEventType
	}
	ev.Type = m.types[ev.Type]
	fs := ev.Fields()
	n, sorted, prev := 0, true, FieldID(0)
	for i := range fs {
		rid := fs[i].ID
		if uint64(rid) >= uint64(len(m.fields)) || m.fields[rid] == 0 {
			m.drop(rid)
			continue
		}
		v := fs[i].Value
		if t := m.coerce[rid]; t != TypeAny {
			var ok bool
			if v, ok = t.coerce(v); !ok {
				m.drop(rid)
				continue
			}
		}
		lid := m.fields[rid]
		fs[n] = Field{ID: lid, Value: v}
		if lid < prev {
			sorted = false
		}
		prev = lid
		n++
	}
	if n < len(fs) {
		clear(fs[n:])
		ev.truncate(n)
		fs = fs[:n]
	}
	if !sorted {
		// Insertion sort: few fields, mostly in order, and no allocation.
		for i := 1; i < len(fs); i++ {
			for j := i; j > 0 && fs[j].ID < fs[j-1].ID; j-- {
				fs[j], fs[j-1] = fs[j-1], fs[j]
			}
		}
	}
	return nil
}

func (m *Mapping) drop(rid FieldID) {
	i := uint64(rid)
	if i >= uint64(len(m.fieldDrops)) {
		i = 0
	}
	m.fieldDrops[i].Add(1)
	m.dropped.Add(1)
}

// truncate keeps the first n fields, moving them back inside the Event
// when they fit there again.
func (e *Event) truncate(n int) {
	if !e.spilled {
		e.nInline = uint8(n)
		return
	}
	if n > InlineFields {
		e.spill = e.spill[:n]
		return
	}
	copy(e.inline[:], e.spill[:n])
	clear(e.spill[:n])
	e.spill = e.spill[:0]
	e.nInline = uint8(n)
	e.spilled = false
}

// Stats returns what Apply did so far.
func (m *Mapping) Stats() MappingStats {
	return MappingStats{Events: m.events.Load(), Refused: m.refused.Load(), DroppedFields: m.dropped.Load()}
}

// Refusals returns every remote field and event type the mapping refuses,
// with the reason and how often Apply met it, fields first, by ID; then,
// when Apply met IDs the remote schema does not hold, one entry each for
// unknown fields and unknown event types.
func (m *Mapping) Refusals() []Refusal {
	out := make([]Refusal, len(m.refusals), len(m.refusals)+2)
	copy(out, m.refusals)
	for i := range out {
		if out[i].Field != 0 {
			out[i].Count = m.fieldDrops[out[i].Field].Load()
		} else {
			out[i].Count = m.typeDrops[out[i].EventType].Load()
		}
	}
	for rid, t := range m.coerce {
		if t != TypeAny {
			if c := m.fieldDrops[rid].Load(); c > 0 {
				p := m.rfields[rid-1].Path
				out = append(out, Refusal{Field: FieldID(rid), Path: p, Reason: "values of " + p + " the local type " + t.String() + " does not accept", Count: c})
			}
		}
	}
	if c := m.fieldDrops[0].Load(); c > 0 {
		out = append(out, Refusal{Reason: "field ids the remote schema does not hold (up to " + strconv.Itoa(len(m.fields)-1) + ")", Count: c})
	}
	if c := m.typeDrops[0].Load(); c > 0 {
		out = append(out, Refusal{Reason: "event type ids the remote schema does not hold (up to " + strconv.Itoa(len(m.types)-1) + ")", Count: c})
	}
	return out
}
