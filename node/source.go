package node

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sensor"
)

// Source feeds a node's bus: a recorded log, a Kafka consumer group, the
// live sensor, or anything that publishes events.
type Source interface {
	// Name names the source in logs, Stats and metrics.
	Name() string
	// Run publishes events into in.Bus until the input ends or ctx does
	// (then it returns ctx's error, or nil), calling in.Ready once
	// connected. It must have stopped publishing when it returns.
	Run(ctx context.Context, in Input) error
}

// Input is what a Source gets from the node.
type Input struct {
	// Bus is where events go.
	Bus *engine.Bus
	// Registry is the schema to read events with.
	Registry *schema.Registry
	// Clock is the node's clock; a replay drives it.
	Clock *clock.Manager
	// Logger is the node's.
	Logger *slog.Logger
	// Ready tells the node the source is connected (it flips /readyz).
	Ready func()
}

// ReplaySource replays a recorded log (JSON lines, .zst or .kbin; see
// package replay) at Config.Speed, setting the node's clock to the log's
// time, so the bus's backpressure waits for slow detection instead of
// dropping. Its Stats are Stats.Replay.
type ReplaySource struct {
	// Path is the log.
	Path string
	// Reader, when set, is read instead of the file Path (which then only
	// names the log in messages): a log held in memory, or a pipe. Its
	// format is recognised from its first bytes.
	Reader io.Reader
	// Config is the replay's; the node sets Clock, Logger and the local
	// registry (Local, and the reader's unless Remote or Resolve maps the
	// log from another schema). Progress, when set, is still called.
	Config replay.Config

	mu       sync.Mutex
	st       replay.Stats
	done     bool
	progress atomic.Int64 // events published so far, from Progress
}

// Name returns "replay PATH".
func (r *ReplaySource) Name() string { return "replay " + r.Path }

// Run replays the log once.
func (r *ReplaySource) Run(ctx context.Context, in Input) error {
	cfg := r.Config
	cfg.Clock, cfg.Logger = in.Clock, in.Logger
	// A log that names another schema is refused, not misread, unless
	// Config.Remote or Config.Resolve maps it: then the mapping, not the
	// reader, checks its IDs against ours.
	cfg.Local = in.Registry
	if cfg.Remote == nil && cfg.Resolve == nil {
		cfg.Reader.Registry = in.Registry
	}
	user := cfg.Progress
	cfg.Progress = func(p replay.Progress) {
		r.progress.Store(int64(p.Published))
		if user != nil {
			user(p)
		}
	}
	rp, err := replay.New(in.Bus, cfg)
	if err != nil {
		return err
	}
	in.Ready()
	var st replay.Stats
	if r.Reader != nil {
		ro := cfg.Reader
		if ro.File == "" {
			ro.File = r.Path
		}
		rd, rerr := replay.NewReaderWith(r.Reader, ro)
		if rerr != nil {
			return rerr
		}
		st, err = rp.ReplayReader(ctx, rd)
		rd.Close()
	} else {
		st, err = rp.Replay(ctx, r.Path)
	}
	r.mu.Lock()
	r.st, r.done = st, true
	r.mu.Unlock()
	return err
}

// Stats returns the replay's counts: complete once Run returned, only
// Events and Published before.
func (r *ReplaySource) Stats() replay.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return r.st
	}
	p := r.progress.Load()
	return replay.Stats{Events: p, Published: p}
}

func (r *ReplaySource) fillStats(s *Stats) {
	st := r.Stats()
	s.Replay = &st
}

// KafkaSource is a member of a Kafka consumer group (see kafka.Source):
// ready once partitions are assigned; when ctx ends it stops fetching,
// waits for the workers to handle what it published and commits. Its
// Stats are Stats.Kafka.
type KafkaSource struct {
	// Config is the consumer's.
	Config kafka.Config

	src atomic.Pointer[kafka.Source]
}

// Name returns "kafka TOPIC".
func (k *KafkaSource) Name() string { return "kafka " + k.Config.Topic }

// Run joins the group and consumes until ctx ends.
func (k *KafkaSource) Run(ctx context.Context, in Input) error {
	cfg := k.Config
	if cfg.Logger == nil {
		cfg.Logger = in.Logger
	}
	s, err := kafka.NewSource(cfg, in.Bus)
	if err != nil {
		return err
	}
	k.src.Store(s)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // ready once the group has handed this member partitions
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if s.Stats().Assigned > 0 {
					in.Ready()
					return
				}
			}
		}
	}()
	return s.Run(ctx)
}

// Stats returns the consumer's counts (zero before Run).
func (k *KafkaSource) Stats() kafka.SourceStats {
	if s := k.src.Load(); s != nil {
		return s.Stats()
	}
	return kafka.SourceStats{}
}

func (k *KafkaSource) fillStats(s *Stats) {
	st := k.Stats()
	s.Kafka = &st
}

// SensorSource is the live eBPF sensor (package sensor; Linux only,
// elsewhere Run fails with sensor.ErrUnsupported): ready once its programs
// are attached. Its Stats are Stats.Sensor.
type SensorSource struct {
	// Config is the sensor's; the node sets Bus, Registry, Logger and
	// Clock.
	Config sensor.Config

	s atomic.Pointer[sensor.Sensor]
}

// Name returns "sensor".
func (*SensorSource) Name() string { return "sensor" }

// Run senses until ctx ends.
func (ss *SensorSource) Run(ctx context.Context, in Input) error {
	cfg := ss.Config
	cfg.Bus, cfg.Registry, cfg.Logger, cfg.Clock = in.Bus, in.Registry, in.Logger, in.Clock
	s, err := sensor.New(cfg)
	if err != nil {
		return err
	}
	ss.s.Store(s)
	ran := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-s.Ready():
			in.Ready()
		case <-ran:
		}
	}()
	err = s.Run(ctx)
	close(ran)
	<-watched
	return err
}

// Stats returns the sensor's counts (zero before Run).
func (ss *SensorSource) Stats() sensor.Stats {
	if s := ss.s.Load(); s != nil {
		return s.Stats()
	}
	return sensor.Stats{}
}

func (ss *SensorSource) fillStats(s *Stats) {
	st := ss.Stats()
	s.Sensor = &st
}
