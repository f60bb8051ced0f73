package schema

import (
	"errors"
	"strconv"
	"strings"
)

// ChangeKind classifies one difference between an old and a new schema.
// Kinds below ChangeFieldRemoved are compatible: events recorded, and rules
// compiled, under the old schema mean the same under the new one. The rest
// are breaking.
type ChangeKind uint8

// The change kinds.
const (
	// ChangeFieldAdded: a new field, at an ID the old schema did not use.
	ChangeFieldAdded ChangeKind = iota + 1
	// ChangeEventTypeAdded: a new event type, at an unused ID.
	ChangeEventTypeAdded
	// ChangeTypeWidened: a field's type now accepts every value the old one
	// did: a change to TypeAny, or from a plugin type to its base type (the
	// coercions of FieldDataType.Coerce between numeric types are partial,
	// so they are narrowings).
	ChangeTypeWidened
	// ChangeDescription: only a field's description changed.
	ChangeDescription
	// ChangeVersionRaised: the schema's own version went up.
	ChangeVersionRaised

	// ChangeFieldRemoved: a field ID, and its path, are gone.
	ChangeFieldRemoved
	// ChangeFieldIDReused: an ID now names another path.
	ChangeFieldIDReused
	// ChangeFieldRenumbered: a path moved to another ID.
	ChangeFieldRenumbered
	// ChangeTypeNarrowed: a field's type no longer accepts every value the
	// old type did.
	ChangeTypeNarrowed
	// ChangeFieldToGroup: a field's path is now a group of other fields.
	ChangeFieldToGroup
	// ChangeEventTypeRemoved: an event type ID, and its name, are gone.
	ChangeEventTypeRemoved
	// ChangeEventTypeIDReused: an event type ID now names another type.
	ChangeEventTypeIDReused
	// ChangeEventTypeRenumbered: an event type name moved to another ID.
	ChangeEventTypeRenumbered
	// ChangeVersionLowered: the schema's own version went down.
	ChangeVersionLowered
	// ChangeSchemaID: the schemas have different ids: another schema, not
	// a later version of the same one.
	ChangeSchemaID
)

var changeNames = [...]string{"", "field added", "event type added", "type widened", "description changed",
	"version raised", "field removed", "field id reused", "field renumbered", "type narrowed",
	"field became a group", "event type removed", "event type id reused", "event type renumbered",
	"version lowered", "schema id changed"}

// String returns the kind in words, such as "field removed".
func (k ChangeKind) String() string {
	if int(k) < len(changeNames) && k != 0 {
		return changeNames[k]
	}
	return "ChangeKind(" + strconv.Itoa(int(k)) + ")"
}

// Breaking reports whether a change of this kind breaks readers of the old
// schema: recorded logs or compiled rules would read another field, another
// type or nothing.
func (k ChangeKind) Breaking() bool { return k >= ChangeFieldRemoved }

// Change is one difference between two schemas.
type Change struct {
	Kind ChangeKind
	// Field is the field ID concerned (0 for an event type change), Path
	// its old path (the new one for an added field) and NewPath its path in
	// the new schema when that differs ("" when gone).
	Field   FieldID
	Path    string
	NewPath string
	// OldType and NewType are the field's types (type changes).
	OldType, NewType FieldDataType
	// EventType is the event type ID concerned (0 for a field change) and
	// Name its old name (the new one when added).
	EventType EventTypeID
	Name      string
	// Reason says what changed and why it is, or is not, compatible.
	Reason string
}

// String returns "breaking: field removed: ..." or "ok: field added: ...".
func (c Change) String() string {
	verdict := "ok"
	if c.Kind.Breaking() {
		verdict = "breaking"
	}
	return verdict + ": " + c.Kind.String() + ": " + c.Reason
}

// Report lists every difference between two schemas, fields by ID first,
// then event types by ID, then the schemas' ids and versions.
type Report struct {
	Changes []Change
}

// Compatible reports whether no change is breaking.
func (r Report) Compatible() bool {
	for _, c := range r.Changes {
		if c.Kind.Breaking() {
			return false
		}
	}
	return true
}

// Breaking returns the breaking changes.
func (r Report) Breaking() []Change {
	var out []Change
	for _, c := range r.Changes {
		if c.Kind.Breaking() {
			out = append(out, c)
		}
	}
	return out
}

