package node_test

import (
	"context"
	"fmt"
	"io"

	"github.com/kestrel-sec/kestrel/node"
)

// A node that replays a recorded attack through the example rules; the
// alerts go to the outputs file's destinations (here, none given: JSON
// lines on Stdout, discarded), and Stats accounts for every event and
// alert.
func Example() {
	n, err := node.New(node.Config{RulesDir: "../examples/rules", Stdout: io.Discard})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := &node.ReplaySource{Path: "../examples/attack.jsonl"}
	if err := n.Run(context.Background(), src); err != nil {
		fmt.Println(err)
		return
	}
	st := n.Stats()
	fmt.Printf("%d events, %d alerts, %d delivered, %d events and %d alerts lost\n",
		st.Detect.Events, st.Detect.Alerts, st.Sink.Destinations[0].Delivered, st.LostEvents(), st.LostAlerts())
	// Output:
	// 27 events, 6 alerts, 6 delivered, 0 events and 0 alerts lost
}
