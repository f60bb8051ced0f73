// Command kestrel runs recorded sensor logs through detection rules, and
// checks and lists rule packages: a detection engineer tests a rule on a
// recorded attack in one line.
//
// Usage:
//
//	kestrel run -rules DIR -log FILE [-outputs FILE] [-speed X] [-schema FILE] [-schemas DIR] [-partitions N] [-lenient]
//	kestrel run -brokers HOST:PORT[,...] [-topic T] [-group G] [-rules DIR] [-outputs FILE] [-alert-topic T]
//	kestrel sense -rules DIR [-outputs FILE] [-record FILE.kbin] [-partitions N] [-no-files] [-no-network]
//	kestrel forward -log FILE -brokers HOST:PORT[,...] [-topic T]
//	kestrel validate [-schema FILE] [-strict] DIR
//	kestrel rules [-schema FILE] DIR
//	kestrel schema
//	kestrel schema diff [-rules DIR] OLD NEW
//	kestrel convert IN OUT
//	kestrel import-elastic [-out DIR] [-schema FILE] [-q] DIR_OR_TOML...
//	kestrel -version
//
// run replays the log (JSON lines, .zst or the binary .kbin, see package
// replay) through the rule packages in DIR (see package rule) and writes
// each alert as a JSON line on stdout, or to the outputs the -outputs file
// names. At the end it prints a summary on stderr: events, alerts by rule,
// drops and evictions, events per second; while it runs, a progress bar
// when stderr is a terminal. -speed 1 replays at the recorded pace, 2 twice
// as fast; 0 (the default) as fast as possible. Rules compile against the
// default schema (kestrel schema prints it) unless -schema names another.
// A log whose header names another schema id is refused unless -schemas
// names a directory holding that schema's file (found by its id and
// version): then its events are mapped into the rules' schema.
//
// sense is live detection on this host: the eBPF sensor (package sensor)
// publishes the kernel's process, file and network events into the bus
// that run would replay a log into, until SIGINT or SIGTERM; then the same
// summary, with the sensor's counts (kernel drops among them). -record
// writes every event published to a log that run replays to the same
// alerts. It needs Linux with BTF, root or CAP_BPF+CAP_PERFMON, and tracefs
// for file events, which it mounts on /sys/kernel/tracing when it may.
//
// With -brokers (-kafka-brokers is a deprecated alias), run is a detection node instead: it joins the
// topic's consumer group, publishes the records' events into its bus and
// runs the rules on them (or prints the events without -rules), until
// interrupted; forward replays a log into the topic, keyed by entity, so
// that several nodes can share the work (see SCALING.md and package kafka,
// whose -h lists the TLS, SASL and tuning flags).
//
// -alert-fields flat (run, sense, run -brokers) writes alerts' fields
// ECS-flat ("process.name":"sh") for a SIEM to index, as "alert_fields":
// "flat" in the outputs file does; tagged ({"String":"sh"}) is the default.
//
// run and sense are long-running nodes (package node): -listen ADDR serves
// Prometheus /metrics, /healthz, /readyz and /debug/pprof/; -log-format
// and -log-level shape the log on stderr; SIGTERM or SIGINT stops the
// input, drains the bus, commits (Kafka), flushes the outputs and prints
// the summary with where the input stopped; SIGHUP reloads the rules (and
// the -schema file, applied only if the change is compatible), and a
// reload that fails keeps the old ones. -version prints the module
// version and VCS revision.
// schema prints the default schema as a schema file; schema diff compares
// two schema files ("default" names the default schema) and prints every
// change with its verdict and reason, and with -rules the rules a breaking
// change reaches; it exits 1 when NEW is not compatible with OLD, for CI.
//
// convert rewrites a log in another format: IN in any format run reads,
// OUT in the one its extension names (.kbin, .kpb, .zst, else JSON lines), with
// the header's schema id and version kept.
//
// import-elastic turns Elastic detection rules (the TOML files of
// github.com/elastic/detection-rules) into rule packages in DIR: each EQL
// rule's query unchanged, its rule_id, name, description, severity, risk
// score, tags and MITRE technique ids in the manifest. It reports each rule
// that is not EQL as skipped and each that does not load against the
// schema (ECS by default) as refused, with why; see docs/elastic-rules.md.
//
// validate loads every package and reports each problem with its file,
// line and column; rules lists the packages. Lua and Wasm packages are
// reported as unsupported, and validate -strict fails on them (and on a
// Lua or Wasm twin ignored beside rule.eql); examples/unsupported holds
// one of each.
//
// Exit status: 0 on success, 1 when rules do not load, the log cannot be
// replayed, or an event or alert was lost, 2 for bad usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	// SIGTERM and SIGINT end the context: the command stops its input,
	// drains, commits, flushes and prints its summary. A second one is
	// left to the default action, which ends a drain stuck on a dead
	// output. SIGHUP reloads a running node's rules.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	hangups = hup
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr))
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

const usage = `usage:
  kestrel run -rules DIR -log FILE [-outputs FILE] [-speed X] [-schema FILE] [-schemas DIR] [-partitions N] [-lenient]
  kestrel run -brokers HOST:PORT[,...] [-topic T] [-group G] [-rules DIR] [-outputs FILE] [-alert-topic T]
  kestrel forward -log FILE -brokers HOST:PORT[,...] [-topic T]
  kestrel validate [-schema FILE] [-strict] DIR
  kestrel rules [-schema FILE] DIR
  kestrel schema
  kestrel schema diff [-rules DIR] OLD NEW
  kestrel convert IN OUT
  kestrel import-elastic [-out DIR] [-schema FILE] [-q] DIR_OR_TOML...
  kestrel -version

run and sense take -listen ADDR (/metrics, /healthz, /readyz, /debug/pprof/),
-log-format text|json and -log-level debug|info|warn|error; SIGTERM or SIGINT
drains and prints the summary, SIGHUP reloads the rules and the -schema file.
`

// run is the whole command, minus the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		if wantsKafka(args[1:]) {
			return runKafka(ctx, args[1:], stdout, stderr, lookupEnv)
		}
		return runReplay(ctx, args[1:], stdout, stderr, tty)
	case "sense":
		return runSense(ctx, args[1:], stdout, stderr)
	case "forward":
		return runForward(ctx, args[1:], stderr, lookupEnv)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "rules":
		return runRules(args[1:], stdout, stderr)
	case "schema":
		return runSchema(args[1:], stdout, stderr)
	case "convert":
		return runConvert(args[1:], stderr)
	case "import-elastic":
		return runImportElastic(args[1:], stdout, stderr)
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version())
		return exitOK
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "kestrel: unknown command %q\n%s", args[0], usage)
	return exitUsage
}
