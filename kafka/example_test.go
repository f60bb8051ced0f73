package kafka_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/kafka"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/sink"
	"github.com/twmb/franz-go/pkg/kfake"
)

// cluster starts an in-process Kafka cluster for the examples; in
// production Brokers names real brokers.
func cluster(topics ...string) *kfake.Cluster {
	return kfake.MustCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, topics...))
}

// A sensor forwards its events to the events topic.
func ExampleForwarder() {
	c := cluster("kestrel-events")
	defer c.Close()

	fwd, err := kafka.NewForwarder(kafka.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		panic(err)
	}
	evs := demo.GenerateEvents(1, 1000, nil)
	for i := range evs {
		fwd.Publish(&evs[i]) // or bus.Run(fwd.Handle) on the sensor's bus
	}
	if err := fwd.Close(context.Background()); err != nil {
		panic(err)
	}
	st := fwd.Stats()
	fmt.Println("delivered", st.Delivered, "of", st.Events, "events; failed", st.Failed)
	// Output: delivered 1000 of 1000 events; failed 0
}

// A detection node reads its share of the topic into its bus.
func ExampleSource() {
	c := cluster("kestrel-events")
	defer c.Close()
	cfg := kafka.Config{Brokers: c.ListenAddrs(), Group: "detection", DeadLetterTopic: kafka.NoDeadLetter}

	fwd, _ := kafka.NewForwarder(cfg)
	evs := demo.GenerateEvents(1, 1000, nil)
	for i := range evs {
		fwd.Publish(&evs[i])
	}
	fwd.Close(context.Background())

	bus, _ := engine.New(engine.Config{Partitions: 2})
	var handled atomic.Int64
	bus.Run(func(_ int, batch []*schema.Event) { // detect.Detector.Handle in a real node
		handled.Add(int64(len(batch)))
	})
	src, err := kafka.NewSource(cfg, bus)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx) }()
	for handled.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	cancel() // drains, commits, leaves the group
	if err := <-done; err != nil {
		panic(err)
	}
	bus.Shutdown(context.Background())
	fmt.Println("handled", handled.Load(), "events; poison records:", src.Stats().Poison)
	// Output: handled 1000 events; poison records: 0
}

// Alerts leave a node through a sink.Output to the alerts topic.
func ExampleNewAlertDestination() {
	c := cluster("kestrel-alerts")
	defer c.Close()

	dest, err := kafka.NewAlertDestination(kafka.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		panic(err)
	}
	out, err := sink.New(sink.Config{Destinations: []sink.DestinationConfig{{Dest: dest}}})
	if err != nil {
		panic(err)
	}
	ids := []uint64{41, 42}
	out.Emit(&sink.Alert{ID: sink.NewAlertID("shell_from_web", ids), RuleID: "shell_from_web",
		Severity: schema.SeverityHigh, EventIDs: ids, Message: "web server spawned a shell"})
	if err := out.Close(context.Background()); err != nil { // closes dest too
		panic(err)
	}
	st := out.Stats().Destinations[0]
	fmt.Println(st.Name, "delivered", st.Delivered)
	// Output: kafka:kestrel-alerts delivered 1
}

func ExampleConfig_Validate() {
	fmt.Println(kafka.Config{}.Validate())
	cfg := kafka.Config{
		Brokers: []string{"kafka-1:9093", "kafka-2:9093"},
		TLS:     &kafka.TLSConfig{}, // system roots
		SASL:    &kafka.SASLConfig{Mechanism: kafka.MechanismScramSHA512, User: "sensor"},
	}
	fmt.Println(cfg.Validate())
	// Output:
	// kafka: invalid config: Brokers: at least one seed broker (host:port) is required
	// kafka: invalid config: SASL.PasswordEnv: the environment variable KESTREL_KAFKA_PASSWORD is not set
}
