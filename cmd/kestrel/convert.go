package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
)

// runConvert is `kestrel convert IN OUT`: it reads a log in any format
// replay reads (detected from its content) and writes it in the format
// OUT's extension names (.kbin, .kpb protobuf, .zst or .zstd, anything
// else JSON lines),
// keeping the header's schema id, version and other members. It stops at
// the first bad record, naming it, and removes the partial output.
func runConvert(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("kestrel convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "kestrel convert: want IN OUT\n%s", usage)
		return exitUsage
	}
	in, out := fs.Arg(0), fs.Arg(1)
	n, err := convertLog(in, out)
	if err != nil {
		fmt.Fprintf(stderr, "kestrel convert: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "kestrel: converted %d events from %s to %s\n", n, in, out)
	return exitOK
}

// convertLog copies every event of the log at in into a new log at out.
func convertLog(in, out string) (n int64, err error) {
	if in == out {
		return 0, errors.New("IN and OUT are the same file")
	}
	rd, err := replay.Open(in)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	h := rd.Header()
	w, err := replay.Create(out, replay.WriterOptions{
		Header: true, SchemaID: h.SchemaID, SchemaVersion: h.SchemaVersion, Meta: maps.Clone(h.Meta),
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out) // no half-written log left behind
		}
	}()
	var ev schema.Event
	for {
		err := rd.Next(&ev)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := w.Write(&ev); err != nil {
			return n, fmt.Errorf("%s: %w", out, err)
		}
		n++
	}
}
