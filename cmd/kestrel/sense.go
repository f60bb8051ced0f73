package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/sensor"
)

// senseNeeds says what the live sensor needs, for its errors.
const senseNeeds = "kestrel sense needs Linux with BTF (/sys/kernel/btf/vmlinux), root or CAP_BPF+CAP_PERFMON, " +
	"and tracefs on /sys/kernel/tracing for file events (it mounts it when it may)"

// runSense is `kestrel sense`: live detection on this host with the eBPF
// sensor until ctx ends (SIGINT, SIGTERM), then run's summary.
func runSense(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kestrel sense", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesDir := fs.String("rules", "", "rule packages directory (required)")
	outPath := fs.String("outputs", "", "outputs config file (JSON); default: alerts as JSON lines on stdout")
	recPath := fs.String("record", "", "record every event published to this log (.kbin, or JSON lines) for replay with kestrel run")
	schemaPath := fs.String("schema", "", "schema file (JSON, see kestrel schema); default: the built-in schema")
	partitions := fs.Int("partitions", runtime.GOMAXPROCS(0), "bus partitions (detection workers)")
	noFiles := fs.Bool("no-files", false, "leave file events (open, unlink, rename) off")
	noNet := fs.Bool("no-network", false, "leave network events off")
	quiet := fs.Bool("q", false, "no summary on stderr")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *rulesDir == "" || fs.NArg() != 0 {
		fmt.Fprintf(stderr, "kestrel sense: -rules is required\n%s", usage)
		return exitUsage
	}
	if *partitions < 1 || *partitions > detect.MaxPartitions {
		fmt.Fprintf(stderr, "kestrel sense: -partitions must be from 1 to %d\n", detect.MaxPartitions)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clk := clock.New() // real time: live events carry the kernel's, translated onto it
	pl, ok := startPipeline(pipelineConfig{
		rulesDir: *rulesDir, schemaPath: *schemaPath, outPath: *outPath,
		bus: engine.Config{Partitions: *partitions, Clock: clk, Logger: logger},
	}, clk, logger, stdout, stderr)
	if !ok {
		return exitFail
	}

	var rec replay.Writer
	var feedErr error
	if *recPath != "" {
		w, err := replay.Create(*recPath, replay.WriterOptions{})
		if err != nil {
			feedErr = fmt.Errorf("record: %w", err)
		} else {
			rec = w
		}
	}
	var sst sensor.Stats
	start := time.Now()
	if feedErr == nil {
		cfg := sensor.Config{Bus: pl.bus, Registry: pl.reg, Logger: logger, Clock: clk, NoFiles: *noFiles, NoNetwork: *noNet}
		if rec != nil {
			cfg.Record = rec
		}
		s, err := sensor.New(cfg)
		if err == nil {
			ran := make(chan struct{})
			announced := make(chan struct{})
			go func() { // announces readiness; ends when Run does
				defer close(announced)
				select {
				case <-s.Ready():
					if !*quiet {
						fmt.Fprintf(stderr, "kestrel: sensing; interrupt (Ctrl-C) or SIGTERM to stop\n")
					}
				case <-ran:
				}
			}()
			err = s.Run(ctx)
			close(ran)
			<-announced
			sst = s.Stats()
		}
		if err != nil {
			if errors.Is(err, sensor.ErrPermission) || errors.Is(err, sensor.ErrNoBTF) || errors.Is(err, sensor.ErrUnsupported) {
				err = fmt.Errorf("%w\n%s", err, senseNeeds)
			}
			feedErr = err
		}
	}
	elapsed := time.Since(start)
	// The sensor has stopped publishing, so the recording is complete.
	if rec != nil {
		if err := rec.Close(); err != nil && feedErr == nil {
			feedErr = fmt.Errorf("record: %w", err)
		}
	}
	code := pl.finish(stderr, *quiet, feedErr, func(w io.Writer, d detect.Stats) {
		eps := 0.0
		if elapsed > 0 {
			eps = float64(d.Events) / elapsed.Seconds()
		}
		fmt.Fprintf(w, "kestrel: live sensor: %d events in %v (%s events/s)\n", d.Events, elapsed.Round(time.Millisecond), humanRate(eps))
		fmt.Fprintf(w, "  sensor: read %d, published %d, refused by the bus %d, kernel drops %d (ring buffer full), decode errors %d, skipped %d\n",
			sst.Read, sst.Published, sst.BusDropped, sst.KernelDrops, sst.DecodeErrors, sst.Skipped)
		fmt.Fprintf(w, "  processes: %d seeded from /proc, %d evicted; file events %s, connect events %s, accept events %s\n",
			sst.ProcsSeeded, sst.ProcsEvicted, onOff(sst.FilesOn), onOff(sst.NetworkOn), onOff(sst.AcceptOn))
		if *recPath != "" {
			fmt.Fprintf(w, "  recorded to %s (%d write errors)\n", *recPath, sst.RecordErrors)
		}
	})
	if sst.KernelDrops > 0 || sst.RecordErrors > 0 {
		code = exitFail
	}
	return code
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
