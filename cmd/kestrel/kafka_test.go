package main

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaForwardAndDetect is the multi-node path in one process: "kestrel
// forward" puts the example attack log into a topic of a real (in-process)
// Kafka cluster, and "kestrel run -kafka-brokers ... -rules" consumes it as
// a member of a group, runs the example rules and writes the alerts: the
// same six as the replay of the file.
func TestKafkaForwardAndDetect(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(4, "events"),
		kfake.AllowAutoTopicCreation(), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")

	code, _, stderr := kestrel(t, "forward", "-log", exampleLog, "-brokers", brokers, "-topic", "events", "-q")
	if code != exitOK {
		t.Fatalf("forward: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := kestrel(t, "run", "-brokers", brokers, "-topic", "events", "-group", "detect",
		"-dlq-topic", "-", "-rules", exampleRules, "-max-events", "27", "-q")
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	ids := sortedAlertIDs(t, stdout)
	golden, err := os.ReadFile(exampleDir + "/alerts.golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedAlertIDs(t, string(golden)); !slices.Equal(ids, want) {
		t.Fatalf("alerts from the topic %v, from the file %v\nstderr:\n%s", ids, want, stderr)
	}

	// Without -rules the node prints the events it consumed.
	code, stdout, stderr = kestrel(t, "run", "-brokers", brokers, "-topic", "events", "-group", "print",
		"-dlq-topic", "-", "-max-events", "27", "-q")
	if code != exitOK || strings.Count(stdout, `"event_id"`) != 27 {
		t.Fatalf("print: exit %d, %d events\n%s", code, strings.Count(stdout, `"event_id"`), stderr)
	}
}

// sortedAlertIDs returns the sorted alert_ids of JSON-lines alerts.
func sortedAlertIDs(t *testing.T, lines string) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(lines))
	for sc.Scan() {
		var a struct {
			ID string `json:"alert_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}
