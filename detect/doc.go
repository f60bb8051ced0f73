// Package detect runs EQL rules (package rule) over the events of a
// partitioned bus and turns matches into alerts (package sink).
//
// A Detector compiles each rule once: conditions become predicates that
// read fields by FieldID (no map lookups, nothing allocated per event), and
// rules are indexed by event type, so an event meets only the rules that
// can use it. Detector.Handle is the handler the bus's partition workers
// run (engine.Handler's signature; engine knows nothing of detection):
//
//	det, _ := detect.New(detect.Config{Rules: set.Packages, Output: out, Partitions: bus.Partitions()})
//	bus.Run(det.Handle)
//
// # Sequences
//
// Each partition keeps, per sequence rule and join key, the partial matches
// of that key, owned by the partition's worker and never shared. The join
// key is the values of the rule's by fields (the sequence's, then the
// step's), or the event's entity key when the rule has none. Because the bus
// shards by entity key, a sequence joins events of different entities only
// when they fall in the same partition: join on fields that are constant per
// entity (process.entity_id), or on none.
//
// The semantics are EQL's: each step's event must come within maxspan of
// the step-0 event (inclusive: exactly maxspan matches, one nanosecond more
// does not); a newer partial match at a step replaces the older one; steps
// are tried from the last to the first, so one event never advances the
// same partial match twice (it may complete one and start another); an
// event matching until drops its key's partial matches and does nothing
// else. A sequence without maxspan (in the query or the manifest's
// max_span_ms) keeps its partial matches until until, completion or
// capacity eviction.
//
// # Expiry and bounds
//
// Matching decisions use event time only, so a replay gives the same
// alerts however fast it runs and at any number of partitions, for a log in
// time order whose join keys are per entity, and while no capacity bound is
// reached (the bounds are per partition). Memory is reclaimed after each batch: partial
// matches whose maxspan has passed at the horizon, the newest event time the
// partition has seen (capped by Config.Clock, the replay's mock clock), are
// dropped. Join keys are bounded per rule (MaxStatesPerRule) and per
// partition (MaxStates); past a bound the least recently used key goes.
// Every dropped partial match is counted by reason: expired, terminated
// (until), capacity.
//
// # Alerts
//
// A match becomes a sink.Alert: the deterministic id sink.NewAlertID(rule
// id, event ids), the rule's id, name, severity and tags from its manifest,
// the time and entity of the last event, the event ids in step order, and
// fields: the join values under their by paths, then the fields each step
// tested with the values its event had ("stepN.path" in a sequence, the
// plain path for an event rule). An alert the Output refuses is counted in
// Stats.AlertsDropped, never lost silently.
package detect
