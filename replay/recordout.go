package replay

import (
	"bufio"
	"io"
	"os"
)

// owning gives f to w, made over it, to close in Close; when w could not
// be made it closes f.
func owning[W interface {
	Writer
	own(io.Closer)
}](f *os.File, w W, err error) (Writer, error) {
	if err != nil {
		f.Close()
		return nil, err
	}
	w.own(f)
	return w, nil
}

// recordOut is the buffered output JSONWriter and ProtoWriter write their
// encoded events to: the first error sticks, events counts what went out.
type recordOut struct {
	bw     *bufio.Writer
	closer io.Closer // the file Create opened
	events int64
	err    error // sticky: the first write error, or ErrClosed
}

// put writes one encoded event. It inlines into the writers' Write.
func (o *recordOut) put(b []byte) error {
	_, err := o.bw.Write(b)
	if err != nil {
		o.err = err
	} else {
		o.events++
	}
	return err
}

// flush writes the buffered events through.
func (o *recordOut) flush() error {
	if o.err != nil {
		return o.err
	}
	if err := o.bw.Flush(); err != nil {
		o.err = err
		return err
	}
	return nil
}

func (o *recordOut) own(c io.Closer) { o.closer = c }

// closeOwned closes c, the file Create opened (nil: none), and returns err
// or else c's error: the end of every writer's Close.
func closeOwned(c io.Closer, err error) error {
	if c != nil {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
