package node

import (
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Collector is a prometheus.Collector of a node's Stats: it takes one
// snapshot per scrape, so counting costs the event path nothing.
type Collector struct {
	n *Node
}

// NewCollector returns the node's collector, for a caller that serves
// metrics itself; Handler registers it.
func NewCollector(n *Node) *Collector { return &Collector{n: n} }

// metric descriptions, by family.
var (
	descUp      = prometheus.NewDesc("kestrel_ready", "1 once rules are loaded and the source is connected.", nil, nil)
	descReloads = prometheus.NewDesc("kestrel_rule_reloads_total", "Rule reloads, by result.", []string{"result"}, nil)
	descSchema  = prometheus.NewDesc("kestrel_schema_info", "The running schema's id and version (value 1).", []string{"schema_id", "version"}, nil)
	descSchemaR = prometheus.NewDesc("kestrel_schema_reloads_total", "Schema reloads, by result: applied, or refused as breaking or unreadable.", []string{"result"}, nil)

	descBusPublished = prometheus.NewDesc("kestrel_bus_published_total", "Events (and routed copies) offered to a bus partition.", []string{"partition"}, nil)
	descBusDelivered = prometheus.NewDesc("kestrel_bus_delivered_total", "Events a bus partition handed to its handler.", []string{"partition"}, nil)
	descBusDropped   = prometheus.NewDesc("kestrel_bus_dropped_total", "Events a full bus partition refused (drop policy).", []string{"partition"}, nil)
	descBusTimedOut  = prometheus.NewDesc("kestrel_bus_timed_out_total", "Events refused after the backpressure timeout.", []string{"partition"}, nil)
	descBusQueued    = prometheus.NewDesc("kestrel_bus_queue_depth", "Events waiting in a bus partition.", []string{"partition"}, nil)
	descBusHigh      = prometheus.NewDesc("kestrel_bus_queue_high_water", "Deepest queue a bus partition has had.", []string{"partition"}, nil)
	descBusLate      = prometheus.NewDesc("kestrel_bus_late_total", "Events an Ordered bus partition delivered after later ones, because their producer published them out of its own timestamp order.", []string{"partition"}, nil)
	descBusLag       = prometheus.NewDesc("kestrel_bus_lag_seconds", "Seconds a bus partition has been behind its input: since its worker began the backlog it is working through; 0 while it keeps up.", []string{"partition"}, nil)

	descDetEvents   = prometheus.NewDesc("kestrel_detect_events_total", "Events detection examined, once each.", nil, nil)
	descDetCopies   = prometheus.NewDesc("kestrel_detect_routed_copies_total", "Routed copies examined on join-key partitions.", nil, nil)
	descDetBad      = prometheus.NewDesc("kestrel_detect_bad_partition_total", "Events handed to detection with a bad partition.", nil, nil)
	descDetPartials = prometheus.NewDesc("kestrel_detect_partial_matches", "Partial sequence matches held.", nil, nil)
	descDetBytes    = prometheus.NewDesc("kestrel_detect_state_bytes", "Bytes of sequence state held.", nil, nil)
	descDetHeld     = prometheus.NewDesc("kestrel_detect_held_matches", "Complete matches waiting for a trailing missing-event step's window to pass.", nil, nil)
	descDetVetoed   = prometheus.NewDesc("kestrel_detect_vetoed_matches_total", "Matches a missing-event step's event ruled out.", nil, nil)
	descRuleAlerts  = prometheus.NewDesc("kestrel_rule_alerts_total", "Alerts a rule raised.", []string{"rule"}, nil)
	descRuleDropped = prometheus.NewDesc("kestrel_rule_alerts_refused_total", "Alerts of a rule the outputs refused.", []string{"rule"}, nil)
	descRuleEvicted = prometheus.NewDesc("kestrel_rule_evictions_total", "Partial matches of a rule evicted, by cause.", []string{"rule", "cause"}, nil)

	descSinkEmitted    = prometheus.NewDesc("kestrel_sink_emitted_total", "Alerts the outputs accepted.", nil, nil)
	descSinkRefused    = prometheus.NewDesc("kestrel_sink_refused_total", "Alerts the outputs refused.", nil, nil)
	descSinkSuppressed = prometheus.NewDesc("kestrel_sink_suppressed_total", "Alerts suppressed as duplicates.", nil, nil)
	descSinkUnrouted   = prometheus.NewDesc("kestrel_sink_unrouted_total", "Alerts no route matched.", nil, nil)
	descDestEmitted    = prometheus.NewDesc("kestrel_output_emitted_total", "Alerts routed to an output.", []string{"output"}, nil)
	descDestDelivered  = prometheus.NewDesc("kestrel_output_delivered_total", "Alerts an output acknowledged.", []string{"output"}, nil)
	descDestRetried    = prometheus.NewDesc("kestrel_output_retried_total", "Alert re-sends of an output.", []string{"output"}, nil)
	descDestRejected   = prometheus.NewDesc("kestrel_output_rejected_total", "Alerts an output refused for good.", []string{"output"}, nil)
	descDestDropped    = prometheus.NewDesc("kestrel_output_dropped_total", "Alerts an output dropped.", []string{"output"}, nil)
	descDestInFlight   = prometheus.NewDesc("kestrel_output_in_flight", "Alerts queued or being sent by an output.", []string{"output"}, nil)

	descReplayEvents    = prometheus.NewDesc("kestrel_replay_events_total", "Events read from the log.", nil, nil)
	descReplayPublished = prometheus.NewDesc("kestrel_replay_published_total", "Events of the log the bus accepted.", nil, nil)
	descReplayBad       = prometheus.NewDesc("kestrel_replay_bad_records_total", "Bad records of the log.", nil, nil)

	descKafkaRecords  = prometheus.NewDesc("kestrel_kafka_records_total", "Records consumed.", nil, nil)
	descKafkaEvents   = prometheus.NewDesc("kestrel_kafka_events_total", "Events of the records the bus accepted.", nil, nil)
	descKafkaPoison   = prometheus.NewDesc("kestrel_kafka_poison_records_total", "Records that did not decode.", nil, nil)
	descKafkaDLQ      = prometheus.NewDesc("kestrel_kafka_dead_lettered_total", "Poison records written to the dead-letter topic.", nil, nil)
	descKafkaCommits  = prometheus.NewDesc("kestrel_kafka_commits_total", "Offset commits, by result.", []string{"result"}, nil)
	descKafkaPauses   = prometheus.NewDesc("kestrel_kafka_pauses_total", "Times fetching paused because the bus was full.", nil, nil)
	descKafkaPending  = prometheus.NewDesc("kestrel_kafka_pending_records", "Records published, not yet handled.", nil, nil)
	descKafkaAssigned = prometheus.NewDesc("kestrel_kafka_partitions_assigned_total", "Partitions assigned over all rebalances.", nil, nil)

	descSensorRead    = prometheus.NewDesc("kestrel_sensor_read_total", "Records read from the kernel ring buffer.", nil, nil)
	descSensorPub     = prometheus.NewDesc("kestrel_sensor_published_total", "Sensor events the bus accepted.", nil, nil)
	descSensorKDrops  = prometheus.NewDesc("kestrel_sensor_kernel_drops_total", "Records lost in the kernel (ring buffer full).", nil, nil)
	descSensorDecErrs = prometheus.NewDesc("kestrel_sensor_decode_errors_total", "Records that did not decode.", nil, nil)
	descSensorTrunc   = prometheus.NewDesc("kestrel_sensor_truncated_total", "Exec records cut to the sensor's limits, by what was cut (args, cwd).", []string{"what"}, nil)
)

// Describe sends every description the collector may use.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descReloads, descSchema, descSchemaR,
		descBusPublished, descBusDelivered, descBusDropped, descBusTimedOut, descBusQueued, descBusHigh, descBusLag,
		descDetEvents, descDetCopies, descDetBad, descDetPartials, descDetBytes, descDetHeld, descDetVetoed, descRuleAlerts, descRuleDropped, descRuleEvicted,
		descSinkEmitted, descSinkRefused, descSinkSuppressed, descSinkUnrouted,
		descDestEmitted, descDestDelivered, descDestRetried, descDestRejected, descDestDropped, descDestInFlight,
		descReplayEvents, descReplayPublished, descReplayBad,
		descKafkaRecords, descKafkaEvents, descKafkaPoison, descKafkaDLQ, descKafkaCommits, descKafkaPauses, descKafkaPending, descKafkaAssigned,
		descSensorRead, descSensorPub, descSensorKDrops, descSensorDecErrs, descSensorTrunc, descBusLate} {
		ch <- d
	}
}

