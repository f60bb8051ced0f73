// Package replay records and replays Kestrel event logs.
//
// Detection engineers test rules on recorded attacks, and a sensor's
// behaviour is reproduced after an incident, by replaying a log through the
// same bus and handlers that live events take, under a mock clock, so that
// the same log always gives the same result.
//
// # Formats
//
// Four formats are read and written:
//
//   - JSON lines (FormatJSON): one event per line in schema's wire form,
//     fields as an object keyed by decimal FieldID. The Rust original's
//     shape reads unchanged: an optional first header line
//     {"magic":[75,69,83,84],"version":1,"schema_version":1,...} whose magic
//     and version are checked and whose other members are kept as
//     Header.Meta, and fields as an array of [id, value] pairs. Value
//     variants may be written "String" or "string".
//   - The same inside a zstd stream (FormatJSONZstd, .zst), decoded and
//     encoded as it streams, never whole.
//   - A binary log of blocks (FormatBinary, .kbin), specified in FORMAT.md:
//     a header with magic and version, then zstd-compressed blocks, each
//     carrying its event count, sizes and xxh3 checksums, so that a reader
//     reports a corrupt block with its offset and a truncated tail with the
//     whole blocks it recovered.
//   - A protobuf log (FormatProto, .kpb; FORMAT.md): the magic, then
//     length-delimited messages of protoevent/event.proto, a LogHeader and
//     one Event each, for sensors that speak protobuf.
//
// Open and NewReader choose the Reader by the log's first bytes (and, for an
// empty or unrecognised file, by extension); Create chooses the Writer by
// extension.
//
// # Recording
//
//	w, err := replay.Create("attack.kbin", replay.WriterOptions{})
//	...
//	err = w.Write(&ev) // for each event the sensor published
//	...
//	err = w.Close()    // writes the end marker a reader checks
//
// or, to record exactly what a bus accepted and in its order, publish through
// a Recorder: rec := replay.NewRecorder(bus, w); rec.Publish(&ev).
//
// # Replaying
//
//	clk := clock.New()
//	bus, _ := engine.New(engine.Config{Clock: clk})
//	rp, _ := replay.New(bus, replay.Config{Clock: clk, Speed: 0})
//	stats, err := rp.Replay(ctx, "attack.kbin")
//
// For each event, in file order, the replay sets the mock clock to the
// event's ts_mono_ns (never backwards: an older event is counted as out of
// order and leaves the clock alone), waits when pacing (Speed 1 is the
// recorded speed, 2 twice as fast, 0 no waiting), and publishes the event.
// Bad records never crash a replay and never pass silently: strict mode (the
// default) stops at the first with "file:line: reason"; lenient mode skips,
// counts and keeps the first few. Stats accounts for every record read.
//
// # What each reader delivers, and what it reports
//
// No reader drops anything silently: every record is returned as an event,
// or reported as an error that says where it was and how much was lost.
//
//   - JSON lines (.jsonl): a malformed line, or one longer than
//     MaxLineBytes, is a *LineError ("file:line: reason"); the reader has
//     moved past it and every other line is still returned. A read error of
//     the file is final.
//   - JSON lines in zstd (.zst): as above, line by line. A stream that ends
//     inside a zstd frame (a cut file) returns every whole line before the
//     cut, then a final *TruncatedError matching ErrTruncated with the line
//     it ends in (Line), the uncompressed Offset, the events recovered and
//     the bytes of the incomplete line (Partial). Corrupt zstd data is a
//     final error naming the line, but zstd checks a frame's checksum only
//     at the frame's end, so lines decoded from a damaged frame (valid
//     JSON or *LineErrors) may come before it: unlike the binary log's
//     per-block checksums, a .zst does not keep damaged data out. A cut
//     that falls exactly between two frames cannot be told from the end of
//     the log.
//   - Binary (.kbin, FORMAT.md): a block whose payload is damaged (checksum,
//     zstd, or an event that does not decode) is a *BlockError with Skipped
//     set and Lost events, matching ErrCorrupt; reading goes on at the next
//     block. A broken block header or end marker is a final *BlockError
//     (ErrCorrupt): nothing after it can be framed. A file that ends inside
//     a block or without its end marker returns every event of its whole
//     blocks, then a final *TruncatedError (ErrTruncated) with the offset
//     and the blocks and events recovered.
//
// A Replayer turns these into Stats. Strict mode (the default) stops at the
// first error of any kind and returns it ("file:line: reason", or
// "file: block N at offset X: reason"), with Stats counting what was done
// (a bad line or block, or a truncated tail, is counted in BadLines). Lenient mode counts each skipped line or
// block in BadLines (and the events of skipped blocks in SkippedEvents),
// keeps the first MaxErrors errors in Stats.Errors and goes on; a truncated
// log, of either format, ends the replay with a nil error and the
// *TruncatedError counted in BadLines and kept in Stats.Errors. A final
// error other than truncation (a broken block header, corrupt zstd data, an
// I/O error) is returned in both modes.
//
// # Ownership
//
// Readers decode into a caller's schema.Event, reused across calls. The
// strings of a decoded event are never overwritten afterwards (they live in
// an arena, or in a decompressed block that is not reused), so an event
// copied by a bus stays valid after the reader moves on.
package replay
