package detect

import (
	"errors"
	"testing"
	"time"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// TestLateness: input merged from two sources that are each in timestamp
// order but not with each other (two sensors on one Kafka topic). Entity
// 1's sequence spans 2 s; entity 2's later event arrives between its two
// steps and moves the partition's event time 10 s on. Without Lateness the
// partial match expires and the alert is lost; with Lateness it stays. The
// same for a match held for a trailing missing-event step: a veto that
// arrives late, within Lateness, still rules it out.
func TestLateness(t *testing.T) {
	seqRule := pkg(t, "seq", `sequence by process.entity_id with maxspan=5s
  [process where process.name == "a"] [process where process.name == "b"]`)
	missRule := pkg(t, "miss", `sequence by process.entity_id with maxspan=5s
  [process where process.name == "c"] ![process where process.name == "z"]`)
	log := []ev{
		{1, "process_exec", 0, 1, []any{"process.entity_id", "p1", "process.name", "a"}},
		{2, "process_exec", 0, 1, []any{"process.entity_id", "p3", "process.name", "c"}},
		{3, "process_exec", 10 * time.Second, 2, []any{"process.entity_id", "p2", "process.name", "x"}}, // the other source, ahead
		{4, "process_exec", 2 * time.Second, 1, []any{"process.entity_id", "p1", "process.name", "b"}},
		{5, "process_exec", 3 * time.Second, 1, []any{"process.entity_id", "p3", "process.name", "z"}},
	}
	for _, tc := range []struct {
		lateness time.Duration
		want     []string
	}{
		{0, []string{"miss:2"}},                 // p1's partial expired before b; p3's held match released before z
		{15 * time.Second, []string{"seq:1,4"}}, // as if in timestamp order
	} {
		c := &capture{}
		d, err := New(Config{Rules: []*rule.Package{seqRule, missRule}, Output: c, Lateness: tc.lateness})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range log {
			x := e.build(t)
			d.Handle(0, []*schema.Event{&x})
		}
		d.Flush()
		expectAlerts(t, c, tc.want...)
	}
	var ce *ConfigError
	if _, err := New(Config{Rules: []*rule.Package{seqRule}, Output: &capture{}, Lateness: -1}); !errors.As(err, &ce) || ce.Field != "Lateness" {
		t.Errorf("negative Lateness: %v", err)
	}
}
