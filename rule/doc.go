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
// the join key of an event it matches.
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
// field that is never present rather than an error. Integer literals
// compare with float fields and float literals with integer fields, by
// value.
//
// # Where Kestrel differs from Elastic EQL
//
// Kestrel matches events as they stream in, once, with no stored index to
// look back into; so, one line each:
//   - Pipes (| head, | tail, | count, | filter, | unique, | sort) are hunting
//     features over stored results and are refused (ErrUnsupported).
//   - sample and join queries are refused (ErrUnsupported).
//   - Missing-event steps (![...]) are refused (ErrUnsupported): a streaming
//     match would have to be held back until maxspan passes in event time.
//   - A sequence's events are ordered by arrival per partition, not by
//     re-sorting stored events by timestamp and tiebreaker.
//   - A function that fails on a value at run time (division by zero, a
//     string number() cannot read) gives null, never a query error.
//   - A comparison between fields of different types is an error at load
//     only when the schema declares both types; otherwise it is false.
//   - cidrMatch takes a field and literal prefixes; wildcard literal
//     patterns; in, :, like and regex a field on their left.
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
// # Packages
//
// A rule package is a folder, laid out as the original lays it out:
// manifest.json (see Manifest) and rule.eql. LoadPackage loads one and
// LoadDir a folder of them. A package whose rule is predicate.lua, rule.wasm
// or rule.wat is reported as unsupported, by rule id and file.
//
// DefaultRegistry is the schema rules compile against by default: ECS
// (schema.ECS), with fixed IDs; ReadSchema and LoadSchema read another from
// a JSON file. ECS keyword arrays (process.args, event.type, ...) are String
// fields there: Resolve refuses comparing an Array field, so Elastic's
// element-wise array matching is not available yet.
//
// # Elastic rules
//
// ParseElasticRule reads one rule of Elastic's detection-rules repository
// (TOML); ElasticRule.WritePackage writes it as a package, the query
// unchanged, and loads it back. Rules that are not EQL are ElasticSkipErrors
// (ErrNotEQL). docs/elastic-rules.md measures how many of Elastic's rules
// load (TestElasticRules).
package rule
