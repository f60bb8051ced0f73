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
//
// # Dynamic namespaces
//
// A schema may declare dynamic namespaces (Namespace; a File's "dynamic"
// list): path prefixes, such as winlog or aws, whose fields need not be
// listed. ECS declares the integration prefixes Elastic's rules read
// (winlog, aws, azure, gcp, okta, o365, ...) and Elastic Defend's
// Effective_process and Persistence. Resolving a rule registers each path
// it names under one (RegisterDynamic): the namespace's type, Any by
// default, the next free ID, FieldDef.Dynamic set, one ID per path however
// many rules name it. A hand-written event's unregistered path under a
// namespace is dropped and counted (Decoder.Skipped): no rule reads it,
// and registering what the data brings would grow the schema without
// bound. The path rules hold under a namespace as elsewhere.
//
// The limit: a dynamic field's ID depends on the order in which this
// process met the paths (the rules loaded, and in which order), while
// logs and Kafka records carry field IDs and only the schema's id and
// version (ecs/1 with or without winlog.event_data.LogonType at 1384).
// So the by-ID wire forms do not carry dynamic fields between processes:
// the Decoder refuses a dynamic field keyed by ID when given a Registry,
// and a log holding such IDs replays correctly only into a registry that
// registered the same paths in the same order, which nothing checks (the
// binary and protobuf readers do not refuse them). A process that forwards
// or records integration data without the rules that name its fields
// drops those fields. To carry them, name them by path (hand-written
// events, decoded where the rules run), or pin them: list them under
// "fields" of a schema file with its own id or version (FileOf writes a
// registry's fields, dynamic ones included, at their IDs) used at both
// ends. Evolve keeps dynamic fields past the new schema's own fields; a
// new schema that declares a field at a dynamic field's ID is refused as
// an ID reused.
package schema
