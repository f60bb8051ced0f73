package sink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// SyncPolicy says when a FileDestination calls fsync.
type SyncPolicy uint8

const (
	// SyncInterval fsyncs at most once per FileConfig.SyncInterval, that
	// long after the first write that follows the last fsync. The default:
	// a crash loses at most that much of what was acknowledged.
	SyncInterval SyncPolicy = iota
	// SyncAlways fsyncs after every batch, before its alerts count as
	// delivered: no acknowledged alert is lost to a crash.
	SyncAlways
	// SyncNever leaves flushing to the operating system (Close does not
	// fsync either).
	SyncNever
)

// String returns "interval", "always" or "never".
func (p SyncPolicy) String() string {
	switch p {
	case SyncInterval:
		return "interval"
	case SyncAlways:
		return "always"
	case SyncNever:
		return "never"
	}
	return "sync(" + strconv.Itoa(int(p)) + ")"
}

// Defaults of FileConfig.
const (
	DefaultFileBackups      = 5
	DefaultFileSyncInterval = time.Second
)

// FileConfig configures a FileDestination. The zero value of every field but
// Path is a working default.
type FileConfig struct {
	// Name identifies the destination. "": Path.
	Name string
	// Path is the file alerts are appended to, one JSON line each. It is
	// created with mode 0600 (owner read and write only: alerts name
	// users, hosts and commands); an existing file keeps its mode. Its
	// directory must exist.
	Path string
	// MaxBytes rotates the file before a line would take it past this
	// size: Path becomes Path.1, Path.1 becomes Path.2, and so on, and a
	// new Path is created. A single line longer than MaxBytes gets a file
	// of its own. 0: never rotate.
	MaxBytes int64
	// MaxBackups is how many rotated files are kept (Path.1 is the newest);
	// the oldest is overwritten. 0: 5.
	MaxBackups int
	// Sync is the fsync policy. 0: SyncInterval.
	Sync SyncPolicy
	// SyncInterval is the period of SyncInterval. 0: 1 s.
	SyncInterval time.Duration
}

// Validate reports the first problem in c, or nil.
func (c *FileConfig) Validate() error {
	switch {
	case c.Path == "":
		return configErr("file: no Path")
	case c.MaxBytes < 0:
		return configErr("file %q: MaxBytes %d is negative", c.Path, c.MaxBytes)
	case c.MaxBackups < 0:
		return configErr("file %q: MaxBackups %d is negative", c.Path, c.MaxBackups)
	case c.Sync > SyncNever:
		return configErr("file %q: unknown Sync policy %d", c.Path, uint8(c.Sync))
	case c.SyncInterval < 0:
		return configErr("file %q: SyncInterval %v is negative", c.Path, c.SyncInterval)
	}
	return nil
}

// FileDestination appends alerts as JSON lines to a file, with rotation by
// size and an fsync policy. Reopen may be called from any goroutine (a
// SIGHUP handler after an external logrotate, for instance).
//
// A failed write is rolled back (the file is truncated to its size before
// the batch, so no half line stays), the file is closed and reopened on
// the next Send, and the batch is retried. Alerts written before a failed
// rotation count as delivered; the rest are retried.
type FileDestination struct {
	cfg FileConfig

	// mu guards everything below: Send and Close run on the Output's
	// worker, Reopen on any goroutine, the interval sync on a timer's.
	mu      sync.Mutex
	f       *os.File // nil: closed after an error; reopened by the next Send
	size    int64    // bytes in f, as this destination knows it
	dirty   bool     // written since the last fsync
	armed   bool     // the sync timer is pending
	timer   *time.Timer
	closed  bool
	syncErr error // first failed interval fsync, reported by Close
	buf     []byte

	timerRuns sync.WaitGroup // the sync timer's pending or running callback
}

// NewFileDestination validates cfg and opens (or creates) the file, so that
// a path that cannot be written fails here and not at the first alert.
func NewFileDestination(cfg FileConfig) (*FileDestination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Path
	}
	if cfg.MaxBackups == 0 {
		cfg.MaxBackups = DefaultFileBackups
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultFileSyncInterval
	}
	d := &FileDestination{cfg: cfg}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

// Name returns FileConfig.Name, or the path.
func (d *FileDestination) Name() string { return d.cfg.Name }

// open opens the file for appending. mu held (or d not yet shared).
func (d *FileDestination) open() error {
	f, err := os.OpenFile(d.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sink: file %q: %w", d.cfg.Name, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("sink: file %q: %w", d.cfg.Name, err)
	}
	d.f, d.size = f, st.Size()
	return nil
}

// Send appends batch, rotating first where a line would pass MaxBytes.
func (d *FileDestination) Send(_ context.Context, batch []*Alert) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return &PermanentError{Reason: "file destination closed"}
	}
	if d.f == nil {
		if err := d.open(); err != nil {
			return err
		}
	}
	b := d.buf[:0]
	first := 0 // index of the first alert in b
	for i, a := range batch {
		start := len(b)
		b = a.AppendJSON(b)
		b = append(b, '\n')
		if d.cfg.MaxBytes > 0 && d.size+int64(len(b)) > d.cfg.MaxBytes && d.size+int64(start) > 0 {
			if err := d.write(b[:start]); err != nil {
				return retryFrom(first, len(batch), err)
			}
			if err := d.rotate(); err != nil {
				return retryFrom(i, len(batch), err)
			}
			b = append(b[:0], b[start:]...)
			first = i
		}
	}
	err := d.write(b)
	if cap(b) <= maxKeptBuf {
		d.buf = b[:0]
	} else {
		d.buf = nil
	}
	if err != nil {
		return retryFrom(first, len(batch), err)
	}
	if err := d.afterWrite(); err != nil {
		// Alerts before first are in a rotated, synced file: only the
		// rest are in doubt.
		return retryFrom(first, len(batch), err)
	}
	return nil
}

