package valuejson

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"
)

// view returns a string sharing b's memory, so that writing to b changes it.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// overlaps reports whether s's bytes lie inside buf.
func overlaps(s string, buf []byte) bool {
	if len(s) == 0 || len(buf) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p < lo+uintptr(len(buf))
}

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

func TestArenaString(t *testing.T) {
	var a Arena
	if got := a.String(""); got != "" {
		t.Errorf(`String("") = %q`, got)
	}

	// Large strings (beyond what the Arena carves from a block) are copied too.
	for _, n := range []int{1, 4 << 10, 4<<10 + 1, 16 << 10, 16<<10 + 1, 1 << 20} {
		src := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		want := string(src)
		got := a.String(view(src))
		if overlaps(got, src) {
			t.Errorf("len %d: the copy aliases its source", n)
		}
		clear(src)
		if got != want {
			t.Errorf("len %d: the copy changed with its source", n)
		}
	}
}

// TestArenaManyStrings fills several blocks with strings of awkward sizes, so
// that some land at the end of a block and the next one starts a new block,
// and checks every earlier string after all the later ones were written.
func TestArenaManyStrings(t *testing.T) {
	var a Arena
	src := make([]byte, 0, 5000)
	var got, want []string
	total := 0
	for i := 0; total < 200<<10; i++ {
		n := 1 + i*37%4000
		src = src[:0]
		for j := 0; j < n; j++ {
			src = append(src, byte('a'+(i+j)%26))
		}
		want = append(want, string(src))
		got = append(got, a.String(view(src)))
		total += n
	}
	for i := range src {
		src[i] = 0
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d (len %d) was overwritten", i, len(want[i]))
		}
	}
	// Strings taken from one block must not overlap each other.
	for i := 1; i < len(got); i++ {
		p := uintptr(unsafe.Pointer(unsafe.StringData(got[i-1])))
		q := uintptr(unsafe.Pointer(unsafe.StringData(got[i])))
		if q > p && q < p+uintptr(len(got[i-1])) {
			t.Fatalf("string %d overlaps string %d", i, i-1)
		}
	}
}
