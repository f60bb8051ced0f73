package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// TestRunFlushesHeldMatches: a match that waits for a missing-event
// step's window is an alert once the source ends, not lost with the run.
func TestRunFlushesHeldMatches(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "lingers")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := `{"format_version": "1.0", "metadata": {"rule_id": "lingers", "rule_name": "Connects and lingers",
  "rule_version": "1.0.0", "severity": "Low", "tags": [], "schema_version": "1.0"}, "capabilities": {}}`
	rule := `sequence by process.entity_id with maxspan=1m
  [network where network.direction == "outbound"]
  ![process where event.action == "exit"]`
	for name, text := range map[string]string{"manifest.json": manifest, "rule.eql": rule} {
		if err := os.WriteFile(filepath.Join(pkg, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	n, err := New(Config{RulesDir: dir, Stdout: &out, Bus: engine.Config{Partitions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	src := funcSource(func(ctx context.Context, in Input) error {
		in.Ready()
		e, err := schema.NewBuilder(in.Registry).ID(1).TypeName("network_connect").Mono(1e9).
			Path("process.entity_id", value.StringValue("p1")).Path("network.direction", value.StringValue("outbound")).Build()
		if err != nil {
			return err
		}
		return in.Bus.Publish(&e)
	})
	if err := n.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := n.Stats()
	if st.Detect.Alerts != 1 || st.Detect.Held != 0 || !strings.Contains(out.String(), `"lingers"`) {
		t.Fatalf("alerts %d held %d output %q", st.Detect.Alerts, st.Detect.Held, out.String())
	}
}
