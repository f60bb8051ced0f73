package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

func Example_validate() {
	run(context.Background(), []string{"validate", "../../examples/rules"}, os.Stdout, io.Discard, false)
	// Output:
	// ok credaccess-001 (event rule on file)
	// ok curlpipe-001 (sequence of 2 events by process.parent.entity_id within 5s)
	//    join key process.parent.entity_id: events matching a step or until are copied to the partition owning the key's values
	// ok exfil-001 (sequence of 2 events by process.entity_id within 5m)
	//    join key process.entity_id: events matching a step or until are copied to the partition owning the key's values
	// ok lateral-001 (sequence of 2 events by process.entity_id within 1m)
	//    join key process.entity_id: events matching a step or until are copied to the partition owning the key's values
	// ok privesc-001 (sequence of 2 events by process.entity_id within 30s)
	//    join key process.entity_id: events matching a step or until are copied to the partition owning the key's values
	// ok ransomware-001 (sequence of 2 events by process.entity_id within 5s)
	//    join key process.entity_id: events matching a step or until are copied to the partition owning the key's values
	// ok revshell-001 (sequence of 2 events by process.entity_id within 10s)
	//    join key process.entity_id: events matching a step or until are copied to the partition owning the key's values
	// 7 rules valid
}

func Example_run() {
	// One partition, so the alerts come out in log order.
	run(context.Background(), []string{"run", "-rules", "../../examples/rules", "-log", "../../examples/attack.jsonl",
		"-partitions", "1", "-q"}, alertIDs{os.Stdout}, io.Discard, false)
	// Output:
	// curlpipe-001 [2,3]
	// revshell-001 [5,6]
	// credaccess-001 [7]
	// privesc-001 [13,14]
	// exfil-001 [21,23]
	// lateral-001 [24,25]
}

// alertIDs prints, for each alert line written to it, the rule id and the
// event ids.
type alertIDs struct{ w io.Writer }

func (a alertIDs) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		var al struct {
			RuleID   string   `json:"rule_id"`
			EventIDs []uint64 `json:"event_ids"`
		}
		if err := json.Unmarshal([]byte(line), &al); err != nil {
			return 0, err
		}
		ids, _ := json.Marshal(al.EventIDs)
		fmt.Fprintf(a.w, "%s %s\n", al.RuleID, ids)
	}
	return len(p), nil
}
