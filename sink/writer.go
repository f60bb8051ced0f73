package sink

import (
	"context"
	"errors"
	"io"
	"os"
)

// maxKeptBuf is the largest encoding buffer a destination keeps between
// batches; a larger one (an unusually big batch) is let go.
const maxKeptBuf = 4 << 20

// WriterDestination writes each alert as one JSON line (Alert.AppendJSON and
// '\n') to an io.Writer, with one Write per batch: stdout, a pipe, a
// socket, or io.Discard.
//
// A Write error is transient (the batch is retried, so a writer that fails
// half-way may see some lines twice), except os.ErrClosed, which rejects
// the batch. If w is shared with other goroutines (another destination on
// the same os.Stdout), it must be safe for concurrent Writes; *os.File is.
type WriterDestination struct {
	name string
	w    io.Writer
	buf  []byte
}

// NewWriterDestination returns a destination named name that writes JSON
// lines to w. Close does not close w: the caller owns it.
//
// NewWriterDestination("discard", io.Discard) encodes every alert and
// throws it away, which is what benchmarks of the dispatch path want.
func NewWriterDestination(name string, w io.Writer) *WriterDestination {
	return &WriterDestination{name: name, w: w}
}

// Name returns the name given to NewWriterDestination.
func (d *WriterDestination) Name() string { return d.name }

// Send writes batch as JSON lines in one Write.
func (d *WriterDestination) Send(_ context.Context, batch []*Alert) error {
	b := d.buf[:0]
	for _, a := range batch {
		b = a.AppendJSON(b)
		b = append(b, '\n')
	}
	_, err := d.w.Write(b)
	if cap(b) <= maxKeptBuf {
		d.buf = b
	} else {
		d.buf = nil
	}
	if err != nil && errors.Is(err, os.ErrClosed) {
		return &PermanentError{Reason: "writer closed", Err: err}
	}
	return err
}

// Close does nothing: the writer belongs to the caller.
func (d *WriterDestination) Close() error { return nil }
