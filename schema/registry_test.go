package schema_test

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

func mustRegister(t testing.TB, r *schema.Registry, path string, dt schema.FieldDataType) schema.FieldID {
	t.Helper()
	id, err := r.RegisterField(schema.FieldDef{Path: path, DataType: dt})
	if err != nil {
		t.Fatalf("RegisterField(%q): %v", path, err)
	}
	return id
}

func TestRegisterField(t *testing.T) {
	var r schema.Registry // the zero Registry is ready to use
	if v, n := r.Version(), r.NumFields(); v != 0 || n != 0 {
		t.Fatalf("empty registry: Version %d NumFields %d, want 0 0", v, n)
	}
	defs := []schema.FieldDef{
		{Path: "process.pid", DataType: schema.TypeU64, Description: "process id"},
		{Path: "process.executable", DataType: schema.TypeString},
		{Path: "user.name", DataType: schema.TypeString},
		{Path: "tags", DataType: schema.TypeArray},
		{Path: "raw", DataType: schema.TypeAny},
	}
	for i, d := range defs {
		id, err := r.RegisterField(d)
		if err != nil {
			t.Fatalf("RegisterField(%q): %v", d.Path, err)
		}
		if want := schema.FieldID(i + 1); id != want {
			t.Errorf("RegisterField(%q) = %d, want %d", d.Path, id, want)
		}
		if v := r.Version(); v != uint64(i+1) {
			t.Errorf("after %d registrations Version = %d", i+1, v)
		}
		if n := r.NumFields(); n != i+1 {
			t.Errorf("after %d registrations NumFields = %d", i+1, n)
		}
	}
	for i, d := range defs {
		got, ok := r.Field(schema.FieldID(i + 1))
		if !ok || got != d {
			t.Errorf("Field(%d) = %+v, %v; want %+v", i+1, got, ok, d)
		}
	}
	all := r.Fields()
	if len(all) != len(defs) {
		t.Fatalf("Fields() has %d defs, want %d", len(all), len(defs))
	}
	for i := range defs {
		if all[i] != defs[i] {
			t.Errorf("Fields()[%d] = %+v, want %+v", i, all[i], defs[i])
		}
	}
	all[0].Path = "changed" // a copy: the registry must not see it
	if d, _ := r.Field(1); d.Path != "process.pid" {
		t.Errorf("modifying Fields() changed the registry: Field(1).Path = %q", d.Path)
	}

	ids, err := r.RegisterFields(schema.FieldDef{Path: "a"}, schema.FieldDef{Path: "b"})
	if err != nil || len(ids) != 2 || ids[0] != 6 || ids[1] != 7 {
		t.Errorf("RegisterFields = %v, %v; want [6 7], nil", ids, err)
	}
	ids, err = r.RegisterFields(schema.FieldDef{Path: "c"}, schema.FieldDef{Path: "a"}, schema.FieldDef{Path: "d"})
	if !errors.Is(err, schema.ErrDuplicateField) || len(ids) != 1 || ids[0] != 8 {
		t.Errorf("RegisterFields with a duplicate = %v, %v; want [8], ErrDuplicateField", ids, err)
	}
	if _, ok := r.FieldID("d"); ok {
		t.Error("RegisterFields went on past its first error")
	}
	if reg := schema.NewRegistry(); reg.NumFields() != 0 || reg.Version() != 0 {
		t.Error("NewRegistry is not empty")
	}
}