// retryFrom reports items [from, n) of a batch as to be retried: the
// earlier ones were written. from == 0 is the whole batch, a plain error.
func retryFrom(from, n int, err error) error {
	if from == 0 {
		return err
	}
	pe := &PartialError{Retry: make([]int, 0, n-from), Err: err}
	for i := from; i < n; i++ {
		pe.Retry = append(pe.Retry, i)
	}
	return pe
}

// write appends p; on failure it truncates what it wrote of p and closes
// the file for a reopen. mu held.
func (d *FileDestination) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := d.f.Write(p)
	if err == nil {
		d.size += int64(n)
		d.dirty = true
		return nil
	}
	if n > 0 {
		_ = d.f.Truncate(d.size)
	}
	_ = d.f.Close()
	d.f = nil
	return fmt.Errorf("sink: file %q: %w", d.cfg.Name, err)
}

// afterWrite applies the sync policy. mu held.
func (d *FileDestination) afterWrite() error {
	switch d.cfg.Sync {
	case SyncAlways:
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("sink: file %q: fsync: %w", d.cfg.Name, err)
		}
		d.dirty = false
	case SyncInterval:
		if !d.armed {
			d.armed = true
			d.timerRuns.Add(1)
			if d.timer == nil {
				d.timer = time.AfterFunc(d.cfg.SyncInterval, d.syncTick)
			} else {
				d.timer.Reset(d.cfg.SyncInterval)
			}
		}
	}
	return nil
}

// syncTick is the interval fsync, on the timer's goroutine.
func (d *FileDestination) syncTick() {
	defer d.timerRuns.Done()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = false
	if d.closed || d.f == nil || !d.dirty {
		return
	}
	if err := d.f.Sync(); err != nil && d.syncErr == nil {
		d.syncErr = fmt.Errorf("sink: file %q: fsync: %w", d.cfg.Name, err)
	}
	d.dirty = false
}

// syncIfDirty fsyncs unless the policy is SyncNever. mu held.
func (d *FileDestination) syncIfDirty() error {
	if d.f == nil || !d.dirty || d.cfg.Sync == SyncNever {
		return nil
	}
	if err := d.f.Sync(); err != nil {
		return err // still dirty: the next sync tries again
	}
	d.dirty = false
	return nil
}

// rotate shifts the backups, renames the file to Path.1 and creates a new
// one. mu held.
func (d *FileDestination) rotate() error {
	if d.f != nil {
		if err := d.syncIfDirty(); err != nil && d.cfg.Sync == SyncAlways {
			// Alerts in this file were written but are not durable: the
			// file is not rotated away, and the caller retries them.
			return fmt.Errorf("sink: file %q: fsync before rotating: %w", d.cfg.Name, err)
		}
		if err := d.f.Close(); err != nil {
			d.f = nil
			return fmt.Errorf("sink: file %q: rotate: %w", d.cfg.Name, err)
		}
		d.f = nil
	}
	p := d.cfg.Path
	for i := d.cfg.MaxBackups - 1; i >= 1; i-- {
		err := os.Rename(p+"."+strconv.Itoa(i), p+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sink: file %q: rotate: %w", d.cfg.Name, err)
		}
	}
	if err := os.Rename(p, p+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sink: file %q: rotate: %w", d.cfg.Name, err)
	}
	return d.open()
}

// Reopen closes the file and opens Path again, after someone else moved or
// removed it. It is safe to call from any goroutine while alerts flow. If
// the open fails, the error is returned and the next Send tries again.
func (d *FileDestination) Reopen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("sink: file %q: reopen after Close: %w", d.cfg.Name, os.ErrClosed)
	}
	var err error
	if d.f != nil {
		err = d.syncIfDirty()
		err = errors.Join(err, d.f.Close())
		d.f = nil
	}
	if oerr := d.open(); oerr != nil {
		return errors.Join(err, oerr)
	}
	if err != nil {
		return fmt.Errorf("sink: file %q: reopen: %w", d.cfg.Name, err)
	}
	return nil
}

// Close fsyncs (unless SyncNever) and closes the file, after waiting for a
// pending interval sync to finish. It reports a failed interval fsync too.
func (d *FileDestination) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	if d.armed && d.timer.Stop() {
		d.armed = false
		d.timerRuns.Done()
	}
	d.mu.Unlock()
	d.timerRuns.Wait()

	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.syncErr
	if d.f != nil {
		err = errors.Join(err, d.syncIfDirty(), d.f.Close())
		d.f = nil
	}
	if err != nil {
		return fmt.Errorf("sink: file %q: close: %w", d.cfg.Name, err)
	}
	return nil
}
