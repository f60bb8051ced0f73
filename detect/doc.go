// Package detect runs EQL rules (package rule) over the events of a
// partitioned bus and turns matches into alerts (package sink).
//
// A Detector compiles each rule once: conditions become predicates that
// read fields by FieldID (no map lookups, nothing allocated per event), and
// rules are indexed by event type and by the literals their conditions
// require, so an event meets only the rules that can use it. Detector.Handle is the handler the bus's partition workers
// run (engine.Handler's signature; engine knows nothing of detection):
//
//	det, _ := detect.New(detect.Config{Rules: set.Packages, Output: out, Partitions: n,
//		EntityPartition: func(k schema.EntityKey) int { return engine.EntityPartition(k, n) }})
//	bus, _ := engine.New(engine.Config{Partitions: n, Route: det.Route})
//	bus.Run(det.Handle)
//
// # The rule index
//
// Within an event type, a rule runs only when its condition can be true:
// New indexes each step by the literals its condition requires (string
// and integer equality, in lists, prefixes, suffixes and substrings of
// pattern tests, under case folding for the case-insensitive forms)
// through hashes and one Aho-Corasick automaton per field, and an event
// meets only the rules whose literals its values hold, plus those the
// index cannot guard (not, orderings, null tests, bare regexps, and every
// comparison or function over expressions: field to field, arithmetic,
// length, concat, ...), which run
// as before. The alerts are exactly those of the unindexed matcher
// (Config.NoIndex); index.go says why.
//
// # Expressions
//
// Operands (fields, literals, arithmetic, function calls) compile to
// closures that return a value.Value and allocate nothing: a string they
// must build (concat, string of a number) is written to the worker's
// scratch arena, emptied before each comparison over operands, and a
// substring or between of a field's value is a slice of it.
//
// # Bounded pattern tests
//
// Literal pattern tests read the whole value in time linear in its
// length, whatever their literals (literal.go): equality, prefix and
// suffix; substrings and sets of them (":" with "*x*", stringContains,
// regexps that are literal sets such as .*(dropbox|s3\.amazonaws).*),
// through one Aho-Corasick automaton per test, folded rune by rune for
// the case-insensitive forms; and wildcards whose only wildcard is *
// ("*curl*|*sh*"), as their literal parts found in order. They are never
// cut. Any other pattern test (a regexp, a wildcard with ?) reads at most
// the first Config.MaxPatternBytes bytes of a value (4 KiB), and fewer
// when its modelled worst case would pass Config.PatternBudget (100 µs;
// cost.go): a match beyond the cut is not seen, and each cut is counted in
// Stats.PatternCuts. A rule with such a test that could read fewer than
// 128 bytes within the budget is rejected (PatternCostError).
//
// # Semantics: results depend on the log alone
//
// The alerts of a rule set over a log are a function of the log alone: the
// same set of alerts, and the same sequence once sorted by (timestamp,
// event ids), at any partition count and for any number of producers that
// each publish in (timestamp, event id) order, on a bus in ordered mode
// when there are several (see Order below). A bus shards events by entity
// for throughput; detection does not let that change what matches:
//
//   - A sequence's join key is the values of its by fields (the
//     sequence's, then the step's: `[a] by unique_pid [b] by unique_ppid`
//     joins a parent to its child) hashed by value, or, without by, the one
//     global sequence of the rule, as in Elastic EQL. It never falls back
//     to the entity key.
//   - The state of a join key lives in one partition, its owner: a hash of
//     the rule and the key modulo the partition count (the same function
//     in every run and process).
//   - Route (engine.Config.Route) sends every event to the owner of each
//     join key it can advance (it matches a step) or cancel (it matches
//     until), whatever its entity; a partition advances or cancels only
//     state it owns, so each copy does its part once. until applies to the
//     join key wherever its event came from.
//   - Event rules, and the event count in Stats, run on the event's home
//     partition only (Config.EntityPartition, its entity partition on the
//     bus), so each alert is raised once.
//
// An event that matches no step, until or event rule is not copied: the
// cost of routing is one more copy for each partition, other than its
// entity's, that owns a key the event advances or cancels. Stats.Copies
// counts them (PERF.md has figures).
//
// # Order
//
// Detection needs each partition to handle its events in the log's order:
// (timestamp, event id), the id breaking ties. Detection does not reorder;
// the bus guarantees it:
//
//   - One producer (Bus.Publish from one goroutine, a replay of a log in
//     time order): a partition sees its events in publish order, which is
//     the log's. Nothing more is needed.
//   - Several producers, each in timestamp order (a sensor per CPU, a
//     reader per file, free-running): enable engine.Config.Ordered and give
//     each its own engine.Producer (Bus.Producer). A partition's worker then
//     merges the producers by (timestamp, event id) under their
//     watermarks, so it hands events on in the log's order however the
//     producers interleave, including the copies Route adds. A producer
//     that goes idle must Advance its watermark (a heartbeat) or Close, or
//     it holds detection back; the price is in PERF.md.
//   - Several producers on a bus that is not ordered: their events
//     interleave in arrival order within a partition, and a step whose
//     event arrives before the earlier step's is missed, as a late event
//     would be (maxspan is still judged on event timestamps). Producers
//     whose merged publish order is the log's (a turnstile) are fine.
//
// An event a producer publishes behind its own watermark (out of its own
// timestamp order) is still handed on, in arrival order, and counted in
// engine.PartitionStats.Late: the same late-event rule applies to it.
//
// # Sequences
//
// The semantics are EQL's: each step's event must come within maxspan of
// the step-0 event (inclusive: exactly maxspan matches, one nanosecond more
// does not); a newer partial match at a step replaces the older one; steps
// are tried from the last to the first, so one event never advances the
// same partial match twice (it may complete one and start another); an
// event matching until drops its key's partial matches and does nothing
// else. A sequence without maxspan (in the query or the manifest's
// max_span_ms) keeps its partial matches until until, completion or
// eviction.
//
// # Missing events and samples
//
// A sequence's missing-event steps (![...], with Elastic's rules: see
// package rule) never hold events: the other steps match as usual, and an
// event of a missing step, routed like an until event to the owner of its
// join key, marks the partial match waiting in its gap (vetoed if the next
// step comes later), the key (a leading step: the latest such times, kept
// for maxspan), or settles the key's held matches (a trailing step). A
// match that a trailing step may still rule out is held (Stats.Held) until
// the partition's newest event time passes its window, then alerts; its
// verdict depends on the log alone, only the moment it comes out on the
// partition's progress. Detector.Flush, called once the bus has drained
// (node does it when its source ends), releases what is still held. A
// ruled-out match counts in Stats.Vetoed. Held matches count in their
// key's memory and go with it when it is evicted (counted in Evicted).
//
// A sample (sample by ... [q1] [q2] ...) keeps, per join key, one event
// per filter, each event serving one filter it matches; a newcomer may
// move an event to another filter it matches (an augmenting path), so the
// alert comes with the first event that makes a full assignment possible.
// The key then starts afresh. Samples have no maxspan: their state goes
// only when it completes or is evicted.
//
// # Expiry and bounds
//
// Matching decisions use event time only, so a replay gives the same
// alerts however fast it runs, while no capacity bound is reached (the
// bounds are per partition, so where eviction starts depends on how keys
// spread). Memory is reclaimed after each batch: partial
// matches whose maxspan has passed at the horizon, the newest event time the
// partition has seen less Config.Lateness (capped by Config.Clock, the
// replay's mock clock), are dropped, and matches held for a trailing
// missing-event step are released at the same horizon. Input merged from
// sources that are each in time order but not with one another (Kafka
// partitions, several sensors) sets Lateness to the disorder it expects
// (kestrel run -brokers: 30 s), or one source's newer events would expire
// another's partial matches before their next step arrives. Join keys are bounded per rule (MaxStatesPerRule) and per
// partition (MaxStates), and their memory per partition in bytes
// (MaxStateBytes); past a bound the least recently used key goes. Every
// dropped partial match is counted by reason: expired, terminated (until),
// capacity, memory.
//
// State owns what it keeps: the join values and tested values of a partial
// match are copied into memory the match owns (an arena per partial, reused
// without allocating), never referenced in the event, whose strings may
// point into a decoder's block and would keep all of it alive.
//
// # Reload
//
// Detector.Reload compiles a new rule set to take over from a running
// Detector between batches. The partial matches of a rule whose compiled
// form is unchanged (same id, rule.eql text, effective maxspan, and
// schema IDs and types of what it references) carry over, moved by each
// partition's own worker on its first batch on the new Detector; those of
// changed or removed rules are dropped and counted as Evictions.Reload.
//
// # Alerts
//
// A match becomes a sink.Alert: the deterministic id sink.NewAlertID(rule
// id, event ids), the rule's id, name, severity and tags from its manifest,
// the time and entity of the last event, the event ids in step order, and
// fields: the join values under their by paths, then the fields each step
// tested with the values its event had ("stepN.path" in a sequence, the
// plain path for an event rule). An alert the Output refuses is counted in
// Stats.AlertsDropped, never lost silently. A worker builds each alert in
// memory it reuses (alertslab.go): the alert carries a sink.Recycler,
// and once its consumer releases it (a sink.Output does when its
// destinations are done with it) a later alert is built there, so in the
// steady state raising an alert allocates nothing. The worker never
// touches an alert between handing it over and getting it back.
package detect
