package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Workiva/go-datastructures/queue"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

// newDiscard is the alert scenario's destination for every implementation:
// sink's writer destination on io.Discard, which serialises every alert to
// its JSON line, as a real destination must, and throws the bytes away, so
// the figure measures the dispatch path and not a network.
func newDiscard() *sink.WriterDestination { return sink.NewWriterDestination("discard", io.Discard) }

// makeAlerts builds n distinct alerts shaped like a detection's: a rule, a
// few triggering events and fields.
func makeAlerts(n int) []*sink.Alert {
	out := make([]*sink.Alert, n)
	for i := range out {
		ids := []uint64{uint64(3 * i), uint64(3*i + 1), uint64(3*i + 2)}
		out[i] = &sink.Alert{
			ID:       sink.NewAlertID("curl-pipe-shell", ids),
			RuleID:   "curl-pipe-shell",
			RuleName: "Download piped into a shell",
			Severity: schema.SeverityHigh,
			Tags:     []string{"execution", "T1059.004"},
			TsMono:   schema.TimestampMono(1e9 + i),
			TsWall:   schema.TimestampWall(1_700_000_000_000_000_000 + i),
			Entity:   schema.EntityKeyFrom64(uint64(i % 64)),
			EventIDs: ids,
			Message:  "curl output piped into bash by pid " + strconv.Itoa(1000+i%64),
			Fields: []sink.AlertField{
				{Path: "process.executable", Value: value.StringValue("/bin/bash")},
				{Path: "process.pid", Value: value.I64Value(int64(1000 + i%64))},
				{Path: "process.command_line", Value: value.StringValue("curl -fsSL https://example.com/install.sh | bash")},
			},
		}
	}
	return out
}

// runAlertScenarios measures alerts per second from Emit to a destination
// that serialises and discards them, through sink.Output (dispatcher,
// routing, per-destination queue and batching), beside the same work over a
// channel and over a Workiva RingBuffer feeding one goroutine.
func runAlertScenarios(ctx context.Context, r *runner) ([]Result, error) {
	n := max(r.cfg.ReplayEvents/2, 10_000)
	res := Result{
		Name: "alerts/dispatch", Title: "alert dispatch, one discarding destination", Metric: MetricRate,
		Note: fmt.Sprintf("%d alerts emitted by one goroutine, each serialised to its JSON line and discarded; the peers hand the same alerts over a channel or a RingBuffer to one goroutine that does the same", n),
	}
	for _, impl := range queueImpls {
		r.progress(res.Name + " " + impl)
		alerts := makeAlerts(n)
		var (
			took time.Duration
			err  error
		)
		switch impl {
		case ImplKestrel:
			took, err = dispatchOutput(ctx, alerts)
		case ImplChannel:
			took, err = dispatchChannel(alerts)
		case ImplWorkiva:
			took, err = dispatchWorkiva(alerts)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", res.Name, impl, err)
		}
		res.Figures = append(res.Figures, Figure{Impl: impl, Rate: float64(n) / took.Seconds(), Events: int64(n)})
	}
	return []Result{res}, nil
}

func dispatchOutput(ctx context.Context, alerts []*sink.Alert) (time.Duration, error) {
	dest := newDiscard()
	out, err := sink.New(sink.Config{
		Destinations: []sink.DestinationConfig{{
			Dest: dest, Queue: 4096, Overflow: sink.OverflowBlock, BlockTimeout: 30 * time.Second,
		}},
		Queue:       4096,
		EmitTimeout: 30 * time.Second,
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for _, a := range alerts {
		if err := out.Emit(a); err != nil {
			_ = out.Close(ctx)
			return 0, err
		}
	}
	for out.Stats().Destinations[0].Delivered < uint64(len(alerts)) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		time.Sleep(100 * time.Microsecond)
	}
	took := time.Since(start)
	if err := out.Close(ctx); err != nil {
		return 0, err
	}
	if st := out.Stats(); st.Destinations[0].Delivered != uint64(len(alerts)) {
		return 0, fmt.Errorf("delivered %d of %d alerts (%+v)", st.Destinations[0].Delivered, len(alerts), st)
	}
	return took, nil
}

func dispatchChannel(alerts []*sink.Alert) (time.Duration, error) {
	ch := make(chan *sink.Alert, 4096)
	dest := newDiscard()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		batch := make([]*sink.Alert, 1)
		for a := range ch {
			batch[0] = a
			_ = dest.Send(context.Background(), batch)
		}
	}()
	start := time.Now()
	for _, a := range alerts {
		ch <- a
	}
	close(ch)
	wg.Wait()
	return time.Since(start), nil
}

func dispatchWorkiva(alerts []*sink.Alert) (time.Duration, error) {
	rb := queue.NewRingBuffer(4096)
	dest := newDiscard()
	var delivered atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		batch := make([]*sink.Alert, 1)
		for {
			item, err := rb.Get()
			if err != nil {
				return
			}
			batch[0] = item.(*sink.Alert)
			_ = dest.Send(context.Background(), batch)
			delivered.Add(1)
		}
	}()
	start := time.Now()
	for _, a := range alerts {
		if err := rb.Put(a); err != nil {
			return 0, err
		}
	}
	for delivered.Load() < int64(len(alerts)) {
		time.Sleep(100 * time.Microsecond)
	}
	took := time.Since(start)
	rb.Dispose()
	wg.Wait()
	return took, nil
}
