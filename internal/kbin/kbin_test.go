package kbin

import "testing"

func TestFraming(t *testing.T) {
	h := AppendStreamHeader([]byte("x"))[1:]
	if len(h) != StreamHeaderSize || !IsBinary(h) || !IsStreamHeader(h) {
		t.Fatalf("stream header % x", h)
	}
	if m := AppendFileHeader(nil, 7, []byte(`{"a":1}`)); !IsBinary(m) || IsStreamHeader(m) || len(m) != StreamHeaderSize+7 {
		t.Errorf("a header with metadata % x taken for a stream header", m)
	}
	if v := AppendFileHeader(nil, 7, nil); !IsStreamHeader(v) {
		t.Errorf("a header of schema version 7 without metadata % x refused", v)
	}
	h[9] ^= 1 // the version's high byte
	if IsStreamHeader(h) {
		t.Error("another version taken")
	}
	end := AppendEndMarker(nil, 3, 40)
	if b, e, ok := ReadEndMarker(end); !ok || b != 3 || e != 40 {
		t.Errorf("ReadEndMarker = %d, %d, %v", b, e, ok)
	}
	if _, _, ok := ReadEndMarker(end[:EndMarkerSize-1]); ok {
		t.Error("a short end marker read")
	}
	block := func(events, comp int) []byte {
		b := make([]byte, BlockHeaderSize+comp)
		copy(b, BlockMagic[:])
		b[4], b[12] = byte(events), byte(comp)
		return b
	}
	two := append(block(2, 5), block(3, 0)...)
	if n, e, ok := WalkBlocks(two); !ok || n != 2 || e != 5 {
		t.Errorf("WalkBlocks = %d, %d, %v", n, e, ok)
	}
	if n, _, ok := WalkBlocks(two[:len(two)-1]); ok || n != 1 {
		t.Errorf("a cut block: %d blocks, ok %v", n, ok)
	}
	if _, _, ok := WalkBlocks(append(two, end...)); ok {
		t.Error("an end marker walked as a block")
	}
}
