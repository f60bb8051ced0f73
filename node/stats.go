package node

import (
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/sensor"
	"github.com/kestrel-sec/kestrel/sink"
)

// Stats is the node's one loss report: every event and alert, by where it
// went. Events: the source's counts (decoded, bad records, refused by the
// bus), then the bus's (published, delivered, dropped, timed out, queued,
// routed copies among them), then detection's (events, copies, alerts);
// alerts: detection's (raised, refused by the outputs) then the outputs'
// (delivered, dropped, rejected, in flight) per destination.
type Stats struct {
	// Source is the source's name ("" before Run).
	Source string
	// Replay, Kafka and Sensor are the source's own counts, the one that
	// applies set (a replay's while it runs are Progress's: Events and
	// Published).
	Replay *replay.Stats
	Kafka  *kafka.SourceStats
	Sensor *sensor.Stats

	// Bus is the bus's counters, per partition.
	Bus engine.Stats
	// Lag is, by partition, how long it has been behind its input: the
	// wall time since its worker began the backlog it is working
	// through (timed from when it was first seen behind), 0 while it
	// keeps up; lag.go says how it is measured.
	Lag []time.Duration
	// Detect is detection's, summed over the rule sets Reload replaced
	// (their gauges too: a replaced set holds state until each partition's
	// next batch moves it to the current one).
	Detect detect.Stats
	// Sink is the outputs'.
	Sink sink.Stats

	// Reloads and ReloadFailures count Reload's outcomes.
	Reloads, ReloadFailures uint64
	// SchemaReloads counts the schema changes ReloadSchema applied,
	// SchemaReloadFailures those it refused.
	SchemaReloads, SchemaReloadFailures uint64
	// SchemaID and SchemaVersion are the running schema's (see
	// schema.Registry.SetSchema; "" and 0 for an unnamed one).
	SchemaID      string
	SchemaVersion uint32
	// RulesLoaded and Ready are what /readyz reports.
	RulesLoaded, Ready bool
}

// LostEvents is the events lost after the source read them: refused by
// the bus (dropped, timed out), or given to a detector by a partition
// number it does not have.
func (s *Stats) LostEvents() uint64 {
	t := s.Bus.Total()
	lost := t.Dropped + t.TimedOut + s.Detect.BadPartition
	if s.Sensor != nil {
		lost += s.Sensor.KernelDrops // the kernel's ring buffer was full
	}
	return lost
}

// LostAlerts is the alerts raised and not delivered: refused by the outputs
// (Emit), matched by no route, dropped or rejected by a destination.
// The outputs count each refused Emit too (Sink.Refused): it is counted
// once, here as detection's AlertsDropped.
func (s *Stats) LostAlerts() uint64 {
	lost := s.Detect.AlertsDropped + s.Sink.Unrouted
	for _, d := range s.Sink.Destinations {
		lost += d.Dropped + d.Rejected
	}
	return lost
}

// Stats returns a snapshot; it takes no lock on the event path (each
// component's counters are atomics) and may be called at any time, from
// any goroutine.
func (n *Node) Stats() Stats {
	s := Stats{
		Reloads:              n.reloads.Load(),
		ReloadFailures:       n.reloadFailures.Load(),
		SchemaReloads:        n.schemaReloads.Load(),
		SchemaReloadFailures: n.schemaReloadFailures.Load(),
		SchemaID:             n.reg.SchemaID(),
		SchemaVersion:        n.reg.SchemaVersion(),
		RulesLoaded:          n.rulesLoaded.Load(),
		Ready:                n.Ready(),
		Bus:                  n.bus.Stats(),
	}
	queued := make([]uint64, len(s.Bus.Partitions))
	for i, p := range s.Bus.Partitions {
		queued[i] = p.Queued
	}
	s.Lag = n.lags(queued)
	n.mu.Lock()
	src, retired := n.src, n.retired
	n.mu.Unlock()
	if src != nil {
		s.Source = src.Name()
		if f, ok := src.(statsFiller); ok {
			f.fillStats(&s)
		}
	}
	if d := n.det.Load(); d != nil {
		s.Detect = d.Stats()
		for _, old := range retired {
			s.Detect.Add(old.Stats()) // counts never go down across a reload
		}
	}
	if n.out != nil {
		s.Sink = n.out.Stats()
	}
	return s
}

// statsFiller is a Source that reports its own counts into Stats.
type statsFiller interface {
	fillStats(*Stats)
}
