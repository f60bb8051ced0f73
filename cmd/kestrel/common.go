package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/node"
	"github.com/kestrel-sec/kestrel/sink"
)

// hangups delivers SIGHUP to a running node (main sets it; nil in tests
// that call run directly, which then never reload).
var hangups <-chan os.Signal

// logFlags are -log-format and -log-level, which every command takes.
type logFlags struct {
	format, level *string
}

func addLogFlags(fs *flag.FlagSet) *logFlags {
	return &logFlags{
		format: fs.String("log-format", "text", "log format on stderr: text or json"),
		level:  fs.String("log-level", "warn", "least level logged: debug, info, warn or error"),
	}
}

// logger returns the logger the flags describe, writing to w.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*l.level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: debug, info, warn or error", *l.level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch *l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: text or json", *l.format)
}

// minLevel raises a handler's least level (the Kafka client's chatter
// stays out of the log unless -v).
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(g string) slog.Handler { return minLevel{h.Handler.WithGroup(g), h.min} }

// nodeFlags are the flags run, sense and run -brokers share.
type nodeFlags struct {
	rulesDir, outPath, schemaPath, listen *string
	alertFields                           *string
	partitions                            *int
	lateness                              *time.Duration
	quiet                                 *bool
	log                                   *logFlags
	fs                                    *flag.FlagSet
}

func addNodeFlags(fs *flag.FlagSet, rulesHelp string) *nodeFlags {
	return &nodeFlags{
		rulesDir:   fs.String("rules", "", rulesHelp),
		outPath:    fs.String("outputs", "", "outputs config file (JSON); default: alerts as JSON lines on stdout"),
		schemaPath: fs.String("schema", "", "schema file (JSON, see kestrel schema); default: the built-in schema"),
		listen:     fs.String("listen", "", "serve /metrics, /healthz, /readyz and /debug/pprof/ on this address (host:port)"),
		alertFields: fs.String("alert-fields", "", "how alerts' fields are written: tagged ({\"String\":\"bash\"}) or flat (ECS-flat plain values); "+
			"default: the outputs file's alert_fields, else tagged"),
		partitions: fs.Int("partitions", runtime.GOMAXPROCS(0), "bus partitions (detection workers)"),
		lateness: fs.Duration("lateness", 0, "how late, in event time, an event may arrive behind the newest one and still find the partial matches it needs "+
			"(see detect.Config.Lateness); default: 0 for a log, which is in time order, "+defaultKafkaLateness.String()+" with -brokers "+
			"(partitions and sensors are not in order with one another), "+defaultSenseLateness.String()+" for sense (per-CPU events)"),
		quiet: fs.Bool("q", false, "no summary or progress on stderr"),
		log:   addLogFlags(fs),
		fs:    fs,
	}
}

// Lateness defaults (-lateness) for input that is not in one time order.
const (
	defaultKafkaLateness = 30 * time.Second
	defaultSenseLateness = time.Second
)

// withLateness sets cfg.Detect.Lateness from -lateness, or to def when the
// flag was not given.
func (f *nodeFlags) withLateness(cfg *node.Config, def time.Duration) {
	cfg.Detect.Lateness = def
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "lateness" {
			cfg.Detect.Lateness = *f.lateness
		}
	})
}

// check validates the shared flags; it returns a usage message or "".
func (f *nodeFlags) check() string {
	if *f.partitions < 1 || *f.partitions > detect.MaxPartitions {
		return fmt.Sprintf("-partitions must be from 1 to %d", detect.MaxPartitions)
	}
	if *f.lateness < 0 {
		return "-lateness must not be negative"
	}
	if _, err := sink.ParseFieldsForm(*f.alertFields); err != nil {
		return "-alert-fields: " + err.Error()
	}
	return ""
}