func TestFieldPathLookup(t *testing.T) {
	r := schema.NewRegistry()
	paths := []string{"process.pid", "process.parent.pid", "process.parent.name", "user.name", "host", "a-b@c_D.9"}
	for _, p := range paths {
		mustRegister(t, r, p, schema.TypeAny)
	}

	fieldID := func(path string, want schema.FieldID) {
		t.Helper()
		id, ok := r.FieldID(path)
		if want == 0 {
			if ok || id != 0 {
				t.Errorf("FieldID(%q) = %d, %v; want 0, false", path, id, ok)
			}
			return
		}
		if !ok || id != want {
			t.Errorf("FieldID(%q) = %d, %v; want %d, true", path, id, ok, want)
		}
		if d, ok := r.Field(id); !ok || d.Path != path {
			t.Errorf("Field(%d) = %+v, %v; want path %q", id, d, ok, path)
		}
	}
	fieldID("process.pid", 1)
	fieldID("process.parent.pid", 2)
	fieldID("process.parent.name", 3)
	fieldID("user.name", 4)
	fieldID("host", 5)
	fieldID("a-b@c_D.9", 6)
	fieldID("", 0)
	fieldID("process", 0) // a group, not a field
	fieldID("process.parent", 0)
	fieldID("Process.pid", 0) // paths are case-sensitive
	fieldID("process.pid.x", 0)
	fieldID("process.pi", 0)
	fieldID("nope", 0)

	isGroup := func(path string, want bool) {
		t.Helper()
		if got := r.IsGroup(path); got != want {
			t.Errorf("IsGroup(%q) = %v, want %v", path, got, want)
		}
	}
	isGroup("process", true)
	isGroup("process.parent", true)
	isGroup("user", true)
	isGroup("a-b@c_D", true)
	isGroup("process.pid", false) // a field
	isGroup("host", false)
	isGroup("proc", false) // a prefix, but not at a dot
	isGroup("process.par", false)
	isGroup("", false)
	isGroup("nope", false)

	groupFields := func(group string, want ...string) {
		t.Helper()
		var got []string
		for _, d := range r.GroupFields(group) {
			got = append(got, d.Path)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("GroupFields(%q) = %q, want %q", group, got, want)
		}
	}
	groupFields("process", "process.pid", "process.parent.pid", "process.parent.name")
	groupFields("process.parent", "process.parent.pid", "process.parent.name")
	groupFields("user", "user.name")
	groupFields("host")        // a field: no group
	groupFields("proc")        // not at a dot
	groupFields("nope")        // unknown
	groupFields("process.pid") // a field

	for _, id := range []schema.FieldID{0, 7, 1000, math.MaxUint32} {
		if d, ok := r.Field(id); ok || d != (schema.FieldDef{}) {
			t.Errorf("Field(%d) = %+v, %v; want zero, false", id, d, ok)
		}
	}

	// A path cannot be both a field and a group, in either order.
	conflict := func(path string) {
		t.Helper()
		v := r.Version()
		id, err := r.RegisterField(schema.FieldDef{Path: path})
		if !errors.Is(err, schema.ErrPathConflict) || id != 0 {
			t.Errorf("RegisterField(%q) = %d, %v; want ErrPathConflict", path, id, err)
		}
		var pe *schema.PathError
		if !errors.As(err, &pe) || pe.Path != path {
			t.Errorf("RegisterField(%q): error %v is not a *PathError for the path", path, err)
		}
		if r.Version() != v {
			t.Errorf("a failed registration of %q changed Version", path)
		}
	}
	conflict("process")            // already a group (field registered first)
	conflict("process.parent")     // already a group
	conflict("process.pid.major")  // prefix is a field (field first, then the would-be child)
	conflict("host.name")          // prefix is a field
	conflict("process.pid.a.b.c")  // a deeper prefix is a field
	conflict("a-b@c_D.9.whatever") // prefix with every allowed character
	if _, ok := r.FieldID("process"); ok || !r.IsGroup("process") {
		t.Error("a rejected registration changed the registry")
	}
	// Neighbours that only share a prefix at a non-dot are fine.
	mustRegister(t, r, "processes", schema.TypeAny)
	mustRegister(t, r, "host2.name", schema.TypeAny)
	mustRegister(t, r, "process.pidfd", schema.TypeAny)
}

