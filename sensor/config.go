package sensor

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/schema"
)

// DefaultMaxDelay is Config.MaxDelay's default.
const DefaultMaxDelay = 10 * time.Millisecond

// DefaultMaxProcesses bounds the process table when Config.MaxProcesses is 0.
const DefaultMaxProcesses = 65536

// Recorder receives every event the bus accepted, before it is committed
// (replay.Writer satisfies it). The event must not be kept after Write
// returns.
type Recorder interface {
	Write(ev *schema.Event) error
}

// Config configures a Sensor. Bus is required; the zero values of the rest
// are documented defaults.
type Config struct {
	// Bus receives the events (required).
	Bus *engine.Bus
	// Registry resolves the default schema's field paths and event type
	// names (see rule.DefaultRegistry). Required: events are built with its
	// IDs. A field or type it lacks is left out of the events.
	Registry *schema.Registry
	// Logger receives warnings (programs that could not attach, write
	// errors); nil discards them.
	Logger *slog.Logger
	// Clock is the bus's clock: event timestamps (ts_mono_ns) are the
	// kernel's monotonic time translated onto it. Nil means clock.Real.
	Clock clock.Clock
	// Record, if set, receives each accepted event (a .kbin writer).
	Record Recorder
	// NoFiles leaves the file programs (open, creat, unlink, rename)
	// unattached: they are the noisiest.
	NoFiles bool
	// NoNetwork leaves the TCP connect and accept programs unattached.
	NoNetwork bool
	// MaxDelay bounds how long a record may wait in the ring buffer before
	// the reader wakes for it: the kernel programs then wake the reader only
	// when 1 MiB is waiting, and it wakes by itself every MaxDelay, so a
	// busy host costs one wakeup per batch, not per event. 0 means
	// DefaultMaxDelay; negative wakes the reader for every record (lowest
	// latency, most CPU).
	MaxDelay time.Duration
	// MaxProcesses bounds the process table; 0 is DefaultMaxProcesses.
	MaxProcesses int
}

// Validate reports a Config that cannot work, as an error matching ErrConfig.
func (c *Config) Validate() error {
	switch {
	case c.Bus == nil:
		return fmt.Errorf("%w: Bus is nil", ErrConfig)
	case c.Registry == nil:
		return fmt.Errorf("%w: Registry is nil", ErrConfig)
	case c.MaxProcesses < 0:
		return fmt.Errorf("%w: MaxProcesses %d < 0", ErrConfig, c.MaxProcesses)
	}
	return nil
}

// Stats counts what the sensor did. Read, Published, BusDropped,
// DecodeErrors and Skipped account for every record read:
// Read = Published + BusDropped + DecodeErrors + Skipped, but for the one
// record read when the bus refused it as closed, which ends Run.
type Stats struct {
	// Read is records read from the ring buffer.
	Read uint64
	// Published is events the bus accepted.
	Published uint64
	// BusDropped is events the bus refused (full: ErrDropped, ErrTimeout).
	BusDropped uint64
	// DecodeErrors is records too short or of an unknown kind.
	DecodeErrors uint64
	// Skipped is records whose event type the registry lacks.
	Skipped uint64
	// KernelDrops is records the kernel programs could not reserve in the
	// ring buffer (it was full): lost before user space saw them.
	KernelDrops uint64
	// RecordErrors is events the Recorder failed to write.
	RecordErrors uint64
	// ProcsSeeded is processes read from /proc at start.
	ProcsSeeded uint64
	// ProcsEvicted is process table entries dropped because it was full.
	ProcsEvicted uint64
	// ArgsTruncated is exec records whose argument area was longer than
	// the 4 KiB the kernel program reads: their process.args and
	// process.command_line end early (process.args_count counts all).
	ArgsTruncated uint64
	// CwdTruncated is exec records whose working directory's path was
	// longer than 1 KiB or 64 components (mount crossings count as one):
	// process.working_directory keeps its last components after "...".
	CwdTruncated uint64
	// FilesOn, NetworkOn (connect) and AcceptOn say whether those programs
	// are attached. The file and accept programs are on the syscalls'
	// tracepoints, which need tracefs.
	FilesOn, NetworkOn, AcceptOn bool
}
