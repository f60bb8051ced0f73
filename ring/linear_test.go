package ring

// A linearisability check on small capacities: goroutines run a few
// operations each on a fresh ring, every call and return is stamped by a
// shared logical clock (never the wall clock), and a Wing & Gong search
// looks for an order of the operations that respects real time (an
// operation that returned before another was called comes first) and that a
// sequential model accepts with the same results.
//
// The model is that of the ring's reservations: TryReserve claims the next
// slots in sequence if there is room (seq and got must match), Commit makes
// them readable, TryPop reads the oldest slot only if it is committed,
// TryPopBatch reads between 1 and len(dst) committed slots (a consumer may
// use the run it cached) or none when the oldest is not committed, Close
// refuses later reservations. For SPSC, TryPush is atomic (one CAS publishes
// the slot); for MPSC it is TryReserve then Commit and is checked as such.

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

type opKind uint8

const (
	opPush opKind = iota
	opReserve
	opCommit
	opPop
	opPopBatch
	opClose
)

type op struct {
	kind      opKind
	call, ret uint64
	// Inputs and results.
	n    int    // Reserve: wanted; PopBatch: len(dst); Commit: count
	seq  uint64 // Reserve, Commit
	got  int    // Reserve: got; PopBatch: count
	ok   bool   // Push, Pop
	vals []int  // Push: [v]; Commit: written; Pop, PopBatch: read
}

func (o op) String() string {
	return fmt.Sprintf("{%d n%d seq%d got%d ok%v %v @%d-%d}", o.kind, o.n, o.seq, o.got, o.ok, o.vals, o.call, o.ret)
}

// model is the sequential specification's state.
type model struct {
	capacity   int
	head, tail uint64
	closed     bool
	vals       []int  // slots head..tail-1
	committed  []bool // likewise
}

func (m *model) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d/%v/", m.head, m.tail, m.closed)
	for i, v := range m.vals {
		fmt.Fprintf(&b, "%d:%v,", v, m.committed[i])
	}
	return b.String()
}

func (m model) clone() model {
	m.vals = slices.Clone(m.vals)
	m.committed = slices.Clone(m.committed)
	return m
}

// step applies o and reports whether o's observed results are allowed.
func (m *model) step(o *op) bool {
	free := m.capacity - int(m.tail-m.head)
	switch o.kind {
	case opPush:
		if m.closed || free == 0 {
			return !o.ok
		}
		if !o.ok {
			return false
		}
		m.vals = append(m.vals, o.vals[0])
		m.committed = append(m.committed, true)
		m.tail++
	case opReserve:
		want := 0
		if !m.closed {
			want = min(o.n, free)
		}
		if o.got != want || (want > 0 && o.seq != m.tail) {
			return false
		}
		for range want {
			m.vals = append(m.vals, 0)
			m.committed = append(m.committed, false)
		}
		m.tail += uint64(want)
	case opCommit:
		for i := range o.n {
			j := int(o.seq-m.head) + i
			if j < 0 || j >= len(m.vals) || m.committed[j] {
				return false
			}
			m.vals[j], m.committed[j] = o.vals[i], true
		}
	case opPop:
		if len(m.vals) == 0 || !m.committed[0] {
			return !o.ok
		}
		if !o.ok || o.vals[0] != m.vals[0] {
			return false
		}
		m.pop(1)
	case opPopBatch:
		ready := 0
		for ready < len(m.committed) && m.committed[ready] {
			ready++
		}
		if ready == 0 || o.n == 0 {
			return o.got == 0
		}
		if o.got < 1 || o.got > min(ready, o.n) || !slices.Equal(o.vals, m.vals[:o.got]) {
			return false
		}
		m.pop(o.got)
	case opClose:
		m.closed = true
	}
	return true
}

func (m *model) pop(n int) {
	m.vals = m.vals[n:]
	m.committed = m.committed[n:]
	m.head += uint64(n)
}

// linearizable searches for a valid order of ops (Wing & Gong, memoised on
// the set of ops done and the model state).
func linearizable(ops []op, m model) bool {
	seen := map[string]bool{}
	var search func(done uint64, m model) bool
	search = func(done uint64, m model) bool {
		if done == 1<<len(ops)-1 {
			return true
		}
		k := fmt.Sprint(done, m.key())
		if seen[k] {
			return false
		}
		minRet := ^uint64(0)
		for i := range ops {
			if done&(1<<i) == 0 {
				minRet = min(minRet, ops[i].ret)
			}
		}
		for i := range ops {
			if done&(1<<i) != 0 || ops[i].call > minRet {
				continue
			}
			next := m.clone()
			if next.step(&ops[i]) && search(done|1<<i, next) {
				return true
			}
		}
		seen[k] = true
		return false
	}
	return search(0, m)
}

// history records operations from several goroutines.
type history struct {
	clock atomic.Uint64
	mu    sync.Mutex
	ops   []op
}

func (h *history) call() uint64 { return h.clock.Add(1) }