func TestDuplicateField(t *testing.T) {
	r := schema.NewRegistry()
	mustRegister(t, r, "process.pid", schema.TypeU64)
	v := r.Version()
	id, err := r.RegisterField(schema.FieldDef{Path: "process.pid", DataType: schema.TypeString})
	if id != 0 || !errors.Is(err, schema.ErrDuplicateField) {
		t.Fatalf("duplicate RegisterField = %d, %v; want 0, ErrDuplicateField", id, err)
	}
	var pe *schema.PathError
	if !errors.As(err, &pe) || pe.Path != "process.pid" || pe.Err != schema.ErrDuplicateField {
		t.Errorf("errors.As(%v, *PathError) = %+v", err, pe)
	}
	if !strings.Contains(err.Error(), `"process.pid"`) {
		t.Errorf("error %q does not name the path", err)
	}
	if r.Version() != v || r.NumFields() != 1 {
		t.Errorf("failed registration: Version %d NumFields %d, want %d 1", r.Version(), r.NumFields(), v)
	}
	if d, _ := r.Field(1); d.DataType != schema.TypeU64 {
		t.Errorf("duplicate registration replaced the field: %+v", d)
	}

	et, err := r.RegisterEventType("process_exec")
	if err != nil || et != 1 {
		t.Fatalf("RegisterEventType = %d, %v", et, err)
	}
	v = r.Version()
	et, err = r.RegisterEventType("process_exec")
	if et != 0 || !errors.Is(err, schema.ErrDuplicateEventType) || !errors.As(err, &pe) || pe.Path != "process_exec" {
		t.Errorf("duplicate RegisterEventType = %d, %v; want 0, *PathError ErrDuplicateEventType", et, err)
	}
	if r.Version() != v {
		t.Error("failed event type registration changed Version")
	}
	// Field paths and event type names are separate namespaces.
	if _, err := r.RegisterEventType("process.pid"); err != nil {
		t.Errorf("an event type named like a field: %v", err)
	}
	if _, err := r.RegisterField(schema.FieldDef{Path: "process_exec"}); err != nil {
		t.Errorf("a field named like an event type: %v", err)
	}
}

func TestInvalidPath(t *testing.T) {
	r := schema.NewRegistry()
	mustRegister(t, r, "ok", schema.TypeAny)
	f := func(path string, field, eventType bool) {
		t.Helper()
		_, err := r.RegisterField(schema.FieldDef{Path: path})
		if field {
			if !errors.Is(err, schema.ErrInvalidPath) {
				t.Errorf("RegisterField(%q) = %v, want ErrInvalidPath", path, err)
			} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", path)) {
				t.Errorf("RegisterField(%q): error %q does not name the path", path, err)
			}
		} else if err != nil {
			t.Errorf("RegisterField(%q) = %v, want success", path, err)
		}
		_, err = r.RegisterEventType(path)
		if eventType {
			if !errors.Is(err, schema.ErrInvalidPath) {
				t.Errorf("RegisterEventType(%q) = %v, want ErrInvalidPath", path, err)
			}
		} else if err != nil {
			t.Errorf("RegisterEventType(%q) = %v, want success", path, err)
		}
	}
	long := strings.Repeat("a", schema.MaxPathLen)
	f("", true, true)
	f("a..b", true, false) // dots are plain characters in event type names
	f(".a", true, false)
	f("a.", true, false)
	f(".", true, false)
	f("has space", true, true)
	f("tab\there", true, true)
	f("nul\x00", true, true)
	f("del\x7f", true, true)
	f("newline\n", true, true)
	f("caf\u00e9", true, true)
	f("quote\"", true, true)
	f("slash/x", false, true) // ECS keys taken from data may hold '/'
	f("kubernetes.audit.annotations.authorization_k8s_io/decision", false, true)
	f(long+"x", true, true)
	f(long, false, false) // exactly MaxPathLen is fine
	f("A-Z_09@x.y", false, false)
	v := r.Version()
	_, err := r.RegisterField(schema.FieldDef{Path: "typed", DataType: schema.FieldDataType(99)})
	if !errors.Is(err, schema.ErrInvalidPath) || !strings.Contains(err.Error(), "99") {
		t.Errorf("unknown data type: %v", err)
	}
	if r.Version() != v {
		t.Error("failed registration changed Version")
	}
}

