package ring

import (
	"context"
	"sync"
	"testing"
)

func TestSmoke(t *testing.T) {
	r := NewMPSC[int](8, Wait{})
	const P, N = 4, 20000
	var wg sync.WaitGroup
	for p := range P {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range N {
				if err := r.Push(context.Background(), p*N+i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); r.Close() }()
	last := make([]int, P)
	for i := range last {
		last[i] = -1
	}
	cnt := 0
	for {
		v, err := r.Pop(context.Background())
		if err != nil {
			break
		}
		p, i := v/N, v%N
		if i != last[p]+1 {
			t.Fatalf("p%d got %d after %d", p, i, last[p])
		}
		last[p] = i
		cnt++
	}
	if cnt != P*N {
		t.Fatal(cnt)
	}
	s := NewSPSC[int](8, Wait{})
	go func() {
		for i := range N {
			s.Push(context.Background(), i)
		}
		s.Close()
	}()
	for i := 0; ; i++ {
		v, err := s.Pop(context.Background())
		if err != nil {
			if i != N {
				t.Fatal(i)
			}
			break
		}
		if v != i {
			t.Fatal(v, i)
		}
	}
}
