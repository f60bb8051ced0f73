package detect

import (
	"fmt"
	"testing"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/schema"
)

var routeSink engine.PartitionSet // Route's results land here, so the calls stay

// BenchmarkRoute measures Detector.Route, which every producer runs on
// every event of a routed bus: the example and join-heavy rules over the
// random log of the partition test, at 8 partitions (one word of the set)
// and 100 (two).
func BenchmarkRoute(b *testing.B) {
	rules := partitionRules(b)
	evs := genLog(b, 1, 4096)
	for _, parts := range []int{8, 100} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			b.ReportAllocs()
			d, err := New(Config{Output: &capture{}, Rules: rules, Partitions: parts,
				EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, parts) }})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				routeSink = d.Route(&evs[i%len(evs)])
			}
		})
	}
}
