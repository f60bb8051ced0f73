// Package rule is Kestrel's rule language: EQL, as the original Kestrel's
// rule packages and Elastic write it, and the rule packages themselves.
//
// # Queries
//
// An event query matches single events:
//
//	process where process.executable == "/bin/bash" and process.pid > 1
//
// A sequence matches events in order, joined by the values of its by
// fields (or, with none, by the event's entity key), each within maxspan of
// the first:
//
//	sequence by process.entity_id with maxspan=10s
//	  [network where network.direction == "outbound"]
//	  [process where process.executable in ("/bin/bash", "/bin/sh")] by process.pid with runs=2
//	until [process where event.action == "exit"]
//
// with maxspan may also follow the steps, as the original's rules write it.
// A step's own by fields follow the sequence's in the join key; with runs=N
// stands for N consecutive matching steps; until drops the partial matches of
// the join key of an event it matches. maxspan takes ms, s, m, h and d (and
// us, ns); runs 1 to 100.
//
// A missing-event step ![...] (Elastic's) matches the absence of an event:
//
//	sequence by host.name, user.name with maxspan=5s
//	  [authentication where event.code : "4624"]
//	  ![authentication where event.code : "4647"]
//
// Missing-event steps may stand first, last or between steps (with by and
// runs like any step); a sequence with one needs with maxspan and at least
// one other step. The other steps match as if it were not there; then,
// with the join values of the match (through the missing step's own by
// fields), an event of a middle missing step strictly between its
// neighbours' events rules the match out; so does, for leading steps only,
// the latest leading event before the first event when it is within
// maxspan of the last; for trailing only, the first trailing event after
// the last event within maxspan of the first; and with both, a latest
// leading and a first trailing event within maxspan of each other.
//
// A sample (Elastic's) joins events in any order:
//
//	sample by host.name
//	  [file where file.extension == "exe"] by user.name
//	  [process where true] by user.name
//
// It matches when each filter has its own event (one event serves one
// filter) with the same join values; it takes no maxspan, runs or until.
//
// Conditions: ==, != (also =, <>), <, <=, >, >=, and, or, not, parentheses,
// in (...), not in (...), in~ (case-insensitive), : (case-insensitive
// wildcard: * any run, ? one character), like and like~ (wildcards, case
// sensitive and not), regex and regex~ (RE2, matching the whole string),
// startsWith, endsWith, stringContains and wildcard (each with a ~
// variant), true, false, null, and a boolean field alone. A literal may be
// on either side of a comparison. Strings are "double" or 'single' quoted
// with EQL's escapes (\" \' \\ \n \t \r \b \f \/ \u{hex} \uXXXX), or raw:
// """triple-quoted""" or ?"python style". Field names that are not plain
// (hyphens, spaces) are `backticked`. Comments are -- (the original's), //
// and /* */.
//
// A missing field is equal only to null: == with any other value is false,
// != is true, and every ordering, in, and pattern test is false.
//
// Array fields (schema.TypeStringArray, ECS's keyword arrays: process.args,
// event.type, ...) match as in Elasticsearch: a test holds when any
// element passes it (process.args : "-c", event.category in ("process",
// "file")); != and not in are its negation, true when no element equals;
// a single string is a one-element array, and an empty array is missing.
//
// # Expressions
//
// As in Elastic EQL, either side of a comparison may be an expression:
// another field (process.name == process.parent.name), arithmetic (+ - *
// / %, * / % binding tighter; integers stay integers, division truncating;
// a float on either side makes a float), or a function: add, between,
// concat, divide, endsWith, indexOf, length, modulo, multiply, number,
// startsWith, string, stringContains, substring, subtract, wildcard (the
// string ones with a ~ form where Elastic has one), on expressions in any
// argument. Null in gives null out; a comparison with null on either side
// is false, except with a literal null (x == null, x != null). ?field is
// an optional field: null when absent, and when the schema lacks it, a
// field that is never present rather than an error; as a by field it
// joins events on null (Elastic's optional join key), where a plain by
// field never joins on null. Integer literals compare with float fields
// and float literals with integer fields, by value. in, :, like, regex
// and cidrMatch test an expression as they test a field: length(a) in
// (1, 2), substring(a, 0, 3) : "cmd*".
//
// # Where Kestrel differs from Elastic EQL
//
// Kestrel matches events as they stream in, once, with no stored index to
// look back into; so, one line each:
//   - Pipes (| head, | tail, | count, | filter, | unique, | sort) are hunting
//     features over stored results and are refused (ErrUnsupported).
//   - join queries are refused (ErrUnsupported); Elastic has none either.
//   - A sample alerts as soon as each filter has its event, and its join
//     key then starts afresh: Elastic picks one sample per key from stored
//     events; a stream cannot wait for all of them.
//   - A match that a trailing missing-event step may still rule out is held
//     until event time (its partition's newest event) passes its window, or
//     until detect.Detector.Flush at the end of input, and alerts then.
//   - An alert holds the events found; Elastic's -1 placeholders for
//     missing-event steps are left out.
//   - A sequence's events are ordered by arrival per partition, not by
//     re-sorting stored events by timestamp and tiebreaker.
//   - A function that fails on a value at run time (division by zero, a
//     string number() cannot read) gives null, never a query error.
//   - A comparison between fields of different types is an error at load
//     only when the schema declares both types; otherwise it is false.
//   - Not a streaming difference, but a cost: in, :, like, regex and
//     cidrMatch on an expression (length(a) in (1, 2), concat(a, b) : "x*")
//     cannot be guarded by the rule index and run for every event of
//     their type. cidrMatch and wildcard take literal patterns, as Elastic's.
//   - An expression over one array field is tried on each element, the
//     field standing for the same element wherever it appears
//     (length(registry.data.strings) > 0); one over two array fields, and
//     a by join on one, read whole arrays (string functions give null on
//     them; a join compares whole arrays).
//   - The ~ forms fold case with Unicode simple folding, matching windows
//     of the pattern's length in bytes when the pattern is not a literal.
//
// # Resolution
//
// Parse reads text into a Query; Resolve binds it to a schema.Registry:
// field paths to FieldIDs, event names to event type IDs (a name stands
// for itself and every type it prefixes with an underscore: process for
// process_exec, process_exit, ...; any for all), literals coerced to each
// field's declared type. An unknown path or event name and a type mismatch
// are errors at load, with line, column and token, never a rule that is
// silently false. Compile does both.
//
// A path the registry lacks under one of its dynamic namespaces
// (schema.Namespace; ECS declares winlog, aws, okta, ...) is not unknown:
// Resolve registers it (Registry.RegisterDynamic), with the namespace's
// type, Any by default (compared by each value's own kind, so "3" does not
// equal 3), and every rule naming it gets the same ID. Registration
// happens as the rule resolves, so a rule refused for another reason may
// still have registered its paths; such IDs are local to the process (see
// the schema package's doc).
//
// # Plugin field types
//
// A field declared with a plugin type (schema.RegisterType: an ip, a MAC
// address, ...) is compared as the type defines: Resolve reads the literals
// of ==, !=, <, <=, >, >= and in through the type's Parse, and package detect
// compares by its Compare, so `source.ip == "2001:0db8::1"` matches the
// value "2001:db8::1" when the type says they are one address; cidrMatch
// uses the type's Match when it has one. Field.Plugin names the type,
// Field.Type its base type, which the other pattern tests, join keys and
// functions use (values are not rewritten: a by join on such a field
// compares the text). in~ on such a field is an error.
//
// # Packages
//
// A rule package is a folder, laid out as the original lays it out:
// manifest.json (see Manifest) and rule.eql. LoadPackage loads one and
// LoadDir a folder of them. A package whose rule is predicate.lua, rule.wasm
// or rule.wat is reported as unsupported, by rule id and file.
//
// DefaultRegistry is the schema rules compile against by default: ECS
// (schema.ECS), with fixed IDs; ReadSchema and LoadSchema read another from
// a JSON file. ECS keyword arrays (process.args, event.type, the fields ECS
// normalizes to arrays) are Array<String> fields there, matched element-wise
// (see Queries).
//
// # Elastic rules
//
// ParseElasticRule reads one rule of Elastic's detection-rules repository
// (TOML); ElasticRule.WritePackage writes it as a package, the query
// unchanged, and loads it back. Rules that are not EQL are ElasticSkipErrors
// (ErrNotEQL). docs/elastic-rules.md measures how many of Elastic's rules
// load (TestElasticRules).
package rule