func TestEventTypes(t *testing.T) {
	r := schema.NewRegistry()
	for i, name := range []string{"process_exec", "file_open", "net.connect"} {
		id, err := r.RegisterEventType(name)
		if err != nil || id != schema.EventTypeID(i+1) {
			t.Fatalf("RegisterEventType(%q) = %d, %v; want %d", name, id, err, i+1)
		}
		if got, ok := r.EventTypeID(name); !ok || got != id {
			t.Errorf("EventTypeID(%q) = %d, %v", name, got, ok)
		}
		if got, ok := r.EventTypeName(id); !ok || got != name {
			t.Errorf("EventTypeName(%d) = %q, %v", id, got, ok)
		}
	}
	if r.Version() != 3 || r.NumFields() != 0 {
		t.Errorf("Version %d NumFields %d, want 3 0", r.Version(), r.NumFields())
	}
	for _, id := range []schema.EventTypeID{0, 4, math.MaxUint16} {
		if name, ok := r.EventTypeName(id); ok || name != "" {
			t.Errorf("EventTypeName(%d) = %q, %v", id, name, ok)
		}
	}
	for _, name := range []string{"", "process", "file_open2", "Process_exec"} {
		if id, ok := r.EventTypeID(name); ok || id != 0 {
			t.Errorf("EventTypeID(%q) = %d, %v", name, id, ok)
		}
	}
}

// TestEventTypesFull fills the uint16 ID space: the last ID is
// math.MaxUint16 and the next registration fails with ErrFull.
func TestEventTypesFull(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 65535 event types")
	}
	r := schema.NewRegistry()
	var buf []byte
	for i := 1; i <= math.MaxUint16; i++ {
		buf = fmt.Appendf(buf[:0], "t%d", i)
		id, err := r.RegisterEventType(string(buf))
		if err != nil || int(id) != i {
			t.Fatalf("RegisterEventType(%s) = %d, %v", buf, id, err)
		}
	}
	if _, err := r.RegisterEventType("one_more"); !errors.Is(err, schema.ErrFull) {
		t.Fatalf("RegisterEventType past the ID space = %v, want ErrFull", err)
	}
	for _, i := range []int{1, 2, 1000, 40000, math.MaxUint16} {
		name := fmt.Sprintf("t%d", i)
		if id, ok := r.EventTypeID(name); !ok || int(id) != i {
			t.Errorf("EventTypeID(%q) = %d, %v", name, id, ok)
		}
		if got, ok := r.EventTypeName(schema.EventTypeID(i)); !ok || got != name {
			t.Errorf("EventTypeName(%d) = %q, %v", i, got, ok)
		}
	}
}

// growthPath spreads paths over groups of several depths so that the group
// table grows too.
func growthPath(i int) string {
	return fmt.Sprintf("g%d.s%d.f%d", i%37, i%5, i)
}

