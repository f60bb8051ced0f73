package schema

// Dynamic namespaces: path prefixes whose fields need not be declared.
// Elastic's integrations (winlog, aws, okta, ...) write fields a schema
// cannot list in advance; a schema declares their prefixes, and a rule
// naming winlog.event_data.TargetUserName registers that path on first use
// (RegisterDynamic), after the declared fields.

// Namespace is a dynamic namespace: every valid path strictly under Prefix
// ("winlog" covers "winlog.event_data.LogonType", not "winlog" itself) may
// be registered on first use, with DataType (TypeAny: compared by each
// value's own kind). Fields declared under Prefix keep their own types.
type Namespace struct {
	// Prefix is the dotted path prefix, such as "winlog" or
	// "kubernetes.audit".
	Prefix string
	// DataType is the type of the fields registered under Prefix.
	DataType FieldDataType
	// Description is free text for humans.
	Description string
}

// dynamicSet is a snapshot's namespaces; immutable once published (a
// RegisterNamespace copies it).
type dynamicSet struct {
	list     []Namespace     // in registration order
	prefixes map[string]int  // prefix -> index into list
	groups   map[string]bool // every prefix and each of its own prefixes
}

// RegisterNamespace declares a dynamic namespace. It fails with a
// *PathError matching ErrInvalidPath (a bad prefix or type),
// ErrDuplicateNamespace, or ErrPathConflict: the prefix is a registered
// field, lies under one, or lies under (or holds) another namespace.
// Fields already registered under the prefix are allowed and keep their
// IDs and types.
func (r *Registry) RegisterNamespace(ns Namespace) error {
	if err := validPath(ns.Prefix, true); err != nil {
		return err
	}
	if !ns.DataType.Valid() {
		return &PathError{Path: ns.Prefix, Err: ErrInvalidPath, Detail: "unknown data type " + ns.DataType.String()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.loadForWrite()
	limit := uint32(len(s.fields))
	p := ns.Prefix
	if _, ok := s.paths.lookup(p, limit); ok {
		return &PathError{Path: p, Err: ErrPathConflict, Detail: "it is already a field"}
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '.' {
			continue
		}
		if _, ok := s.paths.lookup(p[:i], limit); ok {
			return &PathError{Path: p, Err: ErrPathConflict, Detail: "its prefix " + p[:i] + " is already a field"}
		}
	}
	var old dynamicSet
	if s.dyn != nil {
		old = *s.dyn
		if _, ok := old.prefixes[p]; ok {
			return &PathError{Path: p, Err: ErrDuplicateNamespace}
		}
		if q, ok := old.under(p); ok {
			return &PathError{Path: p, Err: ErrPathConflict, Detail: "it lies under the dynamic namespace " + q.Prefix}
		}
		if old.groups[p] {
			return &PathError{Path: p, Err: ErrPathConflict, Detail: "it holds another dynamic namespace"}
		}
	}
	next := *s
	next.version++
	d := &dynamicSet{
		list:     append(old.list[:len(old.list):len(old.list)], ns),
		prefixes: make(map[string]int, len(old.prefixes)+1),
		groups:   make(map[string]bool, len(old.groups)+2),
	}
	for k, v := range old.prefixes {
		d.prefixes[k] = v
	}
	for k := range old.groups {
		d.groups[k] = true
	}
	d.prefixes[p] = len(d.list) - 1
	d.groups[p] = true
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			d.groups[p[:i]] = true
		}
	}
	next.dyn = d
	r.snap.Store(&next)
	return nil
}

// under returns the namespace path lies strictly under.
func (d *dynamicSet) under(path string) (Namespace, bool) {
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if j, ok := d.prefixes[path[:i]]; ok {
			return d.list[j], true
		}
	}
	return Namespace{}, false
}

// Namespaces returns the dynamic namespaces in registration order (a copy).
func (r *Registry) Namespaces() []Namespace {
	s := r.load()
	if s.dyn == nil {
		return nil
	}
	return append([]Namespace(nil), s.dyn.list...)
}

// NamespaceOf returns the dynamic namespace path lies strictly under, if
// any; it does not check that path is valid or unregistered. It takes no
// lock and allocates nothing.
func (r *Registry) NamespaceOf(path string) (Namespace, bool) {
	s := r.load()
	if s.dyn == nil {
		return Namespace{}, false
	}
	return s.dyn.under(path)
}

// RegisterDynamic returns the ID of the field at path: the registered one,
// or, when path is unknown and lies under a dynamic namespace, a new ID
// (the next free one), registering path with the namespace's type and
// Dynamic set. Concurrent calls for one path return one ID. A known path
// costs a lock-free lookup. It fails with a *PathError matching
// ErrUnknownField (not registered, not under a namespace), ErrInvalidPath,
// ErrPathConflict (for example winlog.event_data.x when winlog.event_data
// is already a field) or ErrFull.
func (r *Registry) RegisterDynamic(path string) (FieldID, error) {
	if id, ok := r.FieldID(path); ok {
		return id, nil
	}
	if _, ok := r.NamespaceOf(path); !ok {
		return 0, &PathError{Path: path, Err: ErrUnknownField}
	}
	if err := validPath(path, true); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.loadForWrite()
	if id, ok := s.paths.lookup(path, uint32(len(s.fields))); ok {
		return FieldID(id), nil // registered since the lookup above
	}
	ns, _ := s.dyn.under(path) // namespaces are never removed
	return r.addFieldLocked(s, FieldDef{Path: path, DataType: ns.DataType, Dynamic: true})
}

// sameNamespaces reports whether two snapshots declare the same namespaces.
func sameNamespaces(a, b *dynamicSet) bool {
	var la, lb []Namespace
	if a != nil {
		la = a.list
	}
	if b != nil {
		lb = b.list
	}
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if la[i] != lb[i] {
			return false
		}
	}
	return true
}
