package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"

	"github.com/kestrel-sec/kestrel/schema"
)

// The default schema's id and version, which logs record: ECS (see
// schema.ECSFile), owned by the schema package. A new version must be
// compatible with the last (see schema.Compatible): new IDs only.
const (
	DefaultSchemaID      = schema.ECSID
	DefaultSchemaVersion = schema.ECSVersion
)

// DefaultRegistry returns a new Registry holding the default schema, ECS
// (schema.ECS): the ECS field paths Elastic's endpoint rules use, with ECS
// types, and event types after ECS event.category, with fixed IDs. It is
// what rules compile against when no schema file is given. The original
// Kestrel default schema is schema.Kestrel (its file: schema/kestrel.json).
func DefaultRegistry() *schema.Registry { return schema.ECS() }

// ReadSchema reads a schema file (schema.File) from r and registers it into a new
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
	var sf schema.File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		e := manifestJSONError(name, data, err).(*Error)
		e.Err = ErrSchemaFile
		return nil, e
	}
	reg, err := sf.Registry()
	if err != nil {
		var fe *schema.FileError
		if !errors.As(err, &fe) {
			return nil, &Error{File: name, Msg: err.Error(), Err: ErrSchemaFile}
		}
		cause := error(ErrSchemaFile)
		if !errors.Is(fe.Err, schema.ErrInvalidFile) {
			cause = joinErr{ErrSchemaFile, fe.Err}
		}
		return nil, &Error{File: name, Token: fe.Token, Msg: fe.Error(), Err: cause}
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

// joinErr matches two sentinels at once.
type joinErr [2]error

func (j joinErr) Error() string   { return j[1].Error() }
func (j joinErr) Unwrap() []error { return j[:] }
