package schema

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// FieldDef describes a registered field.
type FieldDef struct {
	// Path is the dotted field path, such as "process.parent.pid".
	Path string
	// DataType is the type the field's values must have (TypeAny: any).
	DataType FieldDataType
	// Description is free text for humans.
	Description string
	// Dynamic is set on a field registered on first use under a dynamic
	// namespace (RegisterDynamic) rather than declared: its ID depends on
	// the order of first use in this process (see the package doc).
	Dynamic bool
}

// MaxPathLen bounds the length of a field path or event type name.
const MaxPathLen = 256

// Registry maps field paths and event type names to stable numeric IDs.
//
// Lookups (Field, FieldID, EventTypeID, EventTypeName, IsGroup) take no lock
// and allocate nothing; any number of goroutines may call them while another
// registers. Registrations are serialised among themselves and each one
// publishes a new snapshot with a higher Version. The zero Registry is empty
// and ready to use.
type Registry struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]
}

// snapshot is immutable once published, except that the tables it shares
// with later snapshots gain entries it ignores (see table.go).
type snapshot struct {
	version uint64
	// id and schemaVersion name the schema as its file or owner stated it
	// (SetSchema); they travel with the registry, not with its IDs.
	id            string
	schemaVersion uint32
	fields        []FieldDef  // fields[id-1]; later snapshots may share the backing array past len
	paths         *table      // path -> FieldID
	groups        *table      // group path -> the count of fields when it appeared
	types         []string    // types[id-1]
	names         *table      // event type name -> EventTypeID
	dyn           *dynamicSet // dynamic namespaces (dynamic.go); nil when none
}

var emptySnapshot = &snapshot{paths: newTable(0), groups: newTable(0), names: newTable(0)}

func (r *Registry) load() *snapshot {
	if s := r.snap.Load(); s != nil {
		return s
	}
	return emptySnapshot
}

// loadForWrite is load for a writer (holding r.mu). Tables are written in
// place, so a Registry's first registration must start from tables of its
// own, never from emptySnapshot's, which every empty Registry reads.
func (r *Registry) loadForWrite() *snapshot {
	if s := r.snap.Load(); s != nil {
		return s
	}
	return &snapshot{paths: newTable(0), groups: newTable(0), names: newTable(0)}
}

// NewRegistry returns an empty Registry (the same as a zero Registry).
func NewRegistry() *Registry { return &Registry{} }

// Version returns the snapshot version: 0 when empty, one more for every
// change published (a registration, SetSchema, an Evolve that changed
// something).
func (r *Registry) Version() uint64 { return r.load().version }

// SchemaID returns the schema's id as set by SetSchema ("" when unnamed).
func (r *Registry) SchemaID() string { return r.load().id }

// SchemaVersion returns the schema's own version as set by SetSchema (a
// schema file's "version"; 0 means unversioned). It is not Version, which
// counts snapshots.
func (r *Registry) SchemaVersion() uint32 { return r.load().schemaVersion }

// ValidSchemaID checks a schema id as SetSchema does: empty, or made of
// letters, digits, _ - @ and dots, at most MaxPathLen bytes. It fails with
// a *PathError matching ErrInvalidPath.
func ValidSchemaID(id string) error {
	if id == "" {
		return nil
	}
	return validPath(id, false)
}

