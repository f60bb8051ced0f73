package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/internal/ctxsleep"
	"github.com/kestrel-sec/kestrel/schema"
)

// Publisher is the bus a replay publishes into; *engine.Bus implements it.
// Publish must copy what it keeps of ev before returning (the replay reuses
// ev for the next event); the strings ev references stay valid (see Reader).
//
// An error matching engine.ErrDropped or engine.ErrTimeout is a counted
// drop (Stats.Dropped) and the replay goes on; any other error stops it
// with a *PublishError.
type Publisher interface {
	Publish(ev *schema.Event) error
}

// MockClock is the clock a replay drives: *clock.Manager implements it.
type MockClock interface {
	clock.Clock
	// SetMock freezes the clock at t nanoseconds.
	SetMock(t uint64)
}

// Defaults of Config.
const (
	// DefaultMaxErrors is how many errors Stats.Errors keeps in lenient
	// mode.
	DefaultMaxErrors = 10
	// DefaultProgressEvery is how many records pass between two calls of
	// Config.Progress.
	DefaultProgressEvery = 16384
	// minSleep is the shortest pause pacing takes; a shorter lag is carried
	// to the next event, since the schedule is absolute, because sleeps under
	// a millisecond really last 0.2 to 1 ms (DESIGN.md, ring).
	minSleep = time.Millisecond
	// ctxEvery is how many records pass between two looks at ctx.
	ctxEvery = 256
)

// Progress is what Config.Progress is told.
type Progress struct {
	// Records is the number of records read so far: events, bad lines and
	// skipped blocks.
	Records int64
	// Published is the number of events the bus accepted so far.
	Published int64
	// Bytes is how much of the source has been read (compressed bytes for
	// .zst), and TotalBytes the source's size, or -1 when unknown.
	Bytes, TotalBytes int64
	// Done is true on the last call, made when the replay ends for any
	// reason.
	Done bool
}

// Fraction returns Bytes/TotalBytes in [0, 1], or -1 when the total is
// unknown.
func (p Progress) Fraction() float64 {
	if p.TotalBytes <= 0 {
		return -1
	}
	return min(1, float64(p.Bytes)/float64(p.TotalBytes))
}

// Config configures a Replayer. The zero value replays as fast as possible,
// in strict mode, onto a private mock clock, with the default reader limits.
type Config struct {
	// Clock is the mock clock set to each event's ts_mono_ns before it is
	// published, so that handlers reading it see the recorded time. nil
	// means a private clock.Manager, which nothing else reads.
	Clock MockClock
	// Speed paces the replay: 0 publishes as fast as possible, 1 at the
	// recorded speed (the gaps between ts_mono_ns values become real
	// pauses), 2 twice as fast, 0.5 half as fast. It must be finite and not
	// negative.
	Speed float64
	// Lenient skips bad records (counting them and keeping the first
	// MaxErrors errors in Stats.Errors) instead of stopping at the first
	// one. A truncated log (.kbin, or a .zst cut inside a frame) is then
	// reported in Stats (BadLines, and its *TruncatedError in Errors)
	// rather than returned. See the package doc for what each format
	// reports.
	Lenient bool
	// MaxErrors is how many errors Stats.Errors keeps; 0 means
	// DefaultMaxErrors.
	MaxErrors int
	// Reader configures the log reader: registry and limits.
	Reader ReaderOptions
	// Progress, when set, is called on the replaying goroutine every
	// ProgressEvery records and once at the end (Done set). It must return
	// quickly: the replay waits for it.
	Progress func(Progress)
	// ProgressEvery is how many records pass between Progress calls; 0
	// means DefaultProgressEvery.
	ProgressEvery int
	// WallClock is the real time that pacing measures; nil means
	// clock.Real{}. Tests inject a fake one with Sleep.
	WallClock clock.Clock
	// Sleep pauses the replay for d or until ctx ends (returning its
	// error); nil means a timer. Only pacing (Speed > 0) sleeps.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives a line per replay and the kept errors; nil discards.
	Logger *slog.Logger

	// Local, when set, is the schema the bus's handlers expect, and a log
	// recorded under another schema is mapped into it event by event (see
	// schema.Mapping): under Remote when that is set, else under the
	// registry Resolve returns for the header's SchemaID and
	// SchemaVersion. A log whose header names no schema, or Local's own
	// schema id (a later or earlier version of one schema keeps its IDs,
	// see schema.Compatible), replays as it is. Events of an unmapped type
	// are not published (Stats.Unmapped); dropped fields are counted
	// (Stats.UnmappedFields). Reader.Registry, when set, checks events
	// against the log's own schema, before mapping.
	Local *schema.Registry
	// Remote is the schema the log was recorded under, when known
	// beforehand; it needs Local.
	Remote *schema.Registry
	// Resolve returns the schema a log's header names; it needs Local and
	// is called once per log, when Remote is nil and the header names a
	// schema id other than Local's. Its error ends the replay before any
	// event, wrapped to match ErrSchema.
	Resolve func(id string, version uint32) (*schema.Registry, error)
	// Mapping configures the mapping (a vendor Namespace).
	Mapping schema.MappingOptions
}

