package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kestrel-sec/kestrel/internal/human"
	"github.com/kestrel-sec/kestrel/node"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/sensor"
)

// senseNeeds says what the live sensor needs, for its errors.
const senseNeeds = "kestrel sense needs Linux with BTF (/sys/kernel/btf/vmlinux), root or CAP_BPF+CAP_PERFMON, " +
	"and tracefs on /sys/kernel/tracing for file and accept events (it mounts it when it may)"

// runSense is `kestrel sense`: live detection on this host with the eBPF
// sensor until ctx ends (SIGINT, SIGTERM), then run's summary.
func runSense(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kestrel sense", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := addNodeFlags(fs, "rule packages directory (required)")
	recPath := fs.String("record", "", "record every event published to this log (.kbin, or JSON lines) for replay with kestrel run")
	noFiles := fs.Bool("no-files", false, "leave file events (open, creat, unlink, rename) off")
	noNet := fs.Bool("no-network", false, "leave network events (connect, accept) off")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *nf.rulesDir == "" || fs.NArg() != 0 {
		fmt.Fprintf(stderr, "kestrel sense: -rules is required\n%s", usage)
		return exitUsage
	}
	// Real time: live events carry the kernel's, translated onto it. A live
	// node retries its outputs without bound.
	ncfg, ok := nf.nodeConfig("sense", stdout, stderr)
	if !ok {
		return exitUsage
	}
	n, ok := nf.startNode(ncfg, defaultSenseLateness, stderr)
	if !ok {
		return exitFail
	}

	var rec replay.Writer
	if *recPath != "" {
		w, err := replay.Create(*recPath, replay.WriterOptions{})
		if err != nil {
			_ = n.Close(context.Background())
			fmt.Fprintf(stderr, "kestrel: record: %v\n", err)
			return exitFail
		}
		rec = w
	}
	src := &node.SensorSource{Config: sensor.Config{NoFiles: *noFiles, NoNetwork: *noNet}}
	if rec != nil {
		src.Config.Record = rec
	}
	announced := make(chan struct{})
	stopAnnounce := make(chan struct{})
	go func() { // announces readiness; ends when Run does
		defer close(announced)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if n.Ready() {
					if !*nf.quiet {
						fmt.Fprintf(stderr, "kestrel: sensing; interrupt (Ctrl-C) or SIGTERM to stop\n")
					}
					return
				}
			case <-stopAnnounce:
				return
			}
		}
	}()
	start := time.Now()
	runErr := runNode(ctx, n, src, *nf.listen, ncfg.Logger, stderr)
	close(stopAnnounce)
	<-announced
	elapsed := time.Since(start)
	var se *node.StageError
	if errors.As(runErr, &se) && se.Stage == "source" &&
		(errors.Is(se.Err, sensor.ErrPermission) || errors.Is(se.Err, sensor.ErrNoBTF) || errors.Is(se.Err, sensor.ErrUnsupported)) {
		se.Err = fmt.Errorf("%w\n%s", se.Err, senseNeeds)
	}
	// The sensor has stopped publishing, so the recording is complete.
	if rec != nil {
		if err := rec.Close(); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("record: %w", err))
		}
	}
	code := finishCode(stderr, runErr)
	st := n.Stats()
	sst := src.Stats()
	if !*nf.quiet {
		eps := 0.0
		if elapsed > 0 {
			eps = float64(st.Detect.Events) / elapsed.Seconds()
		}
		w := stderr
		fmt.Fprintf(w, "kestrel: live sensor: %d events in %v (%s events/s)\n", st.Detect.Events, elapsed.Round(time.Millisecond), human.Rate(eps))
		fmt.Fprintf(w, "  sensor: read %d, published %d, refused by the bus %d, kernel drops %d (ring buffer full), decode errors %d, skipped %d\n",
			sst.Read, sst.Published, sst.BusDropped, sst.KernelDrops, sst.DecodeErrors, sst.Skipped)
		fmt.Fprintf(w, "  processes: %d seeded from /proc, %d evicted; file events %s, connect events %s, accept events %s\n",
			sst.ProcsSeeded, sst.ProcsEvicted, onOff(sst.FilesOn), onOff(sst.NetworkOn), onOff(sst.AcceptOn))
		fmt.Fprintf(w, "  exec: %d argument lists cut at 4 KiB, %d working directories cut at 1 KiB or 64 components (kept after \"...\")\n",
			sst.ArgsTruncated, sst.CwdTruncated)
		if *recPath != "" {
			fmt.Fprintf(w, "  recorded to %s (%d write errors)\n", *recPath, sst.RecordErrors)
		}
		summary(w, st)
	}
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
