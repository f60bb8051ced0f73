package ring

import (
	"testing"
)

// FuzzOps runs a byte-coded sequence of operations on one goroutine against
// both ring kinds and the sequential model of linear_test.go, and fails on
// the first result the model does not allow. Each byte is an operation in
// its low 3 bits and an argument in the rest.
func FuzzOps(f *testing.F) {
	f.Add(uint8(0), []byte{0, 0, 0, 1, 1, 1})
	f.Add(uint8(1), []byte{0x12, 0x12, 3, 3, 2, 0x0d, 0x15, 7, 1, 1, 1})
	f.Add(uint8(2), []byte{0x0a, 0x0a, 0x0a, 3, 4, 4, 4, 0x1d, 6, 0x16, 1, 2, 2})
	f.Add(uint8(3), []byte{0, 0, 0, 0, 0, 6, 2, 0x1e, 0x0e, 1, 1, 1, 1, 7})
	f.Fuzz(func(t *testing.T, capLog uint8, prog []byte) {
		capacity := 2 << (capLog % 4) // 2..16
		for _, k := range kinds {
			runProgram(t, k, capacity, prog)
		}
	})
}

func runProgram(t *testing.T, k kind, capacity int, prog []byte) {
	r := k.new(capacity, Wait{})
	_, isMPSC := r.(*MPSC[int])
	m := model{capacity: capacity}
	type resv struct {
		seq uint64
		n   int
	}
	var open []resv // reservations not yet committed, in order
	next := 1
	dst := make([]int, 16)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s cap %d prog %x: "+format, append([]any{k.name, capacity, prog}, args...)...)
	}
	ready := func() int {
		n := 0
		for n < len(m.committed) && m.committed[n] {
			n++
		}
		return n
	}
	for pc, b := range prog {
		arg := int(b >> 3)
		switch b & 7 {
		case 0: // TryPush
			if !isMPSC && len(open) > 0 {
				continue // SPSC: no push while a reservation is open
			}
			o := op{kind: opPush, ok: r.TryPush(next), vals: []int{next}}
			if isMPSC && o.ok { // MPSC: TryPush is reserve+commit
				o = op{kind: opReserve, n: 1, got: 1, seq: m.tail}
				if !m.step(&o) {
					fail("%d: TryPush accepted, model says full", pc)
				}
				o = op{kind: opCommit, n: 1, seq: o.seq, vals: []int{next}}
			} else if isMPSC {
				o = op{kind: opReserve, n: 1, got: 0}
			}
			if !m.step(&o) {
				fail("%d: TryPush = %v", pc, o.ok || o.got > 0)
			}
			next++
		case 1: // TryPop
			v, ok := r.TryPop()
			if !m.step(&op{kind: opPop, ok: ok, vals: []int{v}}) {
				fail("%d: TryPop = %d, %v", pc, v, ok)
			}
		case 2: // TryReserve(arg)
			seq, got := r.TryReserve(arg)
			want := 0
			if arg > 0 && !m.closed {
				want = min(arg, capacity-int(m.tail-m.head))
			}
			o := op{kind: opReserve, n: max(arg, 0), seq: seq, got: got}
			if arg <= 0 {
				if got != 0 {
					fail("%d: TryReserve(%d) got %d", pc, arg, got)
				}
				continue
			}
			if got != want || !m.step(&o) {
				fail("%d: TryReserve(%d) = %d, %d; model tail %d want %d", pc, arg, seq, got, m.tail, want)
			}
			if got > 0 {
				for j := range got {
					*r.Slot(seq + uint64(j)) = next
					next++
				}
				open = append(open, resv{seq, got})
			}
		case 3: // Commit an open reservation: MPSC any one, SPSC the oldest
			if len(open) == 0 {
				continue
			}
			i := 0
			if isMPSC {
				i = arg % len(open)
			}
			rv := open[i]
			open = append(open[:i], open[i+1:]...)
			vals := make([]int, rv.n)
			for j := range vals {
				vals[j] = *r.Slot(rv.seq + uint64(j))
			}
			r.Commit(rv.seq, rv.n)
			if !m.step(&op{kind: opCommit, n: rv.n, seq: rv.seq, vals: vals}) {
				fail("%d: Commit(%d, %d) refused by the model", pc, rv.seq, rv.n)
			}
		case 4: // Peek, then Release(arg) of it
			seq, n := r.Peek()
			rd := ready()
			if seq != m.head || n > rd || (rd > 0 && n == 0) {
				fail("%d: Peek = %d, %d; model head %d, %d ready", pc, seq, n, m.head, rd)
			}
			for j := range n {
				if v := *r.Slot(seq + uint64(j)); v != m.vals[j] {
					fail("%d: slot %d = %d, want %d", pc, seq+uint64(j), v, m.vals[j])
				}
			}
			rel := min(arg, n)
			r.Release(arg)
			m.pop(rel)
		case 5: // TryPopBatch
			n := 1 + arg%len(dst)
			got := r.TryPopBatch(dst[:n])
			o := op{kind: opPopBatch, n: n, got: got, vals: append([]int(nil), dst[:got]...)}
			if !m.step(&o) {
				fail("%d: TryPopBatch(%d) = %v", pc, n, dst[:got])
			}
		case 6: // Close
			r.Close()
			m.step(&op{kind: opClose})
			if !r.Closed() {
				fail("%d: not Closed after Close", pc)
			}
		case 7: // Len: MPSC counts reservations, SPSC committed slots
			want := int(m.tail - m.head)
			if !isMPSC {
				want = ready()
			}
			if l := r.Len(); l != want {
				fail("%d: Len = %d, want %d", pc, l, want)
			}
		}
	}
}
