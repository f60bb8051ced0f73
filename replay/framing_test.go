package replay

import (
	"bytes"
	"testing"

	"github.com/kestrel-sec/kestrel/internal/kbin"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestFraming: a log a BinaryWriter writes (no metadata) is a stream
// header, blocks that kbin.WalkBlocks counts with their events, and an end
// marker kbin.ReadEndMarker reads back; broken framing is refused.
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
	if !kbin.IsBinary(log) || !kbin.IsStreamHeader(log) || !bytes.Equal(log[:kbin.StreamHeaderSize], kbin.AppendStreamHeader(nil)) {
		t.Fatalf("header % x", log[:kbin.StreamHeaderSize])
	}
	blocks, events, ok := kbin.WalkBlocks(log[kbin.StreamHeaderSize : len(log)-kbin.EndMarkerSize])
	if !ok || blocks < 2 || events != len(evs) {
		t.Fatalf("walk: %d blocks, %d events, ok %v", blocks, events, ok)
	}
	nb, ne, ok := kbin.ReadEndMarker(log[len(log)-kbin.EndMarkerSize:])
	if !ok || nb != uint64(blocks) || ne != uint64(events) {
		t.Fatalf("end marker: %d blocks, %d events, ok %v", nb, ne, ok)
	}
	if m := kbin.AppendEndMarker(nil, nb, ne); !bytes.Equal(m, log[len(log)-kbin.EndMarkerSize:]) {
		t.Fatalf("kbin.AppendEndMarker % x, the writer's % x", m, log[len(log)-kbin.EndMarkerSize:])
	}

	if _, _, ok := kbin.WalkBlocks([]byte("KBLK")); ok {
		t.Error("short header walked")
	}
	h := make([]byte, kbin.BlockHeaderSize)
	copy(h, "KBLK")
	h[12] = 10 // comp_len 10, but no payload
	if _, _, ok := kbin.WalkBlocks(h); ok {
		t.Error("missing payload walked")
	}
	copy(h, "XXXX")
	if _, _, ok := kbin.WalkBlocks(h); ok {
		t.Error("bad magic walked")
	}
	end := kbin.AppendEndMarker(nil, 1, 2)
	end[24] ^= 1
	if _, _, ok := kbin.ReadEndMarker(end); ok {
		t.Error("bad end marker checksum read")
	}
	if kbin.IsStreamHeader(log[:kbin.StreamHeaderSize-1]) || kbin.IsStreamHeader(append([]byte("x"), log...)) {
		t.Error("bad stream header accepted")
	}
}