func (h *history) done(o op) {
	o.ret = h.clock.Add(1)
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

func maybeYield(rng *rand.Rand) {
	if rng.IntN(3) == 0 {
		runtime.Gosched()
	}
}

// runHistory runs producers and one consumer (and maybe a closer) on r and
// returns what they did.
func runHistory(r api[int], producers, perProducer, consumerOps int, closeIt bool, seed uint64) []op {
	var h history
	var wg sync.WaitGroup
	_, isMPSC := r.(*MPSC[int])
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(p)))
			for i := range perProducer {
				maybeYield(rng)
				v := (p+1)*100 + i*10
				if !isMPSC && rng.IntN(2) == 0 {
					c := h.call()
					ok := r.TryPush(v)
					h.done(op{kind: opPush, call: c, ok: ok, vals: []int{v}})
					continue
				}
				want := 1 + rng.IntN(2)
				c := h.call()
				seq, got := r.TryReserve(want)
				h.done(op{kind: opReserve, call: c, n: want, seq: seq, got: got})
				if got == 0 {
					continue
				}
				vals := make([]int, got)
				for j := range got {
					vals[j] = v + j
					*r.Slot(seq + uint64(j)) = vals[j]
				}
				maybeYield(rng)
				c = h.call()
				r.Commit(seq, got)
				h.done(op{kind: opCommit, call: c, n: got, seq: seq, vals: vals})
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1000))
		dst := make([]int, 2)
		for range consumerOps {
			maybeYield(rng)
			if rng.IntN(2) == 0 {
				c := h.call()
				v, ok := r.TryPop()
				h.done(op{kind: opPop, call: c, ok: ok, vals: []int{v}})
				continue
			}
			n := 1 + rng.IntN(2)
			c := h.call()
			got := r.TryPopBatch(dst[:n])
			h.done(op{kind: opPopBatch, call: c, n: n, got: got, vals: slices.Clone(dst[:got])})
		}
	}()
	if closeIt {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 2000))
			for range rng.IntN(4) {
				runtime.Gosched()
			}
			c := h.call()
			r.Close()
			h.done(op{kind: opClose, call: c})
		}()
	}
	wg.Wait()
	return h.ops
}

func TestLinearizable(t *testing.T) {
	iters := 20000
	if raceEnabled || testing.Short() {
		iters = 1500
	}
	forKinds(t, func(t *testing.T, k kind) {
		producers := 3
		if k.name == "SPSC" {
			producers = 1
		}
		for it := range iters {
			capacity := 2 << (it % 2) // 2 and 4
			r := k.new(capacity, Wait{})
			ops := runHistory(r, producers, 3, 5, it%3 == 0, uint64(it))
			if len(ops) > 60 {
				t.Fatalf("history too long: %d ops", len(ops))
			}
			if !linearizable(ops, model{capacity: capacity}) {
				slices.SortFunc(ops, func(a, b op) int { return int(a.call) - int(b.call) })
				t.Fatalf("iteration %d, capacity %d: no linearisation of %v", it, capacity, ops)
			}
		}
	})
}

// TestLinearizableChecker: the checker rejects histories the ring must
// never produce, so TestLinearizable is not vacuous.
func TestLinearizableChecker(t *testing.T) {
	seq := func(ops ...op) []op {
		for i := range ops {
			ops[i].call, ops[i].ret = uint64(2*i+1), uint64(2*i+2)
		}
		return ops
	}
	m := model{capacity: 2}
	good := seq(op{kind: opPush, ok: true, vals: []int{1}}, op{kind: opPop, ok: true, vals: []int{1}})
	if !linearizable(good, m) {
		t.Error("rejected a valid history")
	}
	bad := [][]op{
		// A value popped that was never pushed.
		seq(op{kind: opPush, ok: true, vals: []int{1}}, op{kind: opPop, ok: true, vals: []int{2}}),
		// Full refused on an empty ring.
		seq(op{kind: opPush, ok: false, vals: []int{1}}),
		// FIFO broken.
		seq(op{kind: opPush, ok: true, vals: []int{1}}, op{kind: opPush, ok: true, vals: []int{2}},
			op{kind: opPop, ok: true, vals: []int{2}}),
		// Empty reported after a completed push.
		seq(op{kind: opPush, ok: true, vals: []int{1}}, op{kind: opPop, ok: false, vals: []int{0}}),
		// A reservation after Close.
		seq(op{kind: opClose}, op{kind: opReserve, n: 1, got: 1}),
		// An uncommitted slot read.
		seq(op{kind: opReserve, n: 1, got: 1}, op{kind: opPop, ok: true, vals: []int{0}}),
		// Too many in a batch.
		seq(op{kind: opPush, ok: true, vals: []int{1}}, op{kind: opPopBatch, n: 2, got: 2, vals: []int{1, 0}}),
	}
	for i, h := range bad {
		if linearizable(h, m) {
			t.Errorf("accepted invalid history %d: %v", i, h)
		}
	}
	// Overlapping operations may take either order.
	overlap := []op{
		{kind: opPush, call: 1, ret: 4, ok: true, vals: []int{1}},
		{kind: opPop, call: 2, ret: 3, ok: true, vals: []int{1}},
	}
	if !linearizable(overlap, m) {
		t.Error("rejected overlapping push and pop")
	}
}
