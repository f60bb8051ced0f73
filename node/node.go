package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// DefaultShutdownTimeout bounds draining the bus and flushing the outputs
// when Config.ShutdownTimeout is 0.
const DefaultShutdownTimeout = 30 * time.Second

// Config configures a Node. Its zero value is a node with the built-in
// schema, no rules (set RulesDir or Rules, or Handler) and alerts written
// as JSON lines on os.Stdout.
type Config struct {
	// Registry is the schema rules compile against and events are read
	// with. nil: the file SchemaPath names, or rule.DefaultRegistry.
	Registry *schema.Registry
	// SchemaPath is a schema file (see rule.LoadSchema), used when
	// Registry is nil, and read again by ReloadSchemaFile (with Registry
	// set too, it names the file Registry was read from).
	SchemaPath string

	// Rules are loaded rule packages. nil: the packages in RulesDir.
	Rules []*rule.Package
	// RulesDir is the rule packages directory (see rule.LoadDir), which
	// New reads when Rules is nil and Reload reads again.
	RulesDir string
	// Handler, with neither Rules nor RulesDir, receives the events
	// instead of detection (a node that prints or forwards them). With
	// neither rules nor Handler, New fails with ErrNoRules.
	Handler engine.Handler

	// Bus configures the bus. Partitions 0: GOMAXPROCS. The node sets its
	// Clock, Logger and Route.
	Bus engine.Config
	// Sink configures the alert outputs. No Destinations: the outputs
	// file OutputsPath names (sink.LoadConfig), or JSON lines on Stdout.
	// The node sets its Clock and Logger.
	Sink sink.Config
	// OutputsPath is the outputs file, used when Sink has no destinations.
	OutputsPath string
	// Retry is the retry policy of the outputs the file gives none; its
	// zero value retries without bound (see sink.LoadOptions).
	Retry sink.RetryConfig
	// Stdout is where "stdout" outputs write; nil: os.Stdout.
	Stdout io.Writer

	// Detect holds detection's limits (partial matches, memory); the node
	// sets its Rules, Output, Partitions, Clock, Logger and
	// EntityPartition.
	Detect detect.Config

	// Clock is the clock of the bus, detection and outputs; a ReplaySource
	// drives it with the log's time. nil: a new clock.Manager (real time
	// until a replay sets it).
	Clock *clock.Manager
	// Logger receives the node's messages; nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds draining the bus and flushing the outputs
	// once the source stopped. 0: DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Node is a running detection pipeline; see the package doc.
type Node struct {
	cfg  Config
	reg  *schema.Registry
	clk  *clock.Manager
	log  *slog.Logger
	bus  *engine.Bus
	out  *sink.Output
	rcfg rule.LoadOptions

	// det is the detector workers hand batches to; Reload swaps it. Each
	// worker loads it once per batch, so a batch runs on one rule set.
	det atomic.Pointer[detect.Detector]
	// labels are the pprof label sets of the partitions, built once so
	// that setting them per batch allocates nothing.
	labels []context.Context
	// backlog and batchSize measure each partition's lag (lag.go).
	backlog   []backlog
	batchSize int
	epoch     time.Time // when New returned: backlog times count from it

	mu      sync.Mutex         // guards retired, src, rules, and serialises Reload
	retired []*detect.Detector // detectors replaced by Reload, for Stats
	src     Source
	rules   []*rule.Package // the rules the current detector runs

	schemaMu                            sync.Mutex // serialises ReloadSchema
	schemaReloads, schemaReloadFailures atomic.Uint64

	ran, rulesLoaded, sourceReady, stopped atomic.Bool
	reloads, reloadFailures                atomic.Uint64
}

// New loads the schema, the rules and the outputs configuration, and
// builds the outputs, detection and the bus; it starts nothing that Run
// would not (the outputs' workers excepted: Close releases a node that is
// never run). Errors are a *RulesError, a *StageError, or ErrNoRules.
func New(cfg Config) (*Node, error) {
	n := &Node{cfg: cfg, clk: cfg.Clock, log: cfg.Logger}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.clk == nil {
		n.clk = clock.New()
	}
	if n.cfg.ShutdownTimeout <= 0 {
		n.cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	n.reg = cfg.Registry
	if n.reg == nil {
		var err error
		if cfg.SchemaPath == "" {
			n.reg = rule.DefaultRegistry()
		} else if n.reg, err = rule.LoadSchema(cfg.SchemaPath); err != nil {
			return nil, &StageError{"schema", err}
		}
	}
	n.rcfg = rule.LoadOptions{Registry: n.reg}
	rules := cfg.Rules
	if rules == nil && cfg.RulesDir != "" {
		var err error
		if rules, err = n.loadRules(); err != nil {
			return nil, err
		}
	}
	if len(rules) == 0 && cfg.Handler == nil {
		return nil, ErrNoRules
	}

	bcfg := cfg.Bus
	if bcfg.Partitions == 0 {
		bcfg.Partitions = runtime.GOMAXPROCS(0)
	}
	bcfg.Clock, bcfg.Logger = n.clk, n.log
	parts := bcfg.Partitions

	if len(rules) > 0 {
		scfg := cfg.Sink
		if len(scfg.Destinations) == 0 {
			var err error
			scfg, err = sink.LoadConfig(cfg.OutputsPath, sink.LoadOptions{Stdout: cfg.Stdout, Retry: cfg.Retry})
			if err != nil {
				return nil, &StageError{"outputs", err}
			}
		}
		scfg.Clock, scfg.Logger = n.clk, n.log
		out, err := sink.New(scfg)
		if err != nil {
			_ = scfg.CloseDestinations()
			return nil, &StageError{"outputs", err}
		}
		n.out = out
		det, err := n.newDetector(rules, parts)
		if err != nil {
			_ = out.Close(context.Background())
			return nil, &StageError{"detect", err}
		}
		n.det.Store(det)
		n.rules = rules
		n.rulesLoaded.Store(true)
		// Detection routes each event to the partitions that hold the
		// sequence state it can advance or cancel, so alerts do not depend
		// on the partition count. Reload changes the rules, so the route
		// asks the current detector.
		if parts > 1 {
			bcfg.Route = func(ev *schema.Event) engine.PartitionSet { return n.det.Load().Route(ev) }
		}
	}
	bus, err := engine.New(bcfg)
	if err != nil {
		n.closeOutputs(context.Background())
		return nil, &StageError{"bus", err}
	}
	n.bus = bus
	n.labels = make([]context.Context, bus.Partitions())
	for p := range n.labels {
		n.labels[p] = pprof.WithLabels(context.Background(), pprof.Labels("partition", strconv.Itoa(p)))
	}
	n.backlog = make([]backlog, bus.Partitions())
	n.batchSize = bus.Config().BatchSize
	n.epoch = time.Now()
	return n, nil
}

// loadRules loads RulesDir, logging the packages it skips.
func (n *Node) loadRules() ([]*rule.Package, error) {
	dir := n.cfg.RulesDir
	set, err := rule.LoadDir(dir, n.rcfg)
	if set != nil {
		for _, u := range set.Unsupported {
			n.log.Warn("node: unsupported rule package", "err", u)
		}
		for _, p := range set.Packages {
			for _, f := range p.Ignored {
				n.log.Warn("node: file ignored: the rule runs rule.eql", "dir", p.Dir, "file", f, "rule", p.ID())
			}
		}
	}
	if err != nil {
		return nil, &RulesError{Dir: dir, Err: err}
	}
	if len(set.Packages) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoRules, dir)
	}
	return set.Packages, nil
}