// Validate reports a configuration out of range.
func (c *Config) Validate() error {
	switch {
	case c.Speed < 0 || math.IsNaN(c.Speed) || math.IsInf(c.Speed, 0):
		return fmt.Errorf("%w: Speed %v: must be finite and not negative", ErrConfig, c.Speed)
	case c.MaxErrors < 0:
		return fmt.Errorf("%w: MaxErrors %d is negative", ErrConfig, c.MaxErrors)
	case c.ProgressEvery < 0:
		return fmt.Errorf("%w: ProgressEvery %d is negative", ErrConfig, c.ProgressEvery)
	case c.Local == nil && (c.Remote != nil || c.Resolve != nil):
		return fmt.Errorf("%w: Remote or Resolve without Local", ErrConfig)
	}
	return c.Reader.Validate()
}

// Stats is the outcome of one replay. Every event offered to the bus is
// accounted for:
//
//	Events = Published + Dropped (+1 when a *PublishError stopped the replay)
//
// and every record that did not become an event is counted in BadLines (with
// the events inside skipped binary blocks in SkippedEvents).
type Stats struct {
	// Format is the format read and Header the log's header.
	Format Format
	Header Header
	// Lines is the number of records read: lines for JSON lines (the header
	// line and blank lines included), events for the binary log.
	Lines int64
	// Events is the number of events offered to the bus (Publish called).
	Events int64
	// Published is the number of events the bus accepted.
	Published int64
	// Dropped is the number of events the bus refused and counted
	// (engine.ErrDropped, engine.ErrTimeout).
	Dropped int64
	// BadLines is the number of bad records: lines (JSON lines) or blocks
	// (binary log), and a truncated tail.
	BadLines int64
	// SkippedEvents is the number of events lost inside bad binary blocks.
	SkippedEvents int64
	// OutOfOrder is the number of events older than the clock when read;
	// they are published, but the clock stays where it was.
	OutOfOrder int64
	// Bytes is how much of the source was read (compressed bytes for .zst).
	Bytes int64
	// FirstTs and LastTs are the ts_mono_ns of the first event and of the
	// latest the clock was set to; Span is LastTs-FirstTs.
	FirstTs, LastTs uint64
	// Duration is the real time the replay took, and EventsPerSec is
	// Events/Duration.
	Duration     time.Duration
	EventsPerSec float64
	// Errors holds the first MaxErrors bad-record errors (*LineError,
	// *BlockError, *TruncatedError), each naming its file and line or block.
	Errors []error
	// Mapped says the events were mapped from the log's schema into
	// Config.Local. Unmapped is the number of events not published because
	// their type has no local counterpart, UnmappedFields the fields
	// removed from events, and Refusals what the mapping refused and why
	// (schema.Mapping.Refusals).
	Mapped         bool
	Unmapped       int64
	UnmappedFields int64
	Refusals       []schema.Refusal
}

