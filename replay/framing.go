package replay

import (
	"bytes"
	"encoding/binary"

	"github.com/zeebo/xxh3"
)

// The binary log's framing (FORMAT.md), for code that carries its blocks
// in other containers: kafka's binary records are a file header without
// metadata, whole blocks and an end marker, checked and walked with these
// before a Reader decodes them.
const (
	// BlockHeaderSize is the size of a block's header.
	BlockHeaderSize = 28
	// EndMarkerSize is the size of the end marker that closes a log.
	EndMarkerSize = 28
	// StreamHeaderSize is the size of a file header without metadata
	// (AppendStreamHeader).
	StreamHeaderSize = fileHeaderFixed + 8
)

// IsBinary reports whether b starts with the binary log's magic.
func IsBinary(b []byte) bool { return bytes.HasPrefix(b, binaryMagic) }

// AppendStreamHeader appends the file header of a version 1 log with
// schema version 0 and no metadata: what a binary Kafka record starts
// with.
func AppendStreamHeader(dst []byte) []byte {
	h, _ := appendFileHeader(dst, 0, nil) // no metadata: cannot fail
	return h
}

// IsStreamHeader reports whether b starts with a file header of this
// version without metadata (any schema version) and a right checksum;
// other headers (with metadata) are for a Reader to judge.
func IsStreamHeader(b []byte) bool {
	return len(b) >= StreamHeaderSize && string(b[:len(binaryMagic)]) == string(binaryMagic) &&
		binary.LittleEndian.Uint16(b[8:]) == binaryVersion && binary.LittleEndian.Uint16(b[10:]) == 0 &&
		binary.LittleEndian.Uint32(b[16:]) == 0 &&
		binary.LittleEndian.Uint64(b[fileHeaderFixed:]) == xxh3.Hash(b[:fileHeaderFixed])
}

// AppendEndMarker appends the end marker of a log of blocks blocks and
// events events: "KEND", the two counts, four zero bytes and the low 32
// bits of XXH3-64 of the first 24 bytes.
func AppendEndMarker(dst []byte, blocks, events uint64) []byte {
	var h [EndMarkerSize]byte
	copy(h[:], endMagic[:])
	binary.LittleEndian.PutUint64(h[4:], blocks)
	binary.LittleEndian.PutUint64(h[12:], events)
	binary.LittleEndian.PutUint32(h[24:], uint32(xxh3.Hash(h[:24])))
	return append(dst, h[:]...)
}

// ReadEndMarker returns the counts of the end marker b (EndMarkerSize
// bytes); ok is false unless b is one, checksum included.
func ReadEndMarker(b []byte) (blocks, events uint64, ok bool) {
	if len(b) != EndMarkerSize || [4]byte(b[:4]) != endMagic || binary.LittleEndian.Uint32(b[20:]) != 0 ||
		binary.LittleEndian.Uint32(b[24:]) != uint32(xxh3.Hash(b[:24])) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[4:]), binary.LittleEndian.Uint64(b[12:]), true
}

// WalkBlocks walks the block headers of b by their compressed lengths and
// returns how many whole blocks it holds and the events they declare; ok
// is false unless b is whole blocks and nothing else. It checks the
// framing only: a Reader checks each block's checksums and payload.
func WalkBlocks(b []byte) (blocks, events int, ok bool) {
	for len(b) > 0 {
		if len(b) < BlockHeaderSize || [4]byte(b[:4]) != blockMagic {
			return blocks, events, false
		}
		size := BlockHeaderSize + int(binary.LittleEndian.Uint32(b[12:]))
		if size > len(b) {
			return blocks, events, false
		}
		events += int(binary.LittleEndian.Uint32(b[4:]))
		b = b[size:]
		blocks++
	}
	return blocks, events, true
}
