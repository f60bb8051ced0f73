package replay

import (
	"bytes"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

// TestFraming: a log a BinaryWriter writes (no metadata) is a stream
// header, blocks that WalkBlocks counts with their events, and an end
// marker ReadEndMarker reads back; broken framing is refused.
func TestFraming(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewBinaryWriter(&buf, WriterOptions{BlockSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	var evs []schema.Event
	for range 10 {
		evs = append(evs, variedEvents(t)...)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	log := buf.Bytes()
	if !IsBinary(log) || !IsStreamHeader(log) || !bytes.Equal(log[:StreamHeaderSize], AppendStreamHeader(nil)) {
		t.Fatalf("header % x", log[:StreamHeaderSize])
	}
	blocks, events, ok := WalkBlocks(log[StreamHeaderSize : len(log)-EndMarkerSize])
	if !ok || blocks < 2 || events != len(evs) {
		t.Fatalf("walk: %d blocks, %d events, ok %v", blocks, events, ok)
	}
	nb, ne, ok := ReadEndMarker(log[len(log)-EndMarkerSize:])
	if !ok || nb != uint64(blocks) || ne != uint64(events) {
		t.Fatalf("end marker: %d blocks, %d events, ok %v", nb, ne, ok)
	}
	if m := AppendEndMarker(nil, nb, ne); !bytes.Equal(m, log[len(log)-EndMarkerSize:]) {
		t.Fatalf("AppendEndMarker % x, the writer's % x", m, log[len(log)-EndMarkerSize:])
	}

	if _, _, ok := WalkBlocks([]byte("KBLK")); ok {
		t.Error("short header walked")
	}
	h := make([]byte, BlockHeaderSize)
	copy(h, "KBLK")
	h[12] = 10 // comp_len 10, but no payload
	if _, _, ok := WalkBlocks(h); ok {
		t.Error("missing payload walked")
	}
	copy(h, "XXXX")
	if _, _, ok := WalkBlocks(h); ok {
		t.Error("bad magic walked")
	}
	end := AppendEndMarker(nil, 1, 2)
	end[24] ^= 1
	if _, _, ok := ReadEndMarker(end); ok {
		t.Error("bad end marker checksum read")
	}
	if IsStreamHeader(log[:StreamHeaderSize-1]) || IsStreamHeader(append([]byte("x"), log...)) {
		t.Error("bad stream header accepted")
	}
}
