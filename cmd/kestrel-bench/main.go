// Command kestrel-bench measures Kestrel's publish and delivery latency,
// throughput, replay speed and alert dispatch beside peers (a buffered Go
// channel and Workiva's queue.RingBuffer) measured in the same run, checks
// the figures against the project's targets, and prints one table.
//
// Usage:
//
//	go run ./cmd/kestrel-bench [flags]
//
// The exit status is 0 when every target is met, 1 when a target is missed
// (or a scenario could not run), and 2 for bad usage.
//
// Flags:
//
//	-quick            run every scenario briefly (under 20 s), for CI
//	-only PREFIXES    run only scenarios whose names start with one of these (comma-separated)
//	-measure D        measurement time per scenario (default 1s, -quick 250ms)
//	-rate N           steady publish rate per producer, events/s (default 100000)
//	-seed N           workload seed (default 1)
//	-default-wait     run the bus with the default wait strategy, not ring.LowLatency
//	-latency-procs N  GOMAXPROCS of the latency scenarios (default: CPUs - 1, at least 1)
//	-json FILE        write every figure, the machine and the configuration as JSON
//	-markdown         print the table as Markdown (for PERF.md) instead of text
//	-plot FILE.svg    draw the latency percentile distributions
//	-cpuprofile FILE  write a CPU profile; the report then lists the hottest functions
//	-trace FILE       write a runtime/trace execution trace of the whole run (go tool trace FILE)
//	-memprofile FILE  write a heap profile at the end
//	-mutexprofile FILE, -blockprofile FILE   write mutex / blocking profiles
//	-pprof ADDR       serve net/http/pprof on ADDR while running
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	rpprof "runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/bench"
)

// Exit statuses.
const (
	exitMet    = 0
	exitMissed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr))
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	cfg                                          bench.Config
	jsonPath, plotPath                           string
	markdown                                     bool
	cpuProfile, memProfile, mutexProf, blockProf string
	tracePath                                    string
	pprofAddr                                    string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kestrel-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.cfg.Quick, "quick", false, "run every scenario briefly (under 20 s), for CI")
	fs.StringVar(&o.cfg.Only, "only", "", "run only scenarios whose names start with one of these comma-separated prefixes (publish, subscribe, throughput, replay, alerts, rules, idle)")
	fs.DurationVar(&o.cfg.Measure, "measure", 0, "measurement time per scenario (default 1s, -quick 250ms)")
	fs.IntVar(&o.cfg.SteadyRate, "rate", 0, "steady publish rate per producer in events/s (default 100000)")
	fs.Int64Var(&o.cfg.Seed, "seed", 0, "workload seed (default 1)")
	fs.BoolVar(&o.cfg.DefaultWait, "default-wait", false, "run the bus with the ring's default wait strategy instead of ring.LowLatency")
	fs.IntVar(&o.cfg.LatencyProcs, "latency-procs", 0, "GOMAXPROCS of the latency scenarios (default: CPUs - 1, at least 1)")
	fs.StringVar(&o.jsonPath, "json", "", "write every figure, the machine and the configuration as JSON to `FILE`")
	fs.BoolVar(&o.markdown, "markdown", false, "print the table as Markdown, for PERF.md")
	fs.StringVar(&o.plotPath, "plot", "", "draw the latency percentile distributions to `FILE.svg`")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.StringVar(&o.tracePath, "trace", "", "write a runtime/trace execution trace of the run to `FILE` (read it with go tool trace)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to `FILE`")
	fs.StringVar(&o.mutexProf, "mutexprofile", "", "write a mutex contention profile to `FILE`")
	fs.StringVar(&o.blockProf, "blockprofile", "", "write a goroutine blocking profile to `FILE`")
	fs.StringVar(&o.pprofAddr, "pprof", "", "serve net/http/pprof on `ADDR` (e.g. localhost:6060) while running")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kestrel-bench [flags]\n\nMeasures Kestrel against a Go channel and Workiva's RingBuffer and checks the targets.\nExit status: 0 targets met, 1 a target missed, 2 bad usage.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (kestrel-bench takes flags only)", fs.Arg(0))
	}
	if err := o.cfg.Validate(); err != nil {
		return nil, err
	}
	if o.plotPath != "" && !strings.HasSuffix(strings.ToLower(o.plotPath), ".svg") {
		return nil, fmt.Errorf("-plot %q: the plot is SVG; name the file *.svg", o.plotPath)
	}
	return o, nil
}

