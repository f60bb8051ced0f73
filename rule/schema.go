package rule

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strconv"

	"github.com/kestrel-sec/kestrel/schema"
)

// defaultFields is the default schema, in ID order: the IDs are fixed (1 is
// process.pid, ...) so recorded logs stay readable. The first sixteen are
// replay's demo schema with the same IDs; the rest are the field paths the
// original Kestrel's rules use, in ECS style.
var defaultFields = []schema.FieldDef{
	{Path: "process.pid", DataType: schema.TypeI64, Description: "process id"},                                // 1
	{Path: "process.parent.pid", DataType: schema.TypeI64, Description: "parent process id"},                  // 2
	{Path: "process.executable", DataType: schema.TypeString, Description: "absolute path of the executable"}, // 3
	{Path: "process.name", DataType: schema.TypeString, Description: "executable base name"},                  // 4
	{Path: "process.command_line", DataType: schema.TypeString, Description: "full command line"},             // 5
	{Path: "process.args_count", DataType: schema.TypeU64, Description: "number of arguments"},                // 6
	{Path: "user.name", DataType: schema.TypeString, Description: "effective user name"},                      // 7
	{Path: "user.id", DataType: schema.TypeU64, Description: "effective user id"},                             // 8
	{Path: "file.path", DataType: schema.TypeString, Description: "path opened"},                              // 9
	{Path: "file.flags", DataType: schema.TypeU64, Description: "open(2) flags"},                              // 10
	{Path: "source.ip", DataType: schema.TypeString, Description: "local address"},                            // 11
	{Path: "source.port", DataType: schema.TypeU64, Description: "local port"},                                // 12
	{Path: "destination.ip", DataType: schema.TypeString, Description: "remote address"},                      // 13
	{Path: "destination.port", DataType: schema.TypeU64, Description: "remote port"},                          // 14
	{Path: "network.transport", DataType: schema.TypeString, Description: "tcp or udp"},                       // 15
	{Path: "host.name", DataType: schema.TypeString, Description: "host name"},                                // 16

	{Path: "process.entity_id", DataType: schema.TypeString, Description: "unique id of the process across pid reuse"}, // 17
	{Path: "process.args", DataType: schema.TypeString, Description: "arguments, space-separated"},                     // 18
	{Path: "process.working_directory", DataType: schema.TypeString, Description: "current directory"},                 // 19
	{Path: "process.exit_code", DataType: schema.TypeI64, Description: "exit status"},                                  // 20
	{Path: "process.parent.executable", DataType: schema.TypeString, Description: "parent's executable"},               // 21
	{Path: "process.parent.name", DataType: schema.TypeString, Description: "parent's executable base name"},           // 22
	{Path: "process.parent.entity_id", DataType: schema.TypeString, Description: "parent's entity id"},                 // 23
	{Path: "user.effective.id", DataType: schema.TypeU64, Description: "effective user id after a setuid"},             // 24
	{Path: "user.effective.name", DataType: schema.TypeString, Description: "effective user name after a setuid"},      // 25
	{Path: "group.id", DataType: schema.TypeU64, Description: "group id"},                                              // 26
	{Path: "group.name", DataType: schema.TypeString, Description: "group name"},                                       // 27
	{Path: "file.name", DataType: schema.TypeString, Description: "base name of the file"},                             // 28
	{Path: "file.extension", DataType: schema.TypeString, Description: "file extension, with its dot"},                 // 29
	{Path: "file.directory", DataType: schema.TypeString, Description: "directory of the file"},                        // 30
	{Path: "file.target_path", DataType: schema.TypeString, Description: "new path of a rename or link"},               // 31
	{Path: "file.size", DataType: schema.TypeU64, Description: "size in bytes"},                                        // 32
	{Path: "file.mode", DataType: schema.TypeU64, Description: "permission bits"},                                      // 33
	{Path: "network.direction", DataType: schema.TypeString, Description: "inbound or outbound"},                       // 34
	{Path: "network.protocol", DataType: schema.TypeString, Description: "application protocol (http, dns, ...)"},      // 35
	{Path: "network.src_ip", DataType: schema.TypeString, Description: "local address (original's name)"},              // 36
	{Path: "network.src_port", DataType: schema.TypeU64, Description: "local port (original's name)"},                  // 37
	{Path: "network.dest_ip", DataType: schema.TypeString, Description: "remote address (original's name)"},            // 38
	{Path: "network.dest_port", DataType: schema.TypeU64, Description: "remote port (original's name)"},                // 39
	{Path: "network.dest_host", DataType: schema.TypeString, Description: "remote host name (original's name)"},        // 40
	{Path: "network.bytes", DataType: schema.TypeU64, Description: "bytes sent and received"},                          // 41
	{Path: "destination.domain", DataType: schema.TypeString, Description: "remote host name"},                         // 42
	{Path: "dns.question.name", DataType: schema.TypeString, Description: "name looked up"},                            // 43
	{Path: "host.id", DataType: schema.TypeString, Description: "host id"},                                             // 44
	{Path: "event.action", DataType: schema.TypeString, Description: "what happened, in the sensor's words"},           // 45
	{Path: "event.outcome", DataType: schema.TypeString, Description: "success or failure"},                            // 46
}

