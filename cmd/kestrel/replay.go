package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// shutdownTimeout bounds draining the bus and flushing the outputs at the
// end of a run.
const shutdownTimeout = 30 * time.Second

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	fs := flag.NewFlagSet("kestrel run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesDir := fs.String("rules", "", "rule packages directory (required)")
	logPath := fs.String("log", "", "recorded log: JSON lines, .zst or .kbin (required)")
	outPath := fs.String("outputs", "", "outputs config file (JSON); default: alerts as JSON lines on stdout")
	speed := fs.Float64("speed", 0, "replay speed: 0 as fast as possible, 1 recorded pace, 2 twice as fast")
	schemaPath := fs.String("schema", "", "schema file (JSON, see kestrel schema); default: the built-in schema")
	partitions := fs.Int("partitions", runtime.GOMAXPROCS(0), "bus partitions (detection workers)")
	lenient := fs.Bool("lenient", false, "skip and count bad log lines instead of stopping at the first")
	quiet := fs.Bool("q", false, "no summary or progress on stderr")
	schemasDir := fs.String("schemas", "", "directory of schema files (JSON) that logs recorded under other schemas are mapped from, by their id and version")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *rulesDir == "" || *logPath == "" || fs.NArg() != 0 {
		fmt.Fprintf(stderr, "kestrel run: -rules and -log are required\n%s", usage)
		return exitUsage
	}
	if *speed < 0 || math.IsNaN(*speed) || math.IsInf(*speed, 0) {
		fmt.Fprintf(stderr, "kestrel run: -speed must be a finite number >= 0\n")
		return exitUsage
	}
	if *partitions < 1 || *partitions > detect.MaxPartitions {
		fmt.Fprintf(stderr, "kestrel run: -partitions must be from 1 to %d\n", detect.MaxPartitions)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The bus measures its backpressure timeout on the replay's mock clock,
	// which moves only with the log: a slow consumer makes the replay wait
	// instead of losing events.
	clk := clock.New()
	pl, ok := startPipeline(pipelineConfig{
		rulesDir: *rulesDir, schemaPath: *schemaPath, outPath: *outPath,
		bus: engine.Config{Partitions: *partitions, Clock: clk, Logger: logger},
	}, clk, logger, stdout, stderr)
	if !ok {
		return exitFail
	}

	bar := &progressBar{w: stderr, on: tty && !*quiet}
	rcfg := replay.Config{
		Clock: clk, Speed: *speed, Lenient: *lenient, Logger: logger,
		Reader:   replay.ReaderOptions{Registry: pl.reg},
		Progress: bar.update,
		// A log that names another schema is refused, not misread, unless
		// -schemas holds it.
		Local: pl.reg,
	}
	if *schemasDir != "" {
		// The log's IDs may be another schema's: the mapping, not the
		// reader, checks them against ours.
		rcfg.Reader.Registry = nil
		rcfg.Resolve = schemaDir(*schemasDir)
	}
	rp, err := replay.New(pl.bus, rcfg)
	var rstats replay.Stats
	var rerr error
	if err != nil {
		rerr = err
	} else {
		rstats, rerr = rp.Replay(ctx, *logPath)
	}
	bar.clear()

	return pl.finish(stderr, *quiet, rerr, func(w io.Writer, d detect.Stats) {
		replayHeader(w, *logPath, rstats, d)
	})
}

// pipelineConfig is what run and sense share: rules, schema, outputs, bus.
type pipelineConfig struct {
	rulesDir, schemaPath, outPath string
	bus                           engine.Config
}

// pipeline is schema, rules, outputs, bus and detection, running: feed its
// bus, then finish.
type pipeline struct {
	reg *schema.Registry
	bus *engine.Bus
	det *detect.Detector
	out *sink.Output
}

// startPipeline loads the schema and rules, opens the outputs and starts the
// bus with detection; on failure it has reported on stderr and returns false.
func startPipeline(cfg pipelineConfig, clk clock.Clock, logger *slog.Logger, stdout, stderr io.Writer) (*pipeline, bool) {
	reg, err := registry(cfg.schemaPath)
	if err != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return nil, false
	}
	set, ok := loadRules(cfg.rulesDir, reg, stderr)
	if !ok {
		return nil, false
	}
	if len(set.Packages) == 0 {
		fmt.Fprintf(stderr, "kestrel: no runnable rules in %s\n", cfg.rulesDir)
		return nil, false
	}

	scfg, err := outputs(cfg.outPath, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "kestrel: outputs: %v\n", err)
		return nil, false
	}
	scfg.Clock, scfg.Logger = clk, logger
	out, err := sink.New(scfg)
	if err != nil {
		closeDestinations(scfg)
		fmt.Fprintf(stderr, "kestrel: outputs: %v\n", err)
		return nil, false
	}
	// Detection routes each event to the partitions that hold the sequence
	// state it can advance or cancel, so the alerts do not depend on
	// -partitions: the detector is built first and hands the bus its Route.
	bcfg := cfg.bus
	if bcfg.Partitions == 0 {
		bcfg.Partitions = runtime.GOMAXPROCS(0)
	}
	n := bcfg.Partitions
	det, err := detect.New(detect.Config{Rules: set.Packages, Output: out, Partitions: n, Clock: clk, Logger: logger,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, n) }})
	if err != nil {
		_ = out.Close(context.Background())
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return nil, false
	}
	if n > 1 {
		bcfg.Route = det.Route
	}
	bus, err := engine.New(bcfg)
	if err == nil {
		err = bus.Run(det.Handle)
	}
	if err != nil {
		if bus != nil {
			_ = bus.Shutdown(context.Background())
		}
		_ = out.Close(context.Background())
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return nil, false
	}
	return &pipeline{reg: reg, bus: bus, det: det, out: out}, true
}

