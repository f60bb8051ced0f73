// Package schema holds Kestrel's event model: field and event-type IDs, the
// Registry that maps field paths to stable numeric IDs, the Event record and
// its Builder, and the event's JSON-lines wire form.
//
// IDs are handed out from 1 in registration order; 0 means none. Registry
// lookups by ID and by path are O(1) and lock-free: readers load an immutable
// snapshot through an atomic pointer, and every registration publishes a new
// snapshot with a higher Version, so a registry can grow while detection
// reads it (hot reload).
//
// An Event keeps up to InlineFields fields inside itself, sorted by FieldID,
// so building, copying and reading a typical event allocates nothing.
//
// The JSON form, one event per line, is the Rust original's:
//
//	{"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1000000000,"entity_key":0,"fields":{"1":{"String":"/bin/ls"}}}
//
// entity_key is a JSON integer up to 2^128-1 and field keys are decimal
// FieldIDs. The decoder also reads the shape where fields are an array of
// [id, value] pairs and, given a Registry, events written by hand: the
// type by name, fields by path, plain JSON values (see Decoder).
//
// The built-in schemas are schema files embedded in the package: ECS, the
// default (ECSFile), and the original Kestrel schema (KestrelFile). A File
// is the JSON form of any schema; File.Registry registers it.
package schema
