package detect

import (
	"fmt"
	"testing"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// copiesPerEvent returns the copies the bus makes per event of evs for
// rules at parts partitions: 1 (the entity partition) plus the partitions
// Route adds.
func copiesPerEvent(t testing.TB, rules []*rule.Package, evs []schema.Event, parts int) float64 {
	t.Helper()
	d, err := New(Config{Output: &capture{}, Rules: rules, Partitions: parts,
		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, parts) }})
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for i := range evs {
		home := engine.EntityPartition(evs[i].Entity, parts)
		set := d.Route(&evs[i])
		set.Remove(home)
		copies += 1 + set.Len()
	}
	return float64(copies) / float64(len(evs))
}

// TestCopiesPerEvent measures what routing costs (PERF.md quotes it) and
// keeps it from creeping up: the example rules copy almost nothing, since
// only events that match a step are copied; join-heavy rules with broad
// steps cost up to one copy per step an event matches.
func TestCopiesPerEvent(t *testing.T) {
	examples := partitionRules(t)[:7]
	var heavy []*rule.Package
	for _, r := range joinRules {
		heavy = append(heavy, pkg(t, r.id, r.src))
	}
	broad := append(heavy[:len(heavy):len(heavy)],
		pkg(t, "broad-user", `sequence by user.name [process where true] [file where true]`),
		pkg(t, "broad-parent", `sequence by process.parent.entity_id [process where true] [process where true]`))
	n := 20000
	if testing.Short() || raceEnabled {
		n = 4000 // the figures in PERF.md come from the full size
	}
	logs := []struct {
		name string
		evs  []schema.Event
	}{
		{"demo log (demo.GenerateEvents)", demo.GenerateEvents(7, n, testReg)},
		{"attack-dense log (genLog)", genLog(t, 9, n)},
	}
	sets := []struct {
		name  string
		rules []*rule.Package
		limit [2]float64 // at 8 partitions, by log
	}{
		{"example rules", examples, [2]float64{1.05, 1.8}},
		{"join-heavy rules", heavy, [2]float64{1.3, 2.0}},
		{"join-heavy + broad steps", broad, [2]float64{2.0, 3.0}},
	}
	for li, l := range logs {
		for _, s := range sets {
			line := ""
			var at8 float64
			for _, parts := range []int{2, 4, 8} {
				c := copiesPerEvent(t, s.rules, l.evs, parts)
				line += " " + formatCopies(parts, c)
				at8 = c
			}
			t.Logf("%s, %s:%s", l.name, s.name, line)
			if at8 > s.limit[li] {
				t.Errorf("%s, %s: %.3f copies per event at 8 partitions, limit %.2f", l.name, s.name, at8, s.limit[li])
			}
		}
	}
}

func formatCopies(parts int, c float64) string { return fmt.Sprintf("P%d=%.3f", parts, c) }
