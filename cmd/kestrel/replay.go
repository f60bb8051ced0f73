package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/internal/human"
	"github.com/kestrel-sec/kestrel/node"
	"github.com/kestrel-sec/kestrel/replay"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	fs := flag.NewFlagSet("kestrel run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNodeFlags(fs, "rule packages directory (required)")
	logPath := fs.String("log", "", "recorded log: JSON lines, .zst, .kbin or .kpb (required)")
	speed := fs.Float64("speed", 0, "replay speed: 0 as fast as possible, 1 recorded pace, 2 twice as fast")
	lenient := fs.Bool("lenient", false, "skip and count bad log lines instead of stopping at the first")
	schemasDir := fs.String("schemas", "", "directory of schema files (JSON) that logs recorded under other schemas are mapped from, by their id and version")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *nf.rulesDir == "" || *logPath == "" || fs.NArg() != 0 {
		fmt.Fprintf(stderr, "kestrel run: -rules and -log are required\n%s", usage)
		return exitUsage
	}
	if *speed < 0 || math.IsNaN(*speed) || math.IsInf(*speed, 0) {
		fmt.Fprintf(stderr, "kestrel run: -speed must be a finite number >= 0\n")
		return exitUsage
	}
	ncfg, ok := nf.nodeConfig("run", stdout, stderr)
	if !ok {
		return exitUsage
	}
	// The bus measures its backpressure timeout on the replay's mock clock,
	// which moves only with the log: a slow consumer makes the replay wait
	// instead of losing events. A replay must end, so its outputs give up
	// after a few tries unless the outputs file says otherwise.
	ncfg.Retry = replayRetry
	n, ok := nf.startNode(ncfg, 0, stderr)
	if !ok {
		return exitFail
	}
	bar := &progressBar{w: stderr, on: tty && !*nf.quiet}
	src := &node.ReplaySource{Path: *logPath, Config: replay.Config{Speed: *speed, Lenient: *lenient, Progress: bar.update}}
	if *schemasDir != "" {
		// A log whose header names another schema is mapped into the
		// rules' schema; without -schemas it is refused, not misread.
		src.Config.Resolve = schemaDir(*schemasDir)
	}
	runErr := runNode(ctx, n, src, *nf.listen, ncfg.Logger, stderr)
	bar.clear()
	code := finishCode(stderr, runErr)
	if rs := src.Stats(); *lenient && code == exitOK && rs.Events == 0 && ctx.Err() == nil {
		// Lenient skips bad records; a log of nothing but bad records is
		// not a success.
		fmt.Fprintf(stderr, "kestrel run: -lenient: no event decoded from %s (%d records, %d bad)\n", *logPath, rs.Lines, rs.BadLines)
		code = exitFail
	}
	if !*nf.quiet {
		st := n.Stats()
		replayHeader(stderr, *logPath, src.Stats(), st.Detect)
		interrupted(ctx, stderr, fmt.Sprintf("after %d records (%d bytes) of %s", src.Stats().Lines, src.Stats().Bytes, *logPath))
		summary(stderr, st)
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
		logPath, d.Events, r.Duration.Round(time.Microsecond), human.Rate(eps), r.Span().Round(time.Millisecond))
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
func summary(w io.Writer, st node.Stats) {
	d, b, o := st.Detect, st.Bus.Total(), st.Sink
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
	if st.Reloads+st.ReloadFailures > 0 {
		fmt.Fprintf(w, "  rules: reloaded %d times, %d reloads failed\n", st.Reloads, st.ReloadFailures)
	}
	if st.SchemaReloads+st.SchemaReloadFailures > 0 {
		fmt.Fprintf(w, "  schema: evolved %d times (now version %d), %d changes refused\n", st.SchemaReloads, st.SchemaVersion, st.SchemaReloadFailures)
	}
	fmt.Fprintf(w, "  evictions: expired %d, terminated %d, capacity %d, memory %d, reload %d; %d partial matches pending (%d KiB)\n",
		d.Evicted.Expired, d.Evicted.Terminated, d.Evicted.Capacity, d.Evicted.Memory, d.Evicted.Reload, d.Partials, d.Bytes>>10)
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
