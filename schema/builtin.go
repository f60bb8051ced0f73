package schema

import (
	_ "embed"
	"encoding/json"
	"sync"
)

// The built-in schemas' ids and versions, which logs record.
const (
	// ECSID names the default schema: the Elastic Common Schema fields
	// Elastic's endpoint rules use, with ECS types, after the original
	// Kestrel's fields (IDs 1 to 46 keep their paths).
	ECSID      = "ecs"
	ECSVersion = 1
	// KestrelID names the original Kestrel default schema, which logs
	// recorded before ECS became the default carry.
	KestrelID      = "kestrel.ecs"
	KestrelVersion = 1
)

//go:embed ecs.json
var ecsJSON []byte

//go:embed kestrel.json
var kestrelJSON []byte

var (
	ecsFile     = sync.OnceValue(func() File { return mustParseFile(ecsJSON) })
	kestrelFile = sync.OnceValue(func() File { return mustParseFile(kestrelJSON) })
)

// mustParseFile reads a built-in schema; TestBuiltinSchemas proves both
// parse and register, so the panic is unreachable.
func mustParseFile(b []byte) File {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		panic("schema: built-in schema: " + err.Error())
	}
	return f
}

// ECSFile returns the default schema, ECS, as a File (a copy the caller
// may change). Its keyword types map to String, long to I64, boolean to
// Bool, float to F64, and ip to String (cidrMatch reads strings). Fields
// that ECS declares as keyword arrays (process.args, event.type,
// event.category, ...) are String here: rules compare them with ==, : and
// in, which the rule language does not yet apply to Array values element
// by element; an event carries such a field as one string.
//
// Event types follow ECS event.category: the original's process_exec,
// file_open, network_connect, ... (an EQL "process" names every type that
// starts with "process_") and library, driver, dns, registry, iam,
// configuration, api, ... IDs are fixed: a new revision only appends.
func ECSFile() File { return cloneFile(ecsFile()) }

// ECS returns a new Registry holding the default schema (see ECSFile).
func ECS() *Registry { return mustRegistry(ecsFile()) }

// KestrelFile returns the original Kestrel default schema (id
// "kestrel.ecs", version 1) as a File: the first 46 fields of ECS, with
// user.id, user.effective.id and group.id as U64. Logs recorded under it
// replay into ECS through a schema Mapping; its first sixteen fields and
// three event types are replay's demo schema.
func KestrelFile() File { return cloneFile(kestrelFile()) }

// Kestrel returns a new Registry holding KestrelFile.
func Kestrel() *Registry { return mustRegistry(kestrelFile()) }

func mustRegistry(f File) *Registry {
	reg, err := f.Registry()
	if err != nil {
		panic("schema: built-in schema: " + err.Error()) // unreachable: TestBuiltinSchemas
	}
	return reg
}

func cloneFile(f File) File {
	f.Fields = append([]FileField(nil), f.Fields...)
	f.EventTypes = append([]FileEventType(nil), f.EventTypes...)
	if f.Dynamic != nil {
		f.Dynamic = append([]FileNamespace(nil), f.Dynamic...)
	}
	return f
}
