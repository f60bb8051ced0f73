package kafka

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxSchemas bounds the mappings a Source keeps: a fleet runs a handful of
// schemas, and a producer writing a new id per record must not grow memory
// without bound.
const maxSchemas = 256

// schemaMapper maps records of other schemas into the Source's own.
type schemaMapper struct {
	local    *schema.Registry
	resolve  func(id string, version uint32) (*schema.Registry, error)
	opts     schema.MappingOptions
	maps     map[string]*schema.Mapping // by HeaderSchema value
	unmapped atomic.Uint64
}

// withMapping makes d map records naming another schema than local's.
func (d *decoder) withMapping(local *schema.Registry, resolve func(string, uint32) (*schema.Registry, error), opts schema.MappingOptions) *decoder {
	d.mapper.local, d.mapper.resolve, d.mapper.opts = local, resolve, opts
	return d
}

// mapping returns the mapping a record's headers call for, nil when none;
// named reports whether they name a schema.
func (m *schemaMapper) mapping(headers []kgo.RecordHeader) (mp *schema.Mapping, named bool, err error) {
	if m.local == nil {
		return nil, false, nil
	}
	for _, h := range headers {
		if h.Key != HeaderSchema {
			continue
		}
		mp, err := m.mappingOf(h.Value)
		return mp, true, err
	}
	return nil, false, nil
}

// mappingOf returns the mapping for a schema named "id/version".
func (m *schemaMapper) mappingOf(v []byte) (*schema.Mapping, error) {
	if mp, ok := m.maps[string(v)]; ok {
		return mp, nil
	}
	return m.build(v)
}

func (m *schemaMapper) build(v []byte) (*schema.Mapping, error) {
	i := bytes.LastIndexByte(v, '/')
	if i < 0 {
		return nil, fmt.Errorf("%s header %q is not id/version", HeaderSchema, v)
	}
	id := string(v[:i])
	ver, err := strconv.ParseUint(string(v[i+1:]), 10, 32)
	if err != nil || schema.ValidSchemaID(id) != nil || id == "" {
		return nil, fmt.Errorf("%s header %q is not id/version", HeaderSchema, v)
	}
	var mp *schema.Mapping // nil: the local schema, no mapping
	same := id == m.local.SchemaID()
	if !same || (uint32(ver) != m.local.SchemaVersion() && m.resolve != nil) {
		if m.resolve == nil {
			return nil, fmt.Errorf("record in schema %s version %d, and no Resolve configured", id, ver)
		}
		remote, err := m.resolve(id, uint32(ver))
		if err != nil {
			return nil, fmt.Errorf("resolving schema %s version %d: %w", id, ver, err)
		}
		if remote == nil {
			return nil, fmt.Errorf("resolving schema %s version %d: no registry", id, ver)
		}
		// Another version of the local schema whose IDs agree with it (one
		// is a compatible evolution of the other) needs no mapping.
		if !same || !(schema.Compatible(remote, m.local).Compatible() || schema.Compatible(m.local, remote).Compatible()) {
			if mp, err = schema.NewMapping(remote, m.local, m.opts); err != nil {
				return nil, err
			}
		}
	}
	if m.maps == nil {
		m.maps = make(map[string]*schema.Mapping)
	}
	if len(m.maps) < maxSchemas {
		m.maps[string(v)] = mp
	}
	return mp, nil
}

// apply maps evs in place and returns how many remain, in order; the
// events refused are moved past them (their storage kept for reuse).
func (m *schemaMapper) apply(mp *schema.Mapping, evs []schema.Event) int {
	k := 0
	for i := range evs {
		if mp.Apply(&evs[i]) != nil {
			m.unmapped.Add(1)
			continue
		}
		if i != k {
			evs[k], evs[i] = evs[i], evs[k]
		}
		k++
	}
	return k
}
