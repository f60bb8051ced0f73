package node

import (
	"bytes"
	"context"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/schema"
)

// CPU samples taken while a worker runs the handler carry its partition's
// pprof label, so `go tool pprof -tags` splits the CPU by partition. The
// handler burns CPU in batches; the profile must hold samples labelled
// with both partitions the events went to.
func TestProfileLabelsPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles for a few hundred milliseconds")
	}
	burn := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
		}
	}
	n, err := New(Config{Handler: func(_ int, b []*schema.Event) { burn(time.Duration(len(b)) * 200 * time.Microsecond) },
		Bus: engine.Config{Partitions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skip("a CPU profile is already running:", err)
	}
	evs := demo.GenerateEvents(1, 2000, nil)
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		for i := range evs {
			if err := in.Bus.Publish(&evs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	runErr := n.Run(context.Background(), src)
	pprof.StopCPUProfile()
	if runErr != nil {
		t.Fatal(runErr)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, s := range p.Sample {
		for _, v := range s.Label["partition"] {
			seen[v] += int(s.Value[0])
		}
	}
	if seen["0"] == 0 || seen["1"] == 0 {
		t.Fatalf("samples by partition label: %v (of %d samples)", seen, len(p.Sample))
	}
}