func TestRegistryGrowth(t *testing.T) {
	const n = 5000 // past several doublings of the 16-slot tables
	r := schema.NewRegistry()
	for i := 0; i < n; i++ {
		id := mustRegister(t, r, growthPath(i), schema.FieldDataType(i%8))
		if int(id) != i+1 {
			t.Fatalf("field %d got id %d", i, id)
		}
		// Spot-check an early field while the tables resize under it.
		if i&(i-1) == 0 {
			if id, ok := r.FieldID(growthPath(0)); !ok || id != 1 {
				t.Fatalf("after %d fields FieldID(%q) = %d, %v", i+1, growthPath(0), id, ok)
			}
		}
		et, err := r.RegisterEventType(fmt.Sprintf("type_%d", i))
		if err != nil || int(et) != i+1 {
			t.Fatalf("RegisterEventType %d = %d, %v", i, et, err)
		}
	}
	if r.NumFields() != n || r.Version() != 2*n {
		t.Fatalf("NumFields %d Version %d, want %d %d", r.NumFields(), r.Version(), n, 2*n)
	}
	for i := 0; i < n; i++ {
		p := growthPath(i)
		id, ok := r.FieldID(p)
		if !ok || int(id) != i+1 {
			t.Fatalf("FieldID(%q) = %d, %v; want %d", p, id, ok, i+1)
		}
		d, ok := r.Field(id)
		if !ok || d.Path != p || d.DataType != schema.FieldDataType(i%8) {
			t.Fatalf("Field(%d) = %+v, %v", id, d, ok)
		}
		if _, ok := r.FieldID(p + "x"); ok {
			t.Fatalf("FieldID(%q) found an unregistered path", p+"x")
		}
		name := fmt.Sprintf("type_%d", i)
		if et, ok := r.EventTypeID(name); !ok || int(et) != i+1 {
			t.Fatalf("EventTypeID(%q) = %d, %v", name, et, ok)
		}
	}
	for g := 0; g < 37; g++ {
		group := fmt.Sprintf("g%d", g)
		if !r.IsGroup(group) {
			t.Errorf("IsGroup(%q) = false", group)
		}
		want := 0
		for i := g; i < n; i += 37 {
			want++
		}
		if got := len(r.GroupFields(group)); got != want {
			t.Errorf("GroupFields(%q) has %d fields, want %d", group, got, want)
		}
		for s := 0; s < 5; s++ {
			if sub := fmt.Sprintf("g%d.s%d", g, s); !r.IsGroup(sub) {
				t.Errorf("IsGroup(%q) = false", sub)
			}
		}
	}
	if r.IsGroup("g37") || r.IsGroup("g1.s5") {
		t.Error("IsGroup found an unregistered group")
	}
	fs := r.Fields()
	for i := range fs {
		if fs[i].Path != growthPath(i) {
			t.Fatalf("Fields()[%d].Path = %q", i, fs[i].Path)
		}
	}
}

// TestRegistryConcurrentReaders runs lock-free readers against a writer
// (run it with -race). A reader must find every path registered before its
// lookup started, and whatever it finds must agree with Field(id).
func TestRegistryConcurrentReaders(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = growthPath(i)
	}
	r := schema.NewRegistry()
	var registered atomic.Int64 // paths[:registered] are registered
	var stop atomic.Bool
	var wg sync.WaitGroup
	readers := max(2, runtime.GOMAXPROCS(0))
	errs := make(chan error, readers)
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func(seed int) {
			defer wg.Done()
			fail := func(format string, args ...any) {
				errs <- fmt.Errorf(format, args...)
			}
			var lastVersion uint64
			for iter := seed; ; iter++ {
				done := stop.Load()
				count := int(registered.Load()) // loaded before the lookups
				v := r.Version()
				if v < lastVersion {
					fail("Version went back from %d to %d", lastVersion, v)
					return
				}
				lastVersion = v
				if v < uint64(count) {
					fail("Version %d is below the %d registered fields", v, count)
					return
				}
				if nf := r.NumFields(); nf < count {
					fail("NumFields %d is below the %d registered fields", nf, count)
					return
				}
				if count > 0 {
					i := (iter * 7919) % count
					id, ok := r.FieldID(paths[i])
					if !ok || int(id) != i+1 {
						fail("FieldID(%q) = %d, %v after it was registered as %d", paths[i], id, ok, i+1)
						return
					}
					d, ok := r.Field(schema.FieldID(i + 1))
					if !ok || d.Path != paths[i] {
						fail("Field(%d) = %+v, %v; want %q", i+1, d, ok, paths[i])
						return
					}
					if g := strings.SplitN(paths[i], ".", 2)[0]; !r.IsGroup(g) {
						fail("IsGroup(%q) = false after %q was registered", g, paths[i])
						return
					}
				}
				// A path at or past the count may or may not be visible yet;
				// if it is, it must be right.
				if j := count + iter%8; j < n {
					if id, ok := r.FieldID(paths[j]); ok && int(id) != j+1 {
						fail("FieldID(%q) = %d, want %d", paths[j], id, j+1)
						return
					}
				}
				// Whatever ID exists maps back to its path.
				id := schema.FieldID(1 + iter%(count+4))
				if d, ok := r.Field(id); ok {
					if back, ok := r.FieldID(d.Path); !ok || back != id {
						fail("Field(%d).Path = %q but FieldID of it = %d, %v", id, d.Path, back, ok)
						return
					}
				}
				if done {
					return
				}
				if iter%64 == 0 {
					runtime.Gosched() // 2 cores: let the writer run
				}
			}
		}(g)
	}
	for i, p := range paths {
		id, err := r.RegisterField(schema.FieldDef{Path: p})
		if err != nil || int(id) != i+1 {
			t.Errorf("RegisterField(%q) = %d, %v", p, id, err)
			break
		}
		registered.Store(int64(i + 1))
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRegistryConcurrentWriters checks that registrations from several
// goroutines are serialised: every path gets exactly one ID and the IDs are
// 1..n with no gap.
func TestRegistryConcurrentWriters(t *testing.T) {
	const writers, per = 4, 300
	r := schema.NewRegistry()
	var wg sync.WaitGroup
	ids := make([][]schema.FieldID, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				id, err := r.RegisterField(schema.FieldDef{Path: fmt.Sprintf("w%d.f%d", w, i)})
				if err != nil {
					t.Error(err)
					return
				}
				ids[w] = append(ids[w], id)
				// Everyone races to register the same shared path: one wins.
				r.RegisterField(schema.FieldDef{Path: fmt.Sprintf("shared.f%d", i)})
			}
		}()
	}
	wg.Wait()
	if n := r.NumFields(); n != writers*per+per {
		t.Fatalf("NumFields = %d, want %d", n, writers*per+per)
	}
	seen := make(map[schema.FieldID]bool)
	for w := range ids {
		for i, id := range ids[w] {
			if seen[id] {
				t.Fatalf("id %d handed out twice", id)
			}
			seen[id] = true
			if d, _ := r.Field(id); d.Path != fmt.Sprintf("w%d.f%d", w, i) {
				t.Errorf("Field(%d).Path = %q", id, d.Path)
			}
		}
	}
	for id := schema.FieldID(1); int(id) <= r.NumFields(); id++ {
		d, ok := r.Field(id)
		if back, ok2 := r.FieldID(d.Path); !ok || !ok2 || back != id {
			t.Errorf("Field(%d) = %q, FieldID = %d", id, d.Path, back)
		}
	}
	if r.Version() != uint64(r.NumFields()) {
		t.Errorf("Version %d != NumFields %d", r.Version(), r.NumFields())
	}
}

