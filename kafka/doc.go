// Package kafka is Kestrel's distributed bus: a bridge over Kafka (and
// anything that speaks its protocol: Redpanda, WarpStream, MSK), built on
// github.com/twmb/franz-go.
//
//	sensors: bus ──Handle──▶ Forwarder ──records keyed by entity──▶ events topic (N partitions)
//	                                                                   │ consumer group
//	detection nodes: Source ──Publish──▶ bus ──▶ workers (detect) ──▶ sink.Output ──▶ AlertDestination ──▶ alerts topic
//	                    └── undecodable records ──▶ dead-letter topic
//
// A Forwarder produces events (from a bus handler, or Publish) to a topic:
// one record per entity per flush, keyed by the entity key, its value a
// complete binary log of package replay (zstd blocks with checksums), JSON
// lines, or a protobuf EventBatch of protoevent/event.proto, named by the
// HeaderFormat header. Kafka puts each key on one partition, so each
// entity's events stay in order.
//
// Sensors of several schemas, or versions of one, feed one group: a record
// names its schema (HeaderSchema, or a protobuf batch's own schema_id), and
// a Source with Config.Local maps its IDs into the node's schema through a
// table built once per schema (schema.Mapping), or takes it as it is when
// it is the node's schema or a compatible version of it.
//
// A Source is a consumer-group member on a detection node: it reads its
// share of the partitions, publishes each record's events into the local
// engine.Bus (which shards them by the same entity key), and commits a
// record's offset only once the bus's workers have handled all its events,
// in every bus partition that holds one or a routed copy (engine.Bus.Mark).
// Delivery is at least once, exactly once while nothing fails, in per-entity
// order; rebalances hand partitions over after committing what was handled;
// a full bus pauses fetching instead of dropping; undecodable records go to
// a dead-letter topic with the reason.
//
// An AlertDestination is a sink.Destination producing alerts keyed by
// alert_id.
//
// Config holds the connection (brokers, TLS and mutual TLS, SASL PLAIN or
// SCRAM with the password read from the environment, PLAIN refused without
// TLS unless InsecureSASL, client id) and every
// role's settings; its zero fields are documented defaults and Validate
// reports what cannot work. The command lines "kestrel forward" and
// "kestrel run -brokers" live in cmd/kestrel; package node runs a Source
// as a detection node.
//
// The package never prints and logs only through Config.Logger. Every event
// is accounted for in ForwarderStats and SourceStats. SCALING.md, at the
// repository's root, describes a deployment, the guarantees and their
// reasons, partition sizing, and measured figures.
package kafka