func (n *Node) newDetector(rules []*rule.Package, parts int) (*detect.Detector, error) {
	return detect.New(n.detectConfig(rules, parts))
}

func (n *Node) detectConfig(rules []*rule.Package, parts int) detect.Config {
	dc := n.cfg.Detect
	dc.Rules, dc.Output, dc.Partitions, dc.Clock, dc.Logger = rules, n.out, parts, n.clk, n.log
	dc.EntityPartition = func(k schema.EntityKey) int { return engine.EntityPartition(k, parts) }
	return dc
}

// Registry returns the schema the node reads events with.
func (n *Node) Registry() *schema.Registry { return n.reg }

// Bus returns the node's bus (for a Source, or a test that publishes).
func (n *Node) Bus() *engine.Bus { return n.bus }

// Clock returns the node's clock.
func (n *Node) Clock() *clock.Manager { return n.clk }

// handle is the bus's handler: the batch runs under its partition's pprof
// labels on the current detector (or Config.Handler), and the partition's
// backlog is tracked (lag.go). It allocates nothing.
func (n *Node) handle(p int, batch []*schema.Event) {
	if uint(p) >= uint(len(n.labels)) {
		n.run(p, batch)
		return
	}
	pprof.SetGoroutineLabels(n.labels[p])
	b := &n.backlog[p]
	if b.since.Load() == 0 {
		b.since.Store(backlogPending)
	}
	n.run(p, batch)
	if len(batch) < n.batchSize {
		b.since.Store(0) // the worker took all that was queued: caught up
		return
	}
	if b.since.Load() == backlogPending { // a full batch: behind, and when from is not known yet
		b.since.CompareAndSwap(backlogPending, n.sinceEpoch())
	}
}

func (n *Node) run(p int, batch []*schema.Event) {
	if d := n.det.Load(); d != nil {
		d.Handle(p, batch)
		return
	}
	n.cfg.Handler(p, batch)
}