// Collect takes a Stats snapshot and sends it as metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descUp, b2f(s.Ready))
	counter(descReloads, s.Reloads, "ok")
	counter(descReloads, s.ReloadFailures, "failed")
	gauge(descSchema, 1, s.SchemaID, strconv.FormatUint(uint64(s.SchemaVersion), 10))
	counter(descSchemaR, s.SchemaReloads, "ok")
	counter(descSchemaR, s.SchemaReloadFailures, "refused")
	for i, p := range s.Bus.Partitions {
		l := strconv.Itoa(i)
		counter(descBusPublished, p.Published, l)
		counter(descBusDelivered, p.Delivered, l)
		counter(descBusDropped, p.Dropped, l)
		counter(descBusTimedOut, p.TimedOut, l)
		gauge(descBusQueued, float64(p.Queued), l)
		gauge(descBusHigh, float64(p.HighWater), l)
		counter(descBusLate, p.Late, l)
		if i < len(s.Lag) {
			gauge(descBusLag, s.Lag[i].Seconds(), l)
		}
	}
	d := s.Detect
	counter(descDetEvents, d.Events)
	counter(descDetCopies, d.Copies)
	counter(descDetBad, d.BadPartition)
	gauge(descDetPartials, float64(d.Partials))
	gauge(descDetBytes, float64(d.Bytes))
	gauge(descDetHeld, float64(d.Held))
	counter(descDetVetoed, d.Vetoed)
	for _, r := range d.Rules {
		counter(descRuleAlerts, r.Alerts, r.ID)
		counter(descRuleDropped, r.Dropped, r.ID)
		counter(descRuleEvicted, r.Evicted.Expired, r.ID, "expired")
		counter(descRuleEvicted, r.Evicted.Terminated, r.ID, "terminated")
		counter(descRuleEvicted, r.Evicted.Capacity, r.ID, "capacity")
		counter(descRuleEvicted, r.Evicted.Memory, r.ID, "memory")
		counter(descRuleEvicted, r.Evicted.Reload, r.ID, "reload")
	}
	if c.n.out != nil {
		o := s.Sink
		counter(descSinkEmitted, o.Emitted)
		counter(descSinkRefused, o.Refused)
		counter(descSinkSuppressed, o.Suppressed)
		counter(descSinkUnrouted, o.Unrouted)
		for _, ds := range o.Destinations {
			counter(descDestEmitted, ds.Emitted, ds.Name)
			counter(descDestDelivered, ds.Delivered, ds.Name)
			counter(descDestRetried, ds.Retried, ds.Name)
			counter(descDestRejected, ds.Rejected, ds.Name)
			counter(descDestDropped, ds.Dropped, ds.Name)
			gauge(descDestInFlight, float64(ds.Queued), ds.Name)
		}
	}
	if r := s.Replay; r != nil {
		counter(descReplayEvents, uint64(r.Events))
		counter(descReplayPublished, uint64(r.Published))
		counter(descReplayBad, uint64(r.BadLines))
	}
	if k := s.Kafka; k != nil {
		counter(descKafkaRecords, k.Records)
		counter(descKafkaEvents, k.Events)
		counter(descKafkaPoison, k.Poison)
		counter(descKafkaDLQ, k.DeadLettered)
		counter(descKafkaCommits, k.Commits, "ok")
		counter(descKafkaCommits, k.CommitFailures, "failed")
		counter(descKafkaPauses, k.Pauses)
		gauge(descKafkaPending, float64(k.Pending))
		counter(descKafkaAssigned, k.Assigned)
	}
	if se := s.Sensor; se != nil {
		counter(descSensorRead, se.Read)
		counter(descSensorPub, se.Published)
		counter(descSensorKDrops, se.KernelDrops)
		counter(descSensorDecErrs, se.DecodeErrors)
		counter(descSensorTrunc, se.ArgsTruncated, "args")
		counter(descSensorTrunc, se.CwdTruncated, "cwd")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves the node's operations endpoints:
//
//	/metrics        Prometheus metrics: the node's Stats, and the Go runtime's
//	/healthz        200 while the node has not stopped
//	/readyz         200 once rules are loaded and the source is connected
//	/debug/pprof/   net/http/pprof (worker samples carry a "partition" label)
func Handler(n *Node) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(n), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	probe := func(ok func() bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if ok() {
				_, _ = w.Write([]byte("ok\n"))
				return
			}
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}
	mux.Handle("/healthz", probe(n.Healthy))
	mux.Handle("/readyz", probe(n.Ready))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