// finish drains the pipeline (every event accepted reaches detection, then
// every alert its outputs), prints the summary unless quiet, its first line
// by header, and returns the exit status: exitFail when feedErr (the
// source's error) is set or anything was lost.
func (pl *pipeline) finish(stderr io.Writer, quiet bool, feedErr error, header func(io.Writer, detect.Stats)) int {
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	berr := pl.bus.Shutdown(sctx)
	oerr := pl.out.Close(sctx)

	code := exitOK
	if feedErr != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", feedErr)
		code = exitFail
	}
	if berr != nil {
		fmt.Fprintf(stderr, "kestrel: bus: %v\n", berr)
		code = exitFail
	}
	if oerr != nil {
		fmt.Fprintf(stderr, "kestrel: outputs: %v\n", oerr)
		code = exitFail
	}
	dstats, bstats, ostats := pl.det.Stats(), pl.bus.Stats().Total(), pl.out.Stats()
	lost := bstats.Dropped + bstats.TimedOut + dstats.AlertsDropped + ostats.Unrouted // sink's Refused counts the same refusals as AlertsDropped
	for _, d := range ostats.Destinations {
		lost += d.Dropped + d.Rejected
	}
	if lost > 0 {
		code = exitFail
	}
	if !quiet {
		header(stderr, dstats)
		summary(stderr, dstats, bstats, ostats)
	}
	return code
}

// replayHeader prints the first lines of run's summary: the log's events.
func replayHeader(w io.Writer, logPath string, r replay.Stats, d detect.Stats) {
	eps := 0.0
	if r.Duration > 0 {
		eps = float64(d.Events) / r.Duration.Seconds()
	}
	fmt.Fprintf(w, "kestrel: %s: %d events in %v (%s events/s), recorded span %v\n",
		logPath, d.Events, r.Duration.Round(time.Microsecond), humanRate(eps), r.Span().Round(time.Millisecond))
	if r.Mapped {
		fmt.Fprintf(w, "  schema: mapped from %s version %d: %d events of unmapped types, %d fields dropped\n",
			r.Header.SchemaID, r.Header.SchemaVersion, r.Unmapped, r.UnmappedFields)
		for _, rf := range r.Refusals {
			if rf.Count > 0 {
				fmt.Fprintf(w, "    %s: %s (%d times)\n", rf.Path, rf.Reason, rf.Count)
			}
		}
	}
	if r.BadLines > 0 || r.OutOfOrder > 0 || r.SkippedEvents > 0 {
		fmt.Fprintf(w, "  log: %d bad records, %d events in skipped blocks, %d out of order\n", r.BadLines, r.SkippedEvents, r.OutOfOrder)
		for _, e := range r.Errors {
			fmt.Fprintf(w, "    %v\n", e)
		}
	}
}

// summary prints what detection and the outputs did, after the source's
// header lines.
func summary(w io.Writer, d detect.Stats, b engine.PartitionStats, o sink.Stats) {
	if d.Events > 0 && d.Copies > 0 {
		fmt.Fprintf(w, "  routing: %d copies to join-key partitions (%.3f copies per event)\n", d.Copies, float64(d.Events+d.Copies)/float64(d.Events))
	}
	fmt.Fprintf(w, "  alerts: %d", d.Alerts)
	if o.Suppressed > 0 {
		fmt.Fprintf(w, " (%d suppressed as duplicates)", o.Suppressed)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	rules := slices.Clone(d.Rules)
	slices.SortStableFunc(rules, func(a, b detect.RuleStats) int { return int(b.Alerts) - int(a.Alerts) })
	for _, rs := range rules {
		fmt.Fprintf(tw, "    %s\t%d\t%s\n", rs.ID, rs.Alerts, rs.Name)
	}
	_ = tw.Flush()
	var dests []string
	for _, ds := range o.Destinations {
		dests = append(dests, fmt.Sprintf("%s %d delivered", ds.Name, ds.Delivered))
		if ds.Dropped+ds.Rejected > 0 {
			dests[len(dests)-1] += fmt.Sprintf(" (%d dropped, %d rejected)", ds.Dropped, ds.Rejected)
		}
	}
	fmt.Fprintf(w, "  outputs: %s\n", strings.Join(dests, ", "))
	fmt.Fprintf(w, "  drops: events %d (bus full), alerts %d (output refused), %d unrouted\n",
		b.Dropped+b.TimedOut, d.AlertsDropped, o.Unrouted) // every refusal by Emit is counted by both detect and sink: once here
	fmt.Fprintf(w, "  evictions: expired %d, terminated %d, capacity %d, memory %d; %d partial matches pending (%d KiB)\n",
		d.Evicted.Expired, d.Evicted.Terminated, d.Evicted.Capacity, d.Evicted.Memory, d.Partials, d.Bytes>>10)
}

func humanRate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// progressBar draws the replay's progress on a terminal.
type progressBar struct {
	w     io.Writer
	on    bool
	mu    sync.Mutex
	drawn bool
	last  time.Time
}

func (p *progressBar) update(pr replay.Progress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !pr.Done && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	f := pr.Fraction()
	bar := strings.Repeat("?", width)
	pct := "  ?%"
	if f >= 0 {
		n := int(f * width)
		bar = strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		pct = fmt.Sprintf("%3.0f%%", f*100)
	}
	fmt.Fprintf(p.w, "\r[%s] %s %d events", bar, pct, pr.Published)
	p.drawn = true
}

func (p *progressBar) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
		p.drawn = false
	}
}