// String returns one line per change, or "no changes".
func (r Report) String() string {
	if len(r.Changes) == 0 {
		return "no changes"
	}
	var b strings.Builder
	for i, c := range r.Changes {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// ErrIncompatible: a schema change with breaking changes, refused.
var ErrIncompatible = errors.New("schema: incompatible change")

// IncompatibleError is the error of Evolve when the new schema breaks the
// old: it carries the whole report.
type IncompatibleError struct {
	Report Report
}

// Error names the first breaking change and how many there are.
func (e *IncompatibleError) Error() string {
	b := e.Report.Breaking()
	if len(b) == 0 {
		return ErrIncompatible.Error()
	}
	msg := ErrIncompatible.Error() + ": " + b[0].Kind.String() + ": " + b[0].Reason
	if len(b) > 1 {
		msg += " (and " + strconv.Itoa(len(b)-1) + " more)"
	}
	return msg
}

// Unwrap returns ErrIncompatible.
func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// Compatible compares an old schema with a new one and classifies every
// difference. IDs are what logs and compiled rules hold, so fields and event
// types are compared by ID:
//
//   - Compatible: a field or event type at a new ID; a field type widened
//     to Any; a changed description; a raised schema version.
//   - Breaking: a removed field or event type; an ID that names another
//     path or name (reused), or a path or name at another ID (renumbered);
//     a field type changed other than to Any, since Coerce converts between
//     numeric types only for some values; a field path that became a group;
//     a lowered schema version; a different schema id (when both are set).
//
// Either registry may be nil, meaning empty. The registries are read from
// one snapshot each.
func Compatible(old, new *Registry) Report {
	o, n := emptySnapshot, emptySnapshot
	if old != nil {
		o = old.load()
	}
	if new != nil {
		n = new.load()
	}
	return compare(o, n)
}

func compare(o, n *snapshot) Report {
	var rep Report
	add := func(c Change) { rep.Changes = append(rep.Changes, c) }
	nFields, oFields := uint32(len(n.fields)), uint32(len(o.fields))
	for i, of := range o.fields {
		id := FieldID(i + 1)
		c := Change{Field: id, Path: of.Path, OldType: of.DataType}
		newID, stillThere := n.paths.lookup(of.Path, nFields)
		if i < len(n.fields) && n.fields[i].Path == of.Path {
			nf := n.fields[i]
			c.NewType = nf.DataType
			switch {
			case nf.DataType == of.DataType:
			case nf.DataType == TypeAny:
				c.Kind = ChangeTypeWidened
				c.Reason = fieldName(of.Path, id) + ": " + of.DataType.String() + " to Any, which accepts every value"
				add(c)
			case of.DataType == TypeString && nf.DataType == TypeStringArray:
				c.Kind = ChangeTypeWidened
				c.Reason = fieldName(of.Path, id) + ": String to Array<String>, which accepts every String as a one-element array"
				add(c)
			case of.DataType.plugin() != nil && of.DataType.Base() == nf.DataType:
				c.Kind = ChangeTypeWidened
				c.Reason = fieldName(of.Path, id) + ": " + of.DataType.String() + " to its base type " + nf.DataType.String() +
					", which accepts every " + of.DataType.String() + " value"
				add(c)
			default:
				c.Kind = ChangeTypeNarrowed
				c.Reason = fieldName(of.Path, id) + ": " + of.DataType.String() + " to " + nf.DataType.String() +
					", which does not accept every " + of.DataType.String() + " value"
				add(c)
			}
			if nf.Description != of.Description {
				c.Kind = ChangeDescription
				c.Reason = fieldName(of.Path, id) + ": description " + strconv.Quote(of.Description) + " to " + strconv.Quote(nf.Description)
				add(c)
			}
			continue
		}
		if i < len(n.fields) {
			// The ID now names another path.
			c.NewPath = n.fields[i].Path
			c.NewType = n.fields[i].DataType
			c.Kind = ChangeFieldIDReused
			c.Reason = "id " + strconv.Itoa(int(id)) + " was " + of.Path + ", now " + c.NewPath +
				": recorded events and compiled rules would read the wrong field"
			add(c)
		}
		switch {
		case stillThere:
			c.Kind = ChangeFieldRenumbered
			c.NewPath = of.Path
			c.NewType = n.fields[newID-1].DataType
			c.Reason = of.Path + " moved from id " + strconv.Itoa(int(id)) + " to " + strconv.Itoa(int(newID)) +
				": logs recorded with the old id no longer reach it"
			add(c)
		case func() bool { _, g := n.groups.lookup(of.Path, nFields); return g }():
			c.Kind = ChangeFieldToGroup
			c.NewPath = ""
			c.Reason = of.Path + " (id " + strconv.Itoa(int(id)) + ") is now a group of other fields: its values have no field to go to"
			add(c)
		default:
			c.Kind = ChangeFieldRemoved
			c.NewPath = ""
			c.Reason = of.Path + " (id " + strconv.Itoa(int(id)) + ") is gone: rules that test it no longer compile"
			add(c)
		}
	}
	for i := len(o.fields); i < len(n.fields); i++ {
		nf := n.fields[i]
		if _, was := o.paths.lookup(nf.Path, oFields); was {
			continue // reported as renumbered
		}
		add(Change{Kind: ChangeFieldAdded, Field: FieldID(i + 1), Path: nf.Path, NewType: nf.DataType,
			Reason: fieldName(nf.Path, FieldID(i+1)) + " (" + nf.DataType.String() + ") is new"})
	}
	nTypes, oTypes := uint32(len(n.types)), uint32(len(o.types))
	for i, name := range o.types {
		id := EventTypeID(i + 1)
		if i < len(n.types) && n.types[i] == name {
			continue
		}
		c := Change{EventType: id, Name: name}
		if i < len(n.types) {
			c.Kind = ChangeEventTypeIDReused
			c.Reason = "event type id " + strconv.Itoa(int(id)) + " was " + name + ", now " + n.types[i]
			add(c)
		}
		if newID, ok := n.names.lookup(name, nTypes); ok {
			c.Kind = ChangeEventTypeRenumbered
			c.Reason = "event type " + name + " moved from id " + strconv.Itoa(int(id)) + " to " + strconv.Itoa(int(newID))
		} else {
			c.Kind = ChangeEventTypeRemoved
			c.Reason = "event type " + name + " (id " + strconv.Itoa(int(id)) + ") is gone"
		}
		add(c)
	}
	for i := len(o.types); i < len(n.types); i++ {
		if _, was := o.names.lookup(n.types[i], oTypes); was {
			continue
		}
		add(Change{Kind: ChangeEventTypeAdded, EventType: EventTypeID(i + 1), Name: n.types[i],
			Reason: "event type " + n.types[i] + " (id " + strconv.Itoa(i+1) + ") is new"})
	}
	if o.id != "" && n.id != "" && o.id != n.id {
		add(Change{Kind: ChangeSchemaID, Reason: "schema id " + strconv.Quote(o.id) + " is now " + strconv.Quote(n.id) +
			": another schema, not a version of the same one"})
	}
	switch {
	case n.schemaVersion > o.schemaVersion:
		add(Change{Kind: ChangeVersionRaised, Reason: "version " + strconv.FormatUint(uint64(o.schemaVersion), 10) +
			" to " + strconv.FormatUint(uint64(n.schemaVersion), 10)})
	case n.schemaVersion < o.schemaVersion:
		add(Change{Kind: ChangeVersionLowered, Reason: "version " + strconv.FormatUint(uint64(o.schemaVersion), 10) +
			" to " + strconv.FormatUint(uint64(n.schemaVersion), 10) + ": an older schema"})
	}
	return rep
}

func fieldName(path string, id FieldID) string {
	return path + " (id " + strconv.Itoa(int(id)) + ")"
}

// Evolve hot-reloads r to the schema next holds, if the change is
// compatible (see Compatible): new fields and event types are registered
// with next's IDs, widened types and new descriptions replace the old, and
// next's schema id and version are taken; all of it is published as one
// snapshot, so a reader sees the old schema or the new, never a mix. A
// breaking change is refused, r unchanged, with an *IncompatibleError
// (ErrIncompatible) carrying the report. The report is returned either way.
func (r *Registry) Evolve(next *Registry) (Report, error) {
	ns := next.load()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.loadForWrite()
	// Fields registered on first use under a dynamic namespace, past next's
	// own fields, are not next's to remove: they keep their IDs.
	declared := *s
	for len(declared.fields) > len(ns.fields) && declared.fields[len(declared.fields)-1].Dynamic {
		declared.fields = declared.fields[:len(declared.fields)-1]
	}
	rep := compare(&declared, ns)
	if !rep.Compatible() {
		return rep, &IncompatibleError{Report: rep}
	}
	if len(rep.Changes) == 0 && s.id == ns.id && sameNamespaces(s.dyn, ns.dyn) {
		return rep, nil
	}
	n := *s
	n.version++
	n.id, n.schemaVersion = ns.id, ns.schemaVersion
	n.dyn = ns.dyn // next's namespaces (immutable, so shared)
	for _, c := range rep.Changes {
		if c.Kind == ChangeTypeWidened || c.Kind == ChangeDescription {
			// Old snapshots read the old definitions: replace them in a copy.
			n.fields = append(make([]FieldDef, 0, len(ns.fields)), s.fields...)
			copy(n.fields, ns.fields) // up to len(s.fields): a dynamic tail keeps its own
			break
		}
	}
	for i := len(s.fields); i < len(ns.fields); i++ {
		def := ns.fields[i]
		id := uint32(i + 1)
		n.fields = append(n.fields, def)
		n.paths = n.paths.insert(def.Path, id)
		for j := 0; j < len(def.Path); j++ {
			if def.Path[j] == '.' {
				if _, ok := n.groups.lookup(def.Path[:j], ^uint32(0)); !ok {
					n.groups = n.groups.insert(def.Path[:j], id)
				}
			}
		}
	}
	for i := len(s.types); i < len(ns.types); i++ {
		n.types = append(n.types, ns.types[i])
		n.names = n.names.insert(ns.types[i], uint32(i+1))
	}
	r.snap.Store(&n)
	return rep, nil
}
