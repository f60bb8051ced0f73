package value

import (
	"strings"
	"testing"
)

// TestArenaGrowth checks that an Arena's blocks start small and double up
// to arenaChunk, so a short-lived Arena pins little memory, and that every
// string is still copied intact.
func TestArenaGrowth(t *testing.T) {
	var a Arena
	if s := a.String("/bin/sh"); s != "/bin/sh" || cap(a.buf) != arenaFirst {
		t.Fatalf("first block %d bytes, want %d (string %q)", cap(a.buf), arenaFirst, s)
	}
	want := arenaFirst
	for i := 0; i < 2000; i++ {
		in := strings.Repeat("x", 1+i%200)
		if got := a.String(in); got != in {
			t.Fatalf("string %d: %q", i, got)
		}
		if c := cap(a.buf); c != want {
			if c != min(2*want, arenaChunk) && c != len(in) {
				t.Fatalf("block %d bytes after %d, want doubling to at most %d", c, want, arenaChunk)
			}
			want = c
		}
	}
	if want != arenaChunk {
		t.Errorf("blocks stopped at %d bytes, want %d", want, arenaChunk)
	}
}
