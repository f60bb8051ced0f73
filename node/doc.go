// Package node assembles a running Kestrel detection node: the schema,
// the rule packages, the bus (package engine), detection (package detect)
// and the alert outputs (package sink), behind one Config, fed by any
// Source: a recorded log (ReplaySource), a Kafka consumer group
// (KafkaSource) or the live eBPF sensor (SensorSource).
//
// The node owns the order of things. New loads and builds everything, and
// starts nothing; Run starts the bus's workers, runs the source until it
// ends or ctx does, then stops in order: the source (a Kafka source
// commits what the workers handled), the bus (every accepted event reaches
// detection), then the outputs (every alert is delivered, or counted as
// lost). Stats is one report that accounts for every event and alert by
// cause; Handler serves it as Prometheus metrics, with health, readiness
// and pprof.
//
// Reload swaps the rules while events flow: the next batch each worker
// takes runs on the new rules, no event is skipped, and a reload that
// fails leaves the old rules running. Partial matches (sequences) of rules
// whose compiled form is unchanged carry over, so a sequence that started
// before a reload completes after it; those of changed or removed rules
// are dropped and counted (Stats.Detect.Evicted.Reload).
//
// ReloadSchema (ReloadSchemaFile for Config.SchemaPath) evolves the
// running schema in place when schema.Compatible accepts the change, then
// recompiles the rules against it; a breaking change is refused with the
// report and the names of the loaded rules it would break (*SchemaError).
//
// The package never prints or exits; it logs through Config.Logger.
package node