// Run starts the bus's workers and runs src until it returns or ctx ends,
// then stops the node in order: the source, the bus (drained), the
// outputs (flushed and closed). A source that ends because ctx did is a
// clean stop. It returns the source's other errors and the shutdown's as
// *StageError values, joined with a *LossError when anything was lost
// (Stats says what). Run may be called once.
func (n *Node) Run(ctx context.Context, src Source) error {
	if !n.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	n.mu.Lock()
	n.src = src
	n.mu.Unlock()
	var errs []error
	if err := n.bus.Run(n.handle); err != nil {
		errs = append(errs, &StageError{"bus", err})
	} else {
		n.log.Info("node: running", "source", src.Name(), "partitions", n.bus.Partitions(), "rules", n.ruleCount())
		err := src.Run(ctx, Input{Bus: n.bus, Registry: n.reg, Clock: n.clk, Logger: n.log, Ready: n.markReady})
		if err != nil && !(ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			errs = append(errs, &StageError{"source", err})
		}
		n.log.Info("node: source stopped", "source", src.Name(), "err", err)
	}
	n.sourceReady.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	defer cancel()
	if err := n.bus.Shutdown(sctx); err != nil {
		errs = append(errs, &StageError{"bus", err})
	} else if d := n.det.Load(); d != nil {
		// The input has ended and the workers are done: matches held for a
		// missing-event step's window become alerts before the outputs close.
		d.Flush()
	}
	if err := n.closeOutputs(sctx); err != nil {
		errs = append(errs, &StageError{"outputs", err})
	}
	n.stopped.Store(true)
	st := n.Stats()
	if ev, al := st.LostEvents(), st.LostAlerts(); ev+al > 0 {
		errs = append(errs, &LossError{Events: ev, Alerts: al})
	}
	n.log.Info("node: stopped", "events", st.Detect.Events, "alerts", st.Detect.Alerts)
	return errors.Join(errs...)
}

// Close releases a node that was never run (its outputs); after Run it does
// nothing.
func (n *Node) Close(ctx context.Context) error {
	if !n.ran.CompareAndSwap(false, true) {
		return nil
	}
	_ = n.bus.Shutdown(ctx)
	return n.closeOutputs(ctx)
}

func (n *Node) closeOutputs(ctx context.Context) error {
	if n.out == nil {
		return nil
	}
	return n.out.Close(ctx)
}

func (n *Node) markReady() { n.sourceReady.Store(true) }

// Ready reports whether the node is ready for work: rules loaded (or a
// Handler set) and the source connected and feeding.
func (n *Node) Ready() bool {
	return (n.rulesLoaded.Load() || n.cfg.Handler != nil) && n.sourceReady.Load() && !n.stopped.Load()
}

// Healthy reports whether the node is alive: it has not stopped.
func (n *Node) Healthy() bool { return !n.stopped.Load() }

func (n *Node) ruleCount() int {
	if d := n.det.Load(); d != nil {
		return len(d.Stats().Rules)
	}
	return 0
}

// Reload reads the rules directory again and, when every package loads,
// swaps them in: each worker's next batch runs on the new rules, so no
// event is skipped. Partial matches of rules whose compiled form is
// unchanged carry over (see detect.Detector.Reload); those of changed or
// removed rules are dropped, counted as Evictions.Reload. When
// loading fails the old rules keep running and the error says why (a
// *RulesError, ErrNoRules, or a *StageError from detection). A node
// without RulesDir has nothing to reload (ErrNotRunning).
func (n *Node) Reload() error {
	if n.cfg.RulesDir == "" || n.det.Load() == nil {
		return ErrNotRunning
	}
	rules, err := n.loadRules()
	if err != nil {
		n.reloadFailures.Add(1)
		return err
	}
	return n.ReloadRules(rules)
}

// ReloadRules swaps in rules, loaded by the caller, as Reload does.
func (n *Node) ReloadRules(rules []*rule.Package) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.det.Load()
	if old == nil {
		return ErrNotRunning
	}
	det, rep, err := old.Reload(n.detectConfig(rules, old.Partitions()))
	if err != nil {
		n.reloadFailures.Add(1)
		return &StageError{"detect", err}
	}
	n.det.Store(det)
	n.rules = rules
	// The old detector stays for Stats: a worker may still be in a batch
	// on it, and its counts belong to the node's totals. Each partition's
	// worker moves the state of unchanged rules out of it on its next
	// batch (and drops the rest), so what it still holds shows in Stats
	// until then.
	n.retired = append(n.retired, old)
	n.reloads.Add(1)
	n.log.Info("node: rules reloaded", "rules", len(rules), "reloads", n.reloads.Load(),
		"state_kept", rep.Kept, "state_dropped", rep.Dropped)
	return nil
}
