// Package kbin is the binary event log's framing (replay/FORMAT.md), for
// the code that writes and reads it: package replay's BinaryWriter and
// binary Reader, and package kafka, whose binary records are a file header
// without metadata, whole blocks and an end marker, checked and walked
// here before a replay Reader decodes them. The block payload's encoding
// stays in replay. It imports nothing of ours.
package kbin

import (
	"bytes"
	"encoding/binary"

	"github.com/zeebo/xxh3"
)

const (
	// Version is the format version a file header states; a reader
	// rejects others.
	Version = 1
	// FileHeaderFixed is the size of a file header before its metadata:
	// magic, version, flags, schema_version, meta_len.
	FileHeaderFixed = 20
	// BlockHeaderSize is the size of a block's header.
	BlockHeaderSize = 28
	// EndMarkerSize is the size of the end marker that closes a log.
	EndMarkerSize = 28
	// StreamHeaderSize is the size of a file header without metadata
	// (AppendStreamHeader).
	StreamHeaderSize = FileHeaderFixed + 8
)

var (
	// Magic opens every binary log. Read only.
	Magic = []byte("\x89KST\r\n\x1a\n")
	// BlockMagic opens a block's header, EndMagic the end marker.
	BlockMagic = [4]byte{'K', 'B', 'L', 'K'}
	EndMagic   = [4]byte{'K', 'E', 'N', 'D'}
)

// IsBinary reports whether b starts with the binary log's magic.
func IsBinary(b []byte) bool { return bytes.HasPrefix(b, Magic) }

// AppendFileHeader appends a file header of this version stating
// schemaVersion, with meta (a JSON object, or nothing) as its metadata.
func AppendFileHeader(dst []byte, schemaVersion uint32, meta []byte) []byte {
	start := len(dst)
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint16(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, schemaVersion)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(meta)))
	dst = append(dst, meta...)
	return binary.LittleEndian.AppendUint64(dst, xxh3.Hash(dst[start:]))
}

// AppendStreamHeader appends the file header of a log with schema version
// 0 and no metadata: what a binary Kafka record starts with.
func AppendStreamHeader(dst []byte) []byte { return AppendFileHeader(dst, 0, nil) }

// IsStreamHeader reports whether b starts with a file header of this
// version without metadata (any schema version) and a right checksum;
// other headers (with metadata) are for a Reader to judge.
func IsStreamHeader(b []byte) bool {
	return len(b) >= StreamHeaderSize && string(b[:len(Magic)]) == string(Magic) &&
		binary.LittleEndian.Uint16(b[8:]) == Version && binary.LittleEndian.Uint16(b[10:]) == 0 &&
		binary.LittleEndian.Uint32(b[16:]) == 0 &&
		binary.LittleEndian.Uint64(b[FileHeaderFixed:]) == xxh3.Hash(b[:FileHeaderFixed])
}

// AppendEndMarker appends the end marker of a log of blocks blocks and
// events events: "KEND", the two counts, four zero bytes and the low 32
// bits of XXH3-64 of the first 24 bytes.
func AppendEndMarker(dst []byte, blocks, events uint64) []byte {
	var h [EndMarkerSize]byte
	copy(h[:], EndMagic[:])
	binary.LittleEndian.PutUint64(h[4:], blocks)
	binary.LittleEndian.PutUint64(h[12:], events)
	binary.LittleEndian.PutUint32(h[24:], uint32(xxh3.Hash(h[:24])))
	return append(dst, h[:]...)
}

// ReadEndMarker returns the counts of the end marker b (EndMarkerSize
// bytes); ok is false unless b is one, checksum included.
func ReadEndMarker(b []byte) (blocks, events uint64, ok bool) {
	if len(b) != EndMarkerSize || [4]byte(b[:4]) != EndMagic || binary.LittleEndian.Uint32(b[20:]) != 0 ||
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
		if len(b) < BlockHeaderSize || [4]byte(b[:4]) != BlockMagic {
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