// Span returns the recorded time the replayed events cover.
func (s *Stats) Span() time.Duration {
	if s.LastTs < s.FirstTs {
		return 0
	}
	return time.Duration(s.LastTs - s.FirstTs)
}

// Replayer replays logs into a bus. It is safe for concurrent use, but
// replays sharing a clock fight over it: run them one at a time.
type Replayer struct {
	bus Publisher
	cfg Config
	log *slog.Logger
}

// New returns a Replayer publishing into bus, or an error matching ErrConfig.
func New(bus Publisher, cfg Config) (*Replayer, error) {
	if bus == nil {
		return nil, fmt.Errorf("%w: nil Publisher", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	cfg.MaxErrors = cmp.Or(cfg.MaxErrors, DefaultMaxErrors)
	cfg.ProgressEvery = cmp.Or(cfg.ProgressEvery, DefaultProgressEvery)
	if cfg.WallClock == nil {
		cfg.WallClock = clock.Real{}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Replayer{bus: bus, cfg: cfg, log: log}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if !ctxsleep.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// Replay replays the log at path (any format, see Open) and returns its
// stats. For each event in file order it sets the clock to the event's
// ts_mono_ns (the first event sets it whatever it read before; after that it
// only moves forward, and an older event is counted in Stats.OutOfOrder),
// waits for the event's moment when Speed > 0, and publishes it.
//
// The error is nil when the whole log was replayed (in lenient mode, bad
// records and a truncated tail are then in Stats); otherwise it is the
// first bad record's error in strict mode (a *LineError reads
// "file:line: reason"), a final read error, a *PublishError, or ctx's error
// when ctx ended first. The stats count everything done until then.
func (r *Replayer) Replay(ctx context.Context, path string) (Stats, error) {
	rd, err := OpenWith(path, r.cfg.Reader)
	if err != nil {
		return Stats{}, err
	}
	defer rd.Close()
	return r.ReplayReader(ctx, rd)
}

// ReplayReader is Replay of an open Reader, which it reads to its end but
// does not close.
func (r *Replayer) ReplayReader(ctx context.Context, rd Reader) (Stats, error) {
	cfg := &r.cfg
	st := Stats{Format: rd.Format(), Header: rd.Header()}
	m, err := r.mapping(st.Header)
	if err != nil {
		return st, err
	}
	st.Mapped = m != nil
	wall0 := cfg.WallClock.NowMono()
	var (
		ev      schema.Event
		started bool   // the clock has been set once
		now     uint64 // what the clock was last set to
		records int64  // records read: events and bad ones
	)
	report := func(done bool) {
		if cfg.Progress == nil {
			return
		}
		pos := rd.Pos()
		cfg.Progress(Progress{Records: records, Published: st.Published, Bytes: pos.Bytes,
			TotalBytes: pos.TotalBytes, Done: done})
	}
	for {
		if records%ctxEvery == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		if cfg.Progress != nil && records%int64(cfg.ProgressEvery) == 0 && records > 0 {
			report(false)
			if err = ctx.Err(); err != nil {
				break
			}
		}
		if err = rd.Next(&ev); err != nil {
			if err == io.EOF {
				err = nil
				break
			}
			goOn, final := r.bad(&st, err)
			if !goOn {
				err = final
				break
			}
			records++
			continue
		}
		records++
		if m != nil && m.Apply(&ev) != nil {
			st.Unmapped++
			continue
		}
		ts := uint64(ev.TsMono)
		switch {
		case !started:
			started, now, st.FirstTs = true, ts, ts
			cfg.Clock.SetMock(ts)
		case ts < now:
			st.OutOfOrder++
		case ts == now: // already there
		default:
			now = ts
			cfg.Clock.SetMock(ts)
		}
		if cfg.Speed > 0 && now == ts {
			if err = r.pace(ctx, wall0, ts-st.FirstTs); err != nil {
				break // this event is read (Lines) but never offered (Events)
			}
		}
		st.Events++
		if perr := r.bus.Publish(&ev); perr != nil {
			if !dropped(perr) {
				pos := rd.Pos()
				err = &PublishError{File: pos.File, Record: pos.Record, Err: perr}
				break
			}
			st.Dropped++
			continue
		}
		st.Published++
	}
	pos := rd.Pos()
	st.Lines, st.Bytes, st.LastTs = pos.Record, pos.Bytes, now
	if m != nil {
		st.UnmappedFields = int64(m.Stats().DroppedFields)
		st.Refusals = m.Refusals()
	}
	st.Duration = time.Duration(cfg.WallClock.NowMono() - wall0)
	if st.Duration > 0 {
		st.EventsPerSec = float64(st.Events) / st.Duration.Seconds()
	}
	report(true)
	r.log.Info("replay done", "file", pos.File, "format", st.Format.String(), "events", st.Events,
		"published", st.Published, "dropped", st.Dropped, "bad", st.BadLines, "out_of_order", st.OutOfOrder,
		"duration", st.Duration, "error", err)
	return st, err
}

// mapping returns the mapping from the schema of the log with header h
// into cfg.Local, or nil when its events need none.
func (r *Replayer) mapping(h Header) (*schema.Mapping, error) {
	cfg := &r.cfg
	if cfg.Local == nil {
		return nil, nil
	}
	remote := cfg.Remote
	if remote == nil {
		if h.SchemaID == "" || h.SchemaID == cfg.Local.SchemaID() {
			return nil, nil
		}
		if cfg.Resolve == nil {
			return nil, fmt.Errorf("%w: the log was recorded under schema %q version %d, the local schema is %q, and no Resolve is configured",
				ErrSchema, h.SchemaID, h.SchemaVersion, cfg.Local.SchemaID())
		}
		reg, err := cfg.Resolve(h.SchemaID, h.SchemaVersion)
		if err != nil {
			return nil, fmt.Errorf("%w: schema %q version %d: %w", ErrSchema, h.SchemaID, h.SchemaVersion, err)
		}
		if reg == nil {
			return nil, fmt.Errorf("%w: schema %q version %d: Resolve returned no registry", ErrSchema, h.SchemaID, h.SchemaVersion)
		}
		remote = reg
	}
	m, err := schema.NewMapping(remote, cfg.Local, cfg.Mapping)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	return m, nil
}

// bad accounts for a bad record and reports whether the replay goes on and,
// if not, the error it ends with.
func (r *Replayer) bad(st *Stats, err error) (goOn bool, final error) {
	var (
		le *LineError
		be *BlockError
		te *TruncatedError
	)
	switch {
	case errors.As(err, &le):
	case errors.As(err, &be) && be.Skipped:
		st.SkippedEvents += be.Lost
	case be != nil: // a block whose framing is broken: nothing after it can be trusted
		st.BadLines++
		return false, err
	case errors.As(err, &te):
		st.BadLines++
		if !r.cfg.Lenient {
			return false, err
		}
		r.keep(st, err)
		return false, nil // the log was replayed as far as it goes
	default:
		return false, err
	}
	st.BadLines++
	if !r.cfg.Lenient {
		return false, err
	}
	r.keep(st, err)
	return true, nil
}

func (r *Replayer) keep(st *Stats, err error) {
	if len(st.Errors) < r.cfg.MaxErrors {
		st.Errors = append(st.Errors, err)
		r.log.Warn("replay: bad record skipped", "error", err)
	}
}

// pace waits until the real time since the start reaches the recorded
// offset divided by the speed.
func (r *Replayer) pace(ctx context.Context, wall0, offset uint64) error {
	target := time.Duration(float64(offset) / r.cfg.Speed)
	if target < 0 { // past what a Duration holds
		target = math.MaxInt64
	}
	ahead := target - time.Duration(r.cfg.WallClock.NowMono()-wall0)
	if ahead < minSleep {
		return ctx.Err()
	}
	return r.cfg.Sleep(ctx, ahead)
}
