package schema

import (
	"strconv"
)

// File is the JSON form of a schema, as schema files and the built-in
// schemas (ECS, Kestrel) are written:
//
//	{"id": "ecs", "version": 1,
//	 "fields": [{"id": 1, "path": "process.pid", "type": "I64", "description": "process id"}, ...],
//	 "event_types": [{"id": 1, "name": "process_exec"}, ...]}
//
// id names the schema and version numbers its revisions (see
// Registry.SetSchema); both are optional, and a file without them is
// unnamed and unversioned (version 0).
//
// IDs are handed out in list order from 1; an "id" member, when given, must
// equal that position, so a reordered file is an error, not a silent
// renumbering. type is one of Any, I64, U64, F64, Bool, String, Bytes,
// Array, Array<String> (any case), or the name of a plugin type registered with
// RegisterType ("ip"); absent means Any.
//
// "dynamic", optional, lists dynamic namespaces (see Namespace): path
// prefixes whose fields are registered on first use rather than listed,
// for data whose fields no schema can list (Windows event logs, cloud
// audit logs):
//
//	"dynamic": [{"prefix": "winlog", "description": "Windows event logs"},
//	            {"prefix": "aws", "type": "Any"}]
//
// type is as for fields, absent meaning Any. A prefix must be a valid
// path, not a field of the file nor under one, and neither under nor
// above another prefix; fields of the file under a prefix keep their types.
type File struct {
	ID         string          `json:"id,omitempty"`
	Version    uint32          `json:"version,omitempty"`
	Fields     []FileField     `json:"fields"`
	EventTypes []FileEventType `json:"event_types"`
	Dynamic    []FileNamespace `json:"dynamic,omitempty"`
}

// FileNamespace is one dynamic namespace of a File.
type FileNamespace struct {
	Prefix      string `json:"prefix"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
}

// FileField is one field of a File.
type FileField struct {
	ID          uint32 `json:"id,omitempty"`
	Path        string `json:"path"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
}

// FileEventType is one event type of a File.
type FileEventType struct {
	ID   uint16 `json:"id,omitempty"`
	Name string `json:"name"`
}

// FileError is an entry of a File that cannot be registered: Where says
// which ("fields[3]", "event_types[0]", "id"), Token is the path, name or
// type at fault. It unwraps to the registry's error (ErrInvalidPath,
// ErrDuplicateField, ...) or, for an id out of place or an unknown type,
// to ErrInvalidFile.
type FileError struct {
	Where, Token, Msg string
	Err               error
}

// Error returns "where: msg".
func (e *FileError) Error() string { return e.Where + ": " + e.Msg }

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// FileOf returns reg's schema as a File, with IDs. Fields registered under
// a dynamic namespace are listed like declared ones, at their IDs: a file
// written from a registry pins them (see the package doc).
func FileOf(reg *Registry) File {
	s := reg.load()
	f := File{ID: s.id, Version: s.schemaVersion}
	for i, d := range s.fields {
		f.Fields = append(f.Fields, FileField{ID: uint32(i + 1), Path: d.Path, Type: d.DataType.String(), Description: d.Description})
	}
	for i, n := range s.types {
		f.EventTypes = append(f.EventTypes, FileEventType{ID: uint16(i + 1), Name: n})
	}
	if s.dyn != nil {
		for _, ns := range s.dyn.list {
			f.Dynamic = append(f.Dynamic, FileNamespace{Prefix: ns.Prefix, Type: ns.DataType.String(), Description: ns.Description})
		}
	}
	return f
}

// Registry registers f into a new Registry. It fails with a *FileError
// naming the first entry that cannot be registered.
func (f *File) Registry() (*Registry, error) {
	reg := NewRegistry()
	for i, fd := range f.Fields {
		where := "fields[" + strconv.Itoa(i) + "]"
		if fd.ID != 0 && fd.ID != uint32(i+1) {
			return nil, &FileError{Where: where, Token: fd.Path, Err: ErrInvalidFile,
				Msg: "id " + strconv.Itoa(int(fd.ID)) + " does not match its position (" + strconv.Itoa(i+1) + ")"}
		}
		t := TypeAny
		if fd.Type != "" {
			var ok bool
			if t, ok = LookupType(fd.Type); !ok {
				return nil, &FileError{Where: where, Token: fd.Type, Msg: "unknown type " + strconv.Quote(fd.Type), Err: ErrInvalidFile}
			}
		}
		if _, err := reg.RegisterField(FieldDef{Path: fd.Path, DataType: t, Description: fd.Description}); err != nil {
			return nil, &FileError{Where: where, Token: fd.Path, Msg: err.Error(), Err: err}
		}
	}
	for i, et := range f.EventTypes {
		where := "event_types[" + strconv.Itoa(i) + "]"
		if et.ID != 0 && et.ID != uint16(i+1) {
			return nil, &FileError{Where: where, Token: et.Name, Err: ErrInvalidFile,
				Msg: "id " + strconv.Itoa(int(et.ID)) + " does not match its position (" + strconv.Itoa(i+1) + ")"}
		}
		if _, err := reg.RegisterEventType(et.Name); err != nil {
			return nil, &FileError{Where: where, Token: et.Name, Msg: err.Error(), Err: err}
		}
	}
	for i, d := range f.Dynamic {
		where := "dynamic[" + strconv.Itoa(i) + "]"
		t := TypeAny
		if d.Type != "" {
			var ok bool
			if t, ok = LookupType(d.Type); !ok {
				return nil, &FileError{Where: where, Token: d.Type, Msg: "unknown type " + strconv.Quote(d.Type), Err: ErrInvalidFile}
			}
		}
		if err := reg.RegisterNamespace(Namespace{Prefix: d.Prefix, DataType: t, Description: d.Description}); err != nil {
			return nil, &FileError{Where: where, Token: d.Prefix, Msg: err.Error(), Err: err}
		}
	}
	if err := reg.SetSchema(f.ID, f.Version); err != nil {
		return nil, &FileError{Where: "id", Token: f.ID, Msg: err.Error(), Err: err}
	}
	return reg, nil
}
