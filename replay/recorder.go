package replay

import (
	"sync"

	"github.com/kestrel-sec/kestrel/schema"
)

// Recorder is a Publisher that forwards each event to the bus and writes the
// ones the bus accepted to a log, so that a replay of the log gives every
// partition the same events in the same order as the bus saw them. It is
// safe for concurrent use; to keep the log's order the bus's, it holds a
// lock across the publish and the write, so publishers take turns while
// recording.
type Recorder struct {
	next Publisher

	mu       sync.Mutex
	w        Writer
	recorded int64
	failed   int64 // accepted by the bus, not recorded
	err      error // the first write error
}

// NewRecorder returns a Recorder publishing into next and recording into w.
func NewRecorder(next Publisher, w Writer) *Recorder { return &Recorder{next: next, w: w} }

// Publish publishes ev and, if the bus accepted it, records it. It returns
// the bus's error only: a failed write does not unpublish the event, so it
// is counted (RecorderStats.Failed) and kept (Err) instead.
func (r *Recorder) Publish(ev *schema.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.next.Publish(ev); err != nil {
		return err
	}
	if err := r.w.Write(ev); err != nil {
		r.failed++
		if r.err == nil {
			r.err = err
		}
	} else {
		r.recorded++
	}
	return nil
}

// RecorderStats counts what a Recorder did.
type RecorderStats struct {
	// Recorded is the number of events written to the log, Failed the
	// number the bus accepted but the log did not take.
	Recorded, Failed int64
}

// Stats returns the Recorder's counts.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RecorderStats{Recorded: r.recorded, Failed: r.failed}
}

// Err returns the first write error, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Flush flushes the log's writer.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.Flush()
}

// Close closes the log's writer (not the bus) and returns its error, or the
// first write error.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.w.Close()
	if r.err != nil {
		return r.err
	}
	return err
}
