package schema

import "github.com/kestrel-sec/kestrel/value"

// InlineFields is how many fields an Event holds without a separate
// allocation. Typical sensor events carry 6 to 10 fields.
const InlineFields = 8

// Field is one field of an event.
type Field struct {
	ID    FieldID
	Value value.Value
}

// Event is one sensor event. Its fields are kept sorted by FieldID, with no
// duplicates: inside the Event when there are at most InlineFields of them,
// otherwise all together in a separate slice. Build events with a Builder or
// decode them with a Decoder, which keep the ordering invariant.
//
// An Event is copied with CopyFrom; a plain assignment shares the spilled
// fields slice, if any.
type Event struct {
	// ID is the event's id (event_id), unique per sensor.
	ID uint64
	// Type is the event type (event_type_id).
	Type EventTypeID
	// nInline is the number of fields in inline, when spill is nil.
	nInline uint8
	// spilled says the fields live in spill (beside nInline and Type, in
	// the word ID leaves, so the Event is 264 bytes, not 272).
	spilled bool
	// TsMono is the monotonic time of the event (ts_mono_ns).
	TsMono TimestampMono
	// TsWall is the wall-clock time of the event (ts_wall_ns).
	TsWall TimestampWall
	// Entity is the key the bus shards by (entity_key).
	Entity EntityKey
	inline [InlineFields]Field
	// spill holds all fields when there are more than InlineFields; its
	// capacity is kept across Reset for reuse.
	spill []Field
}

// Fields returns the event's fields sorted by ID. The slice shares memory
// with e: do not modify it, and do not keep it past e's next change.
func (e *Event) Fields() []Field {
	if e.spilled {
		return e.spill
	}
	return e.inline[:e.nInline]
}

// NumFields returns the number of fields.
func (e *Event) NumFields() int {
	if e.spilled {
		return len(e.spill)
	}
	return int(e.nInline)
}

// Get returns the value of field id.
func (e *Event) Get(id FieldID) (value.Value, bool) {
	fs := e.Fields()
	if len(fs) <= InlineFields {
		for i := range fs {
			if fs[i].ID == id {
				return fs[i].Value, true
			}
			if fs[i].ID > id {
				break
			}
		}
		return value.Value{}, false
	}
	lo, hi := 0, len(fs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if fs[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(fs) && fs[lo].ID == id {
		return fs[lo].Value, true
	}
	return value.Value{}, false
}

// Reset clears e for reuse, keeping the capacity of its spill slice.
func (e *Event) Reset() {
	spill := e.spill
	clear(spill)
	*e = Event{spill: spill[:0]}
}

// CopyFrom makes e a copy of src that shares no field storage with it, so
// the caller may reuse src at once. It reuses e's spill capacity and
// allocates only when src has more fields than e has room for. Field values
// themselves are copied as Values: String data is immutable, while Bytes and
// Array payloads are shared (see value.BytesValue).
func (e *Event) CopyFrom(src *Event) {
	spill := e.spill
	e.ID, e.Type, e.TsMono, e.TsWall, e.Entity = src.ID, src.Type, src.TsMono, src.TsWall, src.Entity
	if !src.spilled {
		e.inline = src.inline
		e.nInline = src.nInline
		e.spilled = false
		if len(spill) > 0 {
			clear(spill)
		}
		e.spill = spill[:0]
		return
	}
	clear(e.inline[:e.nInline])
	e.nInline = 0
	e.spill = append(spillRoom(spill, len(src.spill)), src.spill...)
	e.spilled = true
}

// spillRoom returns s emptied, with room for n fields: s itself when it has
// the capacity, else a new array of the first power of two from
// 2*InlineFields up that holds n. Spill storage is reused across events of
// varying sizes (a bus slot's, a producer's own Event), so growing it only
// to the exact size would reallocate each time a slightly larger event came;
// with the headroom it settles after a few growths.
func spillRoom(s []Field, n int) []Field {
	if cap(s) >= n {
		return s[:0]
	}
	c := 2 * InlineFields
	for c < n {
		c *= 2
	}
	return make([]Field, 0, c)
}

// MoveTo makes dst hold e's event and leaves e empty, as after Reset, with
// dst's former field storage as its spare capacity. Where CopyFrom copies
// every field, MoveTo copies only the fields e holds inline and hands a
// spilled event's field array (more than InlineFields fields, as most ECS
// events have) to dst as it is: for a producer that builds each event in
// its own Event and gives it away, such as into a bus slot
// (engine.Bus.PublishMove), nothing of the fields is read or written again.
// Neither the storage e gets back nor dst's unused inline slots are cleared:
// their stale values are overwritten as the event is filled again (they keep
// the strings they reference reachable until then). MoveTo allocates
// nothing; e.MoveTo(e) empties e.
func (e *Event) MoveTo(dst *Event) {
	if dst == e {
		e.Reset()
		return
	}
	dst.ID, dst.Type, dst.TsMono, dst.TsWall, dst.Entity = e.ID, e.Type, e.TsMono, e.TsWall, e.Entity
	spare := e.spill[:0]
	if e.spilled {
		dst.nInline = 0 // its stale inline values are overwritten as it is filled again
		spare = dst.spill[:0]
		dst.spill, dst.spilled = e.spill, true
	} else {
		n := e.nInline
		copy(dst.inline[:n], e.inline[:n]) // only the lines the fields use
		dst.nInline = n
		dst.spilled = false
		dst.spill = dst.spill[:0]
	}
	e.ID, e.Type, e.TsMono, e.TsWall, e.Entity = 0, 0, 0, 0, EntityKey{}
	e.nInline, e.spilled, e.spill = 0, false, spare
}

// Add sets field id to v in place, keeping the fields sorted, and reports a
// *FieldError matching ErrUnknownField for id 0 or ErrDuplicateEventField
// when e already has id. It checks nothing against a Registry (the Builder
// does): it is for filling an event where it lives, such as a bus slot
// claimed with engine.Bus.Claim, from values already of the field's type.
// It allocates only when e grows past InlineFields fields beyond the spill
// capacity it kept from earlier use.
func (e *Event) Add(id FieldID, v value.Value) error {
	if id == 0 {
		return &FieldError{Field: id, Err: ErrUnknownField}
	}
	if !e.insert(Field{ID: id, Value: v}) {
		return &FieldError{Field: id, Err: ErrDuplicateEventField}
	}
	return nil
}

// insert adds f keeping the fields sorted; false when f.ID is present.
func (e *Event) insert(f Field) bool {
	fs := e.Fields()
	// Fast path: fields usually arrive in ID order.
	i := len(fs)
	if i > 0 && fs[i-1].ID >= f.ID {
		i = 0
		for i < len(fs) && fs[i].ID < f.ID {
			i++
		}
		if i < len(fs) && fs[i].ID == f.ID {
			return false
		}
	}
	if !e.spilled && int(e.nInline) < InlineFields {
		n := int(e.nInline)
		copy(e.inline[i+1:n+1], e.inline[i:n])
		e.inline[i] = f
		e.nInline++
		return true
	}
	if !e.spilled {
		e.spill = append(spillRoom(e.spill, InlineFields+1), e.inline[:e.nInline]...)
		clear(e.inline[:])
		e.nInline = 0
		e.spilled = true
	}
	e.spill = append(e.spill, Field{})
	copy(e.spill[i+1:], e.spill[i:])
	e.spill[i] = f
	return true
}