// checkedLogger checks the shared flags and makes the logger they ask for;
// on a problem it says so on stderr as "kestrel <cmd>: <problem>" and
// returns false (the command exits with exitUsage).
func (f *nodeFlags) checkedLogger(cmd string, stderr io.Writer) (*slog.Logger, bool) {
	msg := f.check()
	if msg == "" {
		logger, err := f.log.logger(stderr)
		if err == nil {
			return logger, true
		}
		msg = err.Error()
	}
	fmt.Fprintf(stderr, "kestrel %s: %s\n", cmd, msg)
	return nil, false
}

// nodeConfig is checkedLogger, then the node.Config the shared flags
// describe: rules, schema, outputs, partitions, the logger and stdout.
func (f *nodeFlags) nodeConfig(cmd string, stdout, stderr io.Writer) (node.Config, bool) {
	logger, ok := f.checkedLogger(cmd, stderr)
	return node.Config{
		RulesDir: *f.rulesDir, SchemaPath: *f.schemaPath, OutputsPath: *f.outPath, Stdout: stdout,
		Bus: engine.Config{Partitions: *f.partitions}, Logger: logger,
	}, ok
}

// withAlertFields applies -alert-fields to cfg, a node with rules: its
// outputs (cfg.Sink, else the outputs file or stdout, loaded here as the
// node would) write alerts' fields in that form. On error nothing stays
// open; on success a caller whose node fails to start closes
// cfg.Sink's destinations.
func (f *nodeFlags) withAlertFields(cfg *node.Config) error {
	if *f.alertFields == "" || cfg.RulesDir == "" {
		return nil
	}
	form, err := sink.ParseFieldsForm(*f.alertFields) // checked by check
	if err != nil {
		return err
	}
	if len(cfg.Sink.Destinations) == 0 {
		scfg, err := sink.LoadConfig(cfg.OutputsPath, sink.LoadOptions{Stdout: cfg.Stdout, Retry: cfg.Retry})
		if err != nil {
			return fmt.Errorf("outputs: %w", err)
		}
		cfg.Sink = scfg
	}
	cfg.Sink.Fields = form
	return nil
}

// startNode applies -lateness (lateness when the flag was not given) and
// -alert-fields to cfg and builds its node. On failure it has said why on
// stderr and closed the outputs cfg holds.
func (f *nodeFlags) startNode(cfg node.Config, lateness time.Duration, stderr io.Writer) (*node.Node, bool) {
	f.withLateness(&cfg, lateness)
	if err := f.withAlertFields(&cfg); err != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
	} else if n, ok := newNode(cfg, stderr); ok {
		return n, true
	}
	if cfg.Sink.Destinations != nil {
		_ = cfg.Sink.CloseDestinations()
	}
	return nil, false
}

// newNode builds the node cfg describes, reporting a failure on stderr.
// With RulesDir it loads the schema and rules itself first, to print every
// rule problem and skipped package on its own line; the node reads the
// directory again on Reload.
func newNode(cfg node.Config, stderr io.Writer) (*node.Node, bool) {
	if cfg.RulesDir != "" {
		reg, set, ok := loadRulesAt(cfg.RulesDir, cfg.SchemaPath, stderr)
		if !ok {
			return nil, false
		}
		if len(set.Packages) == 0 {
			fmt.Fprintf(stderr, "kestrel: no runnable rules in %s\n", cfg.RulesDir)
			return nil, false
		}
		cfg.Registry, cfg.Rules = reg, set.Packages
	}
	n, err := node.New(cfg)
	if err != nil {
		reportNodeError(stderr, err)
		return nil, false
	}
	return n, true
}

func reportNodeError(w io.Writer, err error) {
	var re *node.RulesError
	if errors.As(err, &re) {
		for _, e := range splitErrors(re.Err) {
			fmt.Fprintf(w, "kestrel: %v\n", e)
		}
		return
	}
	var se *node.StageError
	if errors.As(err, &se) {
		fmt.Fprintf(w, "kestrel: %s: %v\n", se.Stage, se.Err)
		return
	}
	fmt.Fprintf(w, "kestrel: %v\n", err)
}

