package sink

import "testing"

// TestAlertQueue: FIFO across growth and wrap-around, the bound, the ring
// released once drained, and close letting the queued alerts out first.
func TestAlertQueue(t *testing.T) {
	q := newAlertQueue(3000)
	alerts := make([]*Alert, 3001)
	for i := range alerts {
		alerts[i] = &Alert{RuleID: "r"}
	}
	next := 0
	// Interleave pushes and pops so the ring wraps while it grows.
	for i := range 3000 {
		if !q.push(alerts[i]) {
			t.Fatalf("push %d refused below the limit", i)
		}
		if i%3 == 2 {
			a, ok, _ := q.pop()
			if !ok || a != alerts[next] {
				t.Fatalf("pop %d out of order", next)
			}
			next++
		}
	}
	for q.len() < 3000 {
		if !q.push(alerts[3000]) {
			t.Fatal("push refused below the limit")
		}
	}
	if q.push(alerts[0]) {
		t.Fatal("push past the limit accepted")
	}
	q.close()
	for i := next; i < 3000; i++ {
		a, ok, _ := q.pop()
		if !ok || a != alerts[i] {
			t.Fatalf("pop %d out of order", i)
		}
	}
	for q.len() > 0 {
		if _, ok, _ := q.pop(); !ok {
			t.Fatal("pop failed with alerts queued")
		}
	}
	if _, ok, closed := q.pop(); ok || !closed {
		t.Fatalf("drained and closed queue: ok %v closed %v", ok, closed)
	}
	if q.buf != nil {
		t.Errorf("drained queue keeps a ring of %d", cap(q.buf))
	}
}
