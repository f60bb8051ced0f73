package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/kestrel-sec/kestrel/value"
)

func testAlert(i int) *sink.Alert {
	ids := []uint64{uint64(i), uint64(i + 1)}
	return &sink.Alert{
		ID:       sink.NewAlertID("rule-"+fmt.Sprint(i%3), ids),
		RuleID:   "rule-" + fmt.Sprint(i%3),
		RuleName: "Suspicious thing",
		Severity: schema.SeverityHigh,
		Tags:     []string{"attack.t1059"},
		TsMono:   schema.TimestampMono(1000 + i),
		TsWall:   schema.TimestampWall(1_700_000_000_000_000_000 + i),
		Entity:   schema.EntityKeyFrom64(uint64(i)),
		EventIDs: ids,
		Message:  "process spawned a shell",
		Fields:   []sink.AlertField{{Path: "process.pid", Value: value.U64Value(uint64(4000 + i))}},
	}
}

// TestAlertsProducedAndReadBack sends alerts through a sink.Output to an
// AlertDestination and reads them back from the topic: keyed by alert_id,
// their JSON decoding to the alerts sent.
func TestAlertsProducedAndReadBack(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 3, "alerts")
	cfg := testConfig(t, c, "events")
	cfg.AlertTopic = "alerts"
	dest, err := NewAlertDestination(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if dest.Name() != "kafka:alerts" {
		t.Fatalf("name %q", dest.Name())
	}
	out, err := sink.New(sink.Config{Destinations: []sink.DestinationConfig{{Dest: dest}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	want := map[string]string{}
	for i := range n {
		a := testAlert(i)
		want[a.ID] = string(a.AppendJSON(nil))
		if err := out.Emit(a); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := out.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := out.Stats().Destinations[0]; st.Delivered != n {
		t.Fatalf("destination stats %+v", st)
	}
	recs := readTopic(t, c, "alerts", n)
	for _, r := range recs {
		var a sink.Alert
		if err := a.UnmarshalJSON(r.Value); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != a.ID {
			t.Errorf("record key %q, alert_id %q", r.Key, a.ID)
		}
		if want[a.ID] != string(r.Value) {
			t.Errorf("alert %s: got %s, want %s", a.ID, r.Value, want[a.ID])
		}
		if header(r, "content-type") != "application/json" {
			t.Errorf("headers %v", r.Headers)
		}
		delete(want, a.ID)
	}
	if len(want) != 0 {
		t.Fatalf("%d alerts not read back", len(want))
	}
	if err := dest.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

// TestAlertTooLarge rejects for good an alert larger than a batch may be,
// and delivers the rest of its batch.
func TestAlertTooLarge(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, 1, "big")
	cfg := testConfig(t, c, "events")
	cfg.AlertTopic = "big"
	cfg.BatchBytes = 4096
	dest, err := NewAlertDestination(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	big := testAlert(1)
	big.Message = strings.Repeat("x", 8192)
	ctx := context.Background()
	err = dest.Send(ctx, []*sink.Alert{testAlert(0), big, testAlert(2)})
	var pe *sink.PartialError
	if !errors.As(err, &pe) || len(pe.Retry) != 0 || len(pe.Rejected) != 1 || pe.Rejected[0].Index != 1 {
		t.Fatalf("Send: %v (%#v), want a PartialError rejecting index 1", err, pe)
	}
	t.Logf("rejection: %+v", pe.Rejected[0])
	err = dest.Send(ctx, []*sink.Alert{big})
	if !sink.IsPermanent(err) {
		t.Fatalf("Send of only a too-large alert: %v, want permanent", err)
	}
	if err := dest.Send(ctx, []*sink.Alert{testAlert(3)}); err != nil {
		t.Fatal(err)
	}
	if got := readTopic(t, c, "big", 3); len(got) != 3 {
		t.Fatalf("read %d alerts, want 3", len(got))
	}
}