// SetSchema names the schema: an id such as "kestrel.ecs" or
// "vendor.acme" (empty, or a valid event-type-style name) and its version.
// Logs record both so that a reader knows which schema wrote them (see
// Mapping). It fails with a *PathError matching ErrInvalidPath.
func (r *Registry) SetSchema(id string, version uint32) error {
	if err := ValidSchemaID(id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	next := *r.loadForWrite()
	next.version++
	next.id, next.schemaVersion = id, version
	r.snap.Store(&next)
	return nil
}

// NumFields returns the number of registered fields; IDs are 1..NumFields.
func (r *Registry) NumFields() int { return len(r.load().fields) }

// Field returns the definition of field id.
func (r *Registry) Field(id FieldID) (FieldDef, bool) {
	s := r.load()
	if id == 0 || uint64(id) > uint64(len(s.fields)) {
		return FieldDef{}, false
	}
	return s.fields[id-1], true
}

// FieldID returns the ID registered for path.
func (r *Registry) FieldID(path string) (FieldID, bool) {
	s := r.load()
	id, ok := s.paths.lookup(path, uint32(len(s.fields)))
	return FieldID(id), ok
}

// IsGroup reports whether path is a group: a proper prefix, ending at a
// dot, of some registered field's path.
func (r *Registry) IsGroup(path string) bool {
	s := r.load()
	_, ok := s.groups.lookup(path, uint32(len(s.fields)))
	return ok
}

// GroupFields returns the fields under group (at any depth), in ID order,
// or nil when group is not a group. It scans every field: it is for
// listing, not for the per-event path.
func (r *Registry) GroupFields(group string) []FieldDef {
	if !r.IsGroup(group) {
		return nil
	}
	s := r.load()
	var out []FieldDef
	for _, f := range s.fields {
		if len(f.Path) > len(group) && f.Path[len(group)] == '.' && strings.HasPrefix(f.Path, group) {
			out = append(out, f)
		}
	}
	return out
}

// Fields returns every registered field in ID order (a copy).
func (r *Registry) Fields() []FieldDef {
	return append([]FieldDef(nil), r.load().fields...)
}

// RegisterField registers def and returns its new ID. It fails with a
// *PathError matching ErrInvalidPath, ErrDuplicateField, ErrPathConflict or
// ErrFull.
func (r *Registry) RegisterField(def FieldDef) (FieldID, error) {
	if err := validPath(def.Path, true); err != nil {
		return 0, err
	}
	if !def.DataType.Valid() {
		return 0, &PathError{Path: def.Path, Err: ErrInvalidPath, Detail: "unknown data type " + def.DataType.String()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addFieldLocked(r.loadForWrite(), def)
}

// addFieldLocked registers def, whose path and type are valid, on top of
// s; the caller holds r.mu and s is the current snapshot.
func (r *Registry) addFieldLocked(s *snapshot, def FieldDef) (FieldID, error) {
	limit := uint32(len(s.fields))
	if _, ok := s.paths.lookup(def.Path, limit); ok {
		return 0, &PathError{Path: def.Path, Err: ErrDuplicateField}
	}
	if _, ok := s.groups.lookup(def.Path, limit); ok {
		return 0, &PathError{Path: def.Path, Err: ErrPathConflict, Detail: "it is already a group of other fields"}
	}
	if s.dyn != nil && s.dyn.groups[def.Path] {
		return 0, &PathError{Path: def.Path, Err: ErrPathConflict, Detail: "it is a dynamic namespace or holds one"}
	}
	for i := 0; i < len(def.Path); i++ {
		if def.Path[i] == '.' {
			if _, ok := s.paths.lookup(def.Path[:i], limit); ok {
				return 0, &PathError{Path: def.Path, Err: ErrPathConflict, Detail: "its prefix " + def.Path[:i] + " is already a field"}
			}
		}
	}
	if uint64(len(s.fields)) >= math.MaxUint32 {
		return 0, &PathError{Path: def.Path, Err: ErrFull}
	}
	id := uint32(len(s.fields) + 1)
	next := *s
	next.version++
	// Appending may write past len(s.fields) in a shared backing array; no
	// reader of s looks there, so this is not a race.
	next.fields = append(s.fields, def)
	next.paths = s.paths.insert(def.Path, id)
	for i := 0; i < len(def.Path); i++ {
		if def.Path[i] == '.' {
			if _, ok := next.groups.lookup(def.Path[:i], math.MaxUint32); !ok {
				next.groups = next.groups.insert(def.Path[:i], id)
			}
		}
	}
	r.snap.Store(&next)
	return FieldID(id), nil
}

// RegisterFields registers defs in order and returns their IDs; it is
// for tests and static schemas, and stops at the first error.
func (r *Registry) RegisterFields(defs ...FieldDef) ([]FieldID, error) {
	ids := make([]FieldID, 0, len(defs))
	for _, d := range defs {
		id, err := r.RegisterField(d)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// RegisterEventType registers an event type name, such as "process_exec",
// and returns its new ID. It fails with a *PathError matching
// ErrInvalidPath, ErrDuplicateEventType or ErrFull.
func (r *Registry) RegisterEventType(name string) (EventTypeID, error) {
	if err := validPath(name, false); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.loadForWrite()
	if _, ok := s.names.lookup(name, uint32(len(s.types))); ok {
		return 0, &PathError{Path: name, Err: ErrDuplicateEventType}
	}
	if len(s.types) >= math.MaxUint16 {
		return 0, &PathError{Path: name, Err: ErrFull}
	}
	id := uint32(len(s.types) + 1)
	next := *s
	next.version++
	next.types = append(s.types, name)
	next.names = s.names.insert(name, id)
	r.snap.Store(&next)
	return EventTypeID(id), nil
}

// EventTypeID returns the ID registered for the event type name.
func (r *Registry) EventTypeID(name string) (EventTypeID, bool) {
	s := r.load()
	id, ok := s.names.lookup(name, uint32(len(s.types)))
	return EventTypeID(id), ok
}

// EventTypeName returns the name of event type id.
func (r *Registry) EventTypeName(id EventTypeID) (string, bool) {
	s := r.load()
	if id == 0 || int(id) > len(s.types) {
		return "", false
	}
	return s.types[id-1], true
}

// validPath checks a field path (dots separate segments) or an event type
// name (dots allowed as plain characters). A field path may hold '/' inside
// a segment, as ECS allows for keys taken from data (Kubernetes audit
// annotations such as authorization.k8s.io/decision).
func validPath(p string, field bool) error {
	bad := func(detail string) error { return &PathError{Path: p, Err: ErrInvalidPath, Detail: detail} }
	if p == "" {
		return bad("empty")
	}
	if len(p) > MaxPathLen {
		return bad("longer than 256 bytes")
	}
	if field && (p[0] == '.' || p[len(p)-1] == '.' || strings.Contains(p, "..")) {
		return bad("empty segment")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '@', c == '.':
		case c == '/' && field:
		default:
			allowed := " (allowed: letters, digits, _ - @ .)"
			if field {
				allowed = " (allowed: letters, digits, _ - @ . /)"
			}
			return bad("character " + quoteByte(c) + " at byte " + strconv.Itoa(i) + allowed)
		}
	}
	return nil
}
