package sensor

// proc is what the table knows of a live process.
type proc struct {
	ppid  uint32
	start uint64 // clock ticks since boot
	exe   string // interned
	name  string // interned
}

// procTable maps pid to proc, bounded: when full, an arbitrary entry is
// evicted (Go's map iteration order) and counted.
type procTable struct {
	m       map[uint32]proc
	max     int
	evicted uint64
	intern  interner
}

func newProcTable(max int) *procTable {
	return &procTable{m: make(map[uint32]proc, min(max, 4096)), max: max, intern: interner{m: make(map[string]string), max: 8192}}
}

func (t *procTable) get(pid uint32) (proc, bool) {
	p, ok := t.m[pid]
	return p, ok
}

func (t *procTable) put(pid uint32, p proc) {
	if _, ok := t.m[pid]; !ok && len(t.m) >= t.max {
		for k := range t.m {
			delete(t.m, k)
			t.evicted++
			break
		}
	}
	t.m[pid] = p
}

func (t *procTable) remove(pid uint32) { delete(t.m, pid) }

// interner keeps one copy of strings that repeat (executable paths), so the
// process table owns them and pins no arena chunk. Bounded: when full it
// starts over.
type interner struct {
	m   map[string]string
	max int
}

// get returns b as an owned string; a hit allocates nothing.
func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= in.max {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}