// run is the whole command, separated from main so tests can run it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitMet
	}
	if err != nil {
		fmt.Fprintf(stderr, "kestrel-bench: %v\n", err)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kestrel-bench: %v\n", err)
		return exitMissed
	}

	if o.pprofAddr != "" {
		closeSrv, err := servePprof(o.pprofAddr)
		if err != nil {
			fmt.Fprintf(stderr, "kestrel-bench: -pprof %s: %v\n", o.pprofAddr, err)
			return exitUsage
		}
		defer closeSrv()
	}
	if o.mutexProf != "" {
		runtime.SetMutexProfileFraction(1)
		defer runtime.SetMutexProfileFraction(0)
	}
	if o.blockProf != "" {
		runtime.SetBlockProfileRate(1)
		defer runtime.SetBlockProfileRate(0)
	}
	var cpuBuf *bytes.Buffer
	var cpuFile *os.File
	if o.cpuProfile != "" {
		if cpuFile, err = os.Create(o.cpuProfile); err != nil {
			return fail(err)
		}
		defer cpuFile.Close()
		cpuBuf = new(bytes.Buffer)
		if err := rpprof.StartCPUProfile(io.MultiWriter(cpuFile, cpuBuf)); err != nil {
			return fail(err)
		}
	}
	if o.tracePath != "" {
		tf, err := os.Create(o.tracePath)
		if err != nil {
			return fail(err)
		}
		defer tf.Close()
		if err := trace.Start(tf); err != nil {
			return fail(err)
		}
		defer trace.Stop() // before the deferred Close
	}
	if tty {
		o.cfg.Progress = func(step string) { fmt.Fprintf(stderr, "\r\033[Kmeasuring %s ...", step) }
	}

	rep, runErr := bench.Run(ctx, o.cfg)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if cpuBuf != nil {
		rpprof.StopCPUProfile()
		if runErr == nil {
			if rep.HotFunctions, err = bench.TopFunctions(cpuBuf, 5); err != nil {
				return fail(err)
			}
		}
	}
	if runErr != nil {
		return fail(runErr)
	}
	for _, p := range []struct{ path, name string }{{o.memProfile, "heap"}, {o.mutexProf, "mutex"}, {o.blockProf, "block"}} {
		if p.path != "" {
			if err := writeProfile(p.name, p.path); err != nil {
				return fail(err)
			}
		}
	}

	if o.markdown {
		err = rep.WriteMarkdown(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fail(err)
	}
	if o.jsonPath != "" {
		if err := writeFile(o.jsonPath, rep.WriteJSON); err != nil {
			return fail(err)
		}
	}
	if o.plotPath != "" {
		if err := writeFile(o.plotPath, func(w io.Writer) error { return bench.WritePlotSVG(w, rep.Results) }); err != nil {
			return fail(err)
		}
	}
	return exitCode(rep)
}

// exitCode is the status a finished run exits with: exitMissed when a
// gating target was missed.
func exitCode(rep *bench.Report) int {
	if !rep.Passed() {
		return exitMissed
	}
	return exitMet
}

// writeFile creates path and fills it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// writeProfile writes the named runtime profile to path.
func writeProfile(name, path string) error {
	if name == "heap" {
		runtime.GC() // up-to-date statistics
	}
	return writeFile(path, func(w io.Writer) error { return rpprof.Lookup(name).WriteTo(w, 0) })
}

// servePprof serves net/http/pprof on addr until the returned func is
// called.
func servePprof(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return func() { srv.Close() }, nil
}

// isTerminal reports whether f is a character device (a terminal), where a
// progress line helps rather than litters a log.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