// defaultEventTypes are the default event types, in ID order. The first
// three are replay's demo types with the same IDs. An EQL event name
// stands for the types it prefixes: process for process_exec, process_fork
// and process_exit; file for file_open ... file_rename; network for
// network_connect ... network_dns.
var defaultEventTypes = []string{
	"process_exec", "file_open", "network_connect", // 1-3
	"process_fork", "process_exit", // 4-5
	"file_create", "file_write", "file_delete", "file_rename", "file_chmod", // 6-10
	"network_accept", "network_listen", "network_dns", // 11-13
	"authentication", "privilege_change", // 14-15
}

// The default schema's id and version, which logs record; the version goes
// up with every change to defaultFields or defaultEventTypes, and such a
// change must be compatible (see schema.Compatible): new IDs only.
const (
	DefaultSchemaID      = "kestrel.ecs"
	DefaultSchemaVersion = 1
)

// DefaultRegistry returns a new Registry holding the default schema: ECS
// style field paths (process.*, file.*, network.*, user.*, ...) and event
// types with fixed IDs; see DefaultSchema for the list. It is what rules
// compile against when no schema file is given.
func DefaultRegistry() *schema.Registry {
	reg := schema.NewRegistry()
	// Static and valid: registering it into an empty registry cannot fail
	// (TestDefaultRegistry checks every ID).
	_, _ = reg.RegisterFields(defaultFields...)
	for _, name := range defaultEventTypes {
		_, _ = reg.RegisterEventType(name)
	}
	_ = reg.SetSchema(DefaultSchemaID, DefaultSchemaVersion)
	return reg
}

// SchemaFile is the JSON form of a schema, read by ReadSchema and written
// by DefaultSchema:
//
//	{"id": "kestrel.ecs", "version": 1,
//	 "fields": [{"id": 1, "path": "process.pid", "type": "I64", "description": "process id"}, ...],
//	 "event_types": [{"id": 1, "name": "process_exec"}, ...]}
//
// id names the schema and version numbers its revisions (see
// schema.Registry.SetSchema); both are optional, and a file without them is
// unnamed and unversioned (version 0), as files were before they existed.
// A new version should be compatible with the last (kestrel schema diff
// checks it).
//
// IDs are handed out in list order from 1; an "id" member, when given, must
// equal that position, so a reordered file is an error, not a silent
// renumbering. type is one of Any, I64, U64, F64, Bool, String, Bytes,
// Array (any case), or the name of a plugin type registered with
// schema.RegisterType ("ip"); absent means Any.
type SchemaFile struct {
	ID         string            `json:"id,omitempty"`
	Version    uint32            `json:"version,omitempty"`
	Fields     []SchemaField     `json:"fields"`
	EventTypes []SchemaEventType `json:"event_types"`
}