// serveOps serves the node's endpoints on addr until the returned stop is
// called; "" serves nothing.
func serveOps(addr string, n *node.Node, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-listen: %w", err)
	}
	srv := &http.Server{Handler: node.Handler(n), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("kestrel: -listen", "err", err)
		}
	}()
	logger.Info("kestrel: serving metrics, health and pprof", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// runNode runs n on src with the endpoints on listen, reloading the rules
// on SIGHUP, until src ends or ctx does (SIGTERM, SIGINT); it returns Run's
// error.
func runNode(ctx context.Context, n *node.Node, src node.Source, listen string, logger *slog.Logger, stderr io.Writer) error {
	stopOps, err := serveOps(listen, n, logger)
	if err != nil {
		_ = n.Close(context.Background())
		return err
	}
	defer stopOps()
	reloaderDone := make(chan struct{})
	stopReloader := make(chan struct{})
	go func() {
		defer close(reloaderDone)
		for {
			select {
			case <-stopReloader:
				return
			case <-hangups:
				hangup(n, logger, stderr)
			}
		}
	}()
	err = n.Run(ctx, src)
	close(stopReloader)
	<-reloaderDone
	return err
}

// hangup is SIGHUP: with -schema, the schema file is read again first and
// applied when the change is compatible (the rules are then recompiled
// against it); a breaking change is refused with the report and the rules
// it would break, and nothing reloads. Otherwise, or when the schema file
// did not change, the rules directory is read again.
func hangup(n *node.Node, logger *slog.Logger, stderr io.Writer) {
	rep, err := n.ReloadSchemaFile()
	var se *node.SchemaError
	switch {
	case errors.Is(err, node.ErrNoSchemaFile):
	case errors.As(err, &se):
		logger.Error("kestrel: SIGHUP: schema not reloaded; the old schema and rules keep running", "err", err)
		fmt.Fprintf(stderr, "kestrel: schema reload refused, old schema kept: %v\n", se.Err)
		for _, c := range se.Report.Breaking() {
			fmt.Fprintf(stderr, "kestrel:   %s\n", c)
		}
		for _, im := range se.Affected {
			fmt.Fprintf(stderr, "kestrel:   rule %s references %s: %s\n", im.Rule, im.Path, im.Change.Kind)
		}
		return
	case err != nil:
		logger.Error("kestrel: SIGHUP: schema evolved, rules not reloaded; the old rules keep running", "err", err)
		fmt.Fprintf(stderr, "kestrel: reload failed, old rules kept: %v\n", err)
		return
	case len(rep.Changes) > 0:
		logger.Warn("kestrel: SIGHUP: schema evolved and rules reloaded", "changes", len(rep.Changes),
			"version", n.Registry().SchemaVersion(), "rules", len(n.Stats().Detect.Rules))
		return
	}
	if err := n.Reload(); err != nil {
		logger.Error("kestrel: SIGHUP: rules not reloaded; the old rules keep running", "err", err)
		fmt.Fprintf(stderr, "kestrel: reload failed, old rules kept: %v\n", err)
	} else {
		logger.Warn("kestrel: SIGHUP: rules reloaded", "rules", len(n.Stats().Detect.Rules))
	}
}

// finishCode prints Run's errors (all but the loss, which the summary
// shows) and returns the exit status.
func finishCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if !errors.Is(e, node.ErrLost) {
			reportNodeError(stderr, e)
		}
	}
	return exitFail
}

// interrupted says where the input stopped when ctx ended it.
func interrupted(ctx context.Context, w io.Writer, where string) {
	if ctx.Err() != nil {
		fmt.Fprintf(w, "  interrupted: input stopped %s\n", where)
	}
}

// version is the module's version and VCS revision, from the build.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "kestrel (unknown version)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		case "vcs.time":
			at = " " + s.Value
		}
	}
	out := "kestrel " + v
	if rev != "" {
		out += " " + rev + modified + at
	}
	return out + " " + bi.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// replayRetry is the outputs' retry policy for a replay, which must end:
// a few tries, then the alert is counted as dropped. A node on a live
// source retries without bound (sink.RetryConfig's zero value).
var replayRetry = sink.RetryConfig{MaxAttempts: 3}