// TestRegistriesIndependent registers the same names in different orders in
// separate registries: none may see another's IDs or groups.
func TestRegistriesIndependent(t *testing.T) {
	names := []string{"p.a", "p.b", "q", "r.s.t", "u", "v", "w", "x", "y", "z"}
	regs := make([]*schema.Registry, 3)
	for i := range regs {
		regs[i] = schema.NewRegistry()
		for j := range names {
			// Registry i registers the names rotated by i.
			p := names[(j+i)%len(names)]
			if id := mustRegister(t, regs[i], p, schema.TypeAny); int(id) != j+1 {
				t.Fatalf("registry %d: %q got id %d, want %d", i, p, id, j+1)
			}
			if _, err := regs[i].RegisterEventType(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, r := range regs {
		for j := range names {
			p := names[(j+i)%len(names)]
			if id, ok := r.FieldID(p); !ok || int(id) != j+1 {
				t.Errorf("registry %d: FieldID(%q) = %d, %v; want %d", i, p, id, ok, j+1)
			}
			if id, ok := r.EventTypeID(p); !ok || int(id) != j+1 {
				t.Errorf("registry %d: EventTypeID(%q) = %d, %v; want %d", i, p, id, ok, j+1)
			}
		}
	}
	// A fresh registry knows nothing, and may use any of those names.
	var fresh schema.Registry
	mustRegister(t, &fresh, "zz", schema.TypeAny)
	for _, p := range append(names, "p", "r", "r.s") {
		if id, ok := fresh.FieldID(p); ok {
			t.Errorf("fresh registry: FieldID(%q) = %d", p, id)
		}
		if fresh.IsGroup(p) {
			t.Errorf("fresh registry: IsGroup(%q)", p)
		}
	}
	mustRegister(t, &fresh, "p", schema.TypeAny) // a group elsewhere, a field here
	mustRegister(t, &fresh, "q.sub", schema.TypeAny)
}