// SchemaField is one field of a SchemaFile.
type SchemaField struct {
	ID          uint32 `json:"id,omitempty"`
	Path        string `json:"path"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
}

// SchemaEventType is one event type of a SchemaFile.
type SchemaEventType struct {
	ID   uint16 `json:"id,omitempty"`
	Name string `json:"name"`
}

// DefaultSchema returns the default schema as a SchemaFile, with IDs.
func DefaultSchema() SchemaFile {
	sf := SchemaFile{ID: DefaultSchemaID, Version: DefaultSchemaVersion}
	for i, f := range defaultFields {
		sf.Fields = append(sf.Fields, SchemaField{ID: uint32(i + 1), Path: f.Path, Type: f.DataType.String(), Description: f.Description})
	}
	for i, n := range defaultEventTypes {
		sf.EventTypes = append(sf.EventTypes, SchemaEventType{ID: uint16(i + 1), Name: n})
	}
	return sf
}

// ReadSchema reads a SchemaFile from r and registers it into a new
// Registry; name is the file named in errors, which match ErrSchemaFile
// (and the schema package's errors for a bad or duplicate path).
func ReadSchema(name string, r io.Reader) (*schema.Registry, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSourceBytes+1))
	if err != nil {
		return nil, &Error{File: name, Msg: err.Error(), Err: ErrSchemaFile}
	}
	if len(data) > MaxSourceBytes {
		return nil, &Error{File: name, Msg: "schema file larger than " + strconv.Itoa(MaxSourceBytes) + " bytes", Err: ErrSchemaFile}
	}
	var sf SchemaFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		e := manifestJSONError(name, data, err).(*Error)
		e.Err = ErrSchemaFile
		return nil, e
	}
	reg := schema.NewRegistry()
	for i, f := range sf.Fields {
		where := "fields[" + strconv.Itoa(i) + "]"
		if f.ID != 0 && f.ID != uint32(i+1) {
			return nil, &Error{File: name, Token: f.Path, Msg: where + ": id " + strconv.Itoa(int(f.ID)) +
				" does not match its position (" + strconv.Itoa(i+1) + ")", Err: ErrSchemaFile}
		}
		t, ok := parseDataType(f.Type)
		if !ok {
			return nil, &Error{File: name, Token: f.Type, Msg: where + ": unknown type " + strconv.Quote(f.Type), Err: ErrSchemaFile}
		}
		if _, err := reg.RegisterField(schema.FieldDef{Path: f.Path, DataType: t, Description: f.Description}); err != nil {
			return nil, &Error{File: name, Token: f.Path, Msg: where + ": " + err.Error(), Err: joinErr{ErrSchemaFile, err}}
		}
	}
	for i, et := range sf.EventTypes {
		where := "event_types[" + strconv.Itoa(i) + "]"
		if et.ID != 0 && et.ID != uint16(i+1) {
			return nil, &Error{File: name, Token: et.Name, Msg: where + ": id " + strconv.Itoa(int(et.ID)) +
				" does not match its position (" + strconv.Itoa(i+1) + ")", Err: ErrSchemaFile}
		}
		if _, err := reg.RegisterEventType(et.Name); err != nil {
			return nil, &Error{File: name, Token: et.Name, Msg: where + ": " + err.Error(), Err: joinErr{ErrSchemaFile, err}}
		}
	}
	if err := reg.SetSchema(sf.ID, sf.Version); err != nil {
		return nil, &Error{File: name, Token: sf.ID, Msg: "id: " + err.Error(), Err: joinErr{ErrSchemaFile, err}}
	}
	return reg, nil
}

// LoadSchema reads the schema file at path (see ReadSchema).
func LoadSchema(path string) (*schema.Registry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: ErrSchemaFile}
	}
	defer f.Close()
	return ReadSchema(path, f)
}

func parseDataType(s string) (schema.FieldDataType, bool) {
	if s == "" {
		return schema.TypeAny, true
	}
	return schema.LookupType(s)
}

// joinErr matches two sentinels at once.
type joinErr [2]error

func (j joinErr) Error() string   { return j[1].Error() }
func (j joinErr) Unwrap() []error { return j[:] }
