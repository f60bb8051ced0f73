package replay

import (
	"errors"
	"strconv"
)

// Errors that errors.Is matches. The typed errors below (LineError,
// BlockError, TruncatedError) wrap them, or a schema error, with the
// position at fault.
var (
	// ErrLineTooLong: a JSON line longer than ReaderOptions.MaxLineBytes.
	ErrLineTooLong = errors.New("replay: line too long")
	// ErrBadHeader: a log header (the JSON header line or the binary file
	// header) with the wrong magic, an unsupported version or bad metadata.
	ErrBadHeader = errors.New("replay: bad log header")
	// ErrCorrupt: a binary block whose framing, checksum or contents are
	// wrong.
	ErrCorrupt = errors.New("replay: corrupt block")
	// ErrTruncated: a binary log that ends inside a block or without its end
	// marker.
	ErrTruncated = errors.New("replay: truncated log")
	// ErrTooLarge: an event too large for one binary block (see
	// MaxBlockSize), or a value nested deeper than the format allows.
	ErrTooLarge = errors.New("replay: event too large")
	// ErrClosed: a Writer used after Close.
	ErrClosed = errors.New("replay: writer closed")
	// ErrReaderClosed: a Reader used after Close.
	ErrReaderClosed = errors.New("replay: reader closed")
	// ErrConfig: a Config or ReaderOptions or WriterOptions out of range.
	ErrConfig = errors.New("replay: invalid config")
	// ErrSchema: a log recorded under a schema that Config.Local cannot be
	// mapped from: no Remote and no Resolve, or Resolve failed.
	ErrSchema = errors.New("replay: log schema not resolved")
)

// LineError is a bad line of a JSON-lines log, or a bad record of a
// protobuf log (Line is then the record's number, and Err a
// *protoevent.DecodeError or a schema error). The reader has already moved
// past it, so reading may go on (lenient mode) after one.
type LineError struct {
	// File is the log's path; empty when reading an io.Reader.
	File string
	// Line is the 1-based line number.
	Line int64
	// Offset is the byte offset of the line's start in the (uncompressed)
	// stream.
	Offset int64
	// Err is the reason: a *schema.SyntaxError (matching
	// schema.ErrInvalidEvent, and schema.ErrUnknownField or
	// schema.ErrTypeMismatch under a registry) or ErrLineTooLong.
	Err error
}

// Error returns "file:line: reason" ("line N: reason" without a file).
func (e *LineError) Error() string {
	return prefix(e.File, "line", e.Line) + e.Err.Error()
}

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// BlockError is a bad block of a binary log.
type BlockError struct {
	// File is the log's path; empty when reading an io.Reader.
	File string
	// Block is the 0-based index of the block.
	Block int64
	// Offset is the byte offset of the block's header in the file.
	Offset int64
	// Skipped reports that the reader skipped the rest of the block (its
	// framing was intact, its checksum or contents were not) and can go on
	// with the next one; when false the error is final.
	Skipped bool
	// Lost is the number of the block's events that were not returned
	// (when Skipped).
	Lost int64
	// Err is the reason, matching ErrCorrupt, ErrBadHeader or a schema error.
	Err error
}

// Error returns "file: block N at offset X: reason".
func (e *BlockError) Error() string {
	s := ""
	if e.File != "" {
		s = e.File + ": "
	}
	if e.Block >= 0 {
		s += "block " + strconv.FormatInt(e.Block, 10) + " at "
	}
	return s + "offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *BlockError) Unwrap() error { return e.Err }

// TruncatedError reports a log that ends early: a binary log that ends
// inside a block, or after a whole block but without the end marker a
// finished log carries (every event of the whole blocks before Offset was
// read); or JSON lines in a zstd stream that ends inside a frame (every
// whole line before Offset was read, Line is set). It matches ErrTruncated
// and is final.
type TruncatedError struct {
	// File is the log's path; empty when reading an io.Reader.
	File string
	// Offset is where the incomplete block (or the missing end marker)
	// begins; for JSON lines, where the incomplete line begins in the
	// uncompressed stream.
	Offset int64
	// Blocks and Events count the whole blocks and the events recovered
	// (Blocks is 0 for JSON lines).
	Blocks, Events int64
	// Partial is the number of bytes of the incomplete block (or line)
	// present.
	Partial int64
	// Line is, for JSON lines inside a zstd stream that ends inside a
	// frame, the 1-based line the stream ends in (its bytes, if any, are
	// Partial); 0 for the binary log.
	Line int64
}

// Error says where the log ends and what was recovered: "file: truncated
// log at offset X (...): recovered ..." for the binary log, and
// "file:line: truncated zstd stream ..." for JSON lines.
func (e *TruncatedError) Error() string {
	if e.Line > 0 {
		s := prefix(e.File, "line", e.Line) + "truncated zstd stream at offset " + strconv.FormatInt(e.Offset, 10)
		if e.Partial > 0 {
			s += " (" + strconv.FormatInt(e.Partial, 10) + " bytes of an incomplete line)"
		}
		return s + ": recovered " + strconv.FormatInt(e.Events, 10) + " events in " +
			strconv.FormatInt(e.Line-1, 10) + " lines"
	}
	s := ""
	if e.File != "" {
		s = e.File + ": "
	}
	s += "truncated log at offset " + strconv.FormatInt(e.Offset, 10)
	if e.Partial > 0 {
		s += " (" + strconv.FormatInt(e.Partial, 10) + " bytes of an incomplete block)"
	} else {
		s += " (no end marker)"
	}
	return s + ": recovered " + strconv.FormatInt(e.Blocks, 10) + " whole blocks, " +
		strconv.FormatInt(e.Events, 10) + " events"
}

// Is makes errors.Is(err, ErrTruncated) true.
func (e *TruncatedError) Is(target error) bool { return target == ErrTruncated }

// PublishError is a Publish that failed for a reason other than a counted
// drop (a closed bus, for example); replay stops at it.
type PublishError struct {
	// File and Record say which event: the line (JSON lines) or the event's
	// 1-based index (binary log).
	File   string
	Record int64
	Err    error
}

// Error returns "file:record: publish: reason".
func (e *PublishError) Error() string {
	return prefix(e.File, "record", e.Record) + "publish: " + e.Err.Error()
}

// Unwrap returns the Publisher's error.
func (e *PublishError) Unwrap() error { return e.Err }

func prefix(file, what string, n int64) string {
	if file != "" {
		return file + ":" + strconv.FormatInt(n, 10) + ": "
	}
	return what + " " + strconv.FormatInt(n, 10) + ": "
}

// corruptf returns an error matching ErrCorrupt with the reason given.
func corruptf(reason string) error { return &reasonError{base: ErrCorrupt, reason: reason} }

func badHeaderf(reason string) error { return &reasonError{base: ErrBadHeader, reason: reason} }

// corruptWrap returns an error matching ErrCorrupt that also unwraps to
// err, the cause found at where.
func corruptWrap(where string, err error) error {
	return &reasonError{base: ErrCorrupt, reason: where + ": " + err.Error(), err: err}
}

type reasonError struct {
	base   error
	reason string
	err    error // the cause, if any
}

func (e *reasonError) Error() string        { return e.base.Error() + ": " + e.reason }
func (e *reasonError) Is(target error) bool { return target == e.base }
func (e *reasonError) Unwrap() error        { return e.err }
