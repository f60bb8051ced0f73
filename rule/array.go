package rule

import "github.com/kestrel-sec/kestrel/schema"

// elementType returns the type Resolve compares a field of declared type t
// as, and whether it is an array: an array of strings (ECS's keyword
// arrays: process.args, event.type, ...) is compared as its String
// elements, any of which may satisfy a test (Elasticsearch's multi-value
// semantics); every other type is itself.
func elementType(t schema.FieldDataType) (schema.FieldDataType, bool) {
	if t == schema.TypeStringArray {
		return schema.TypeString, true
	}
	return t, false
}
