package rule

import (
	"errors"

	"github.com/kestrel-sec/kestrel/schema"
)

// dynamic registers path, unknown to the registry, when it lies under one
// of the registry's dynamic namespaces (schema.Namespace), and returns its
// new ID, or 0 and why it cannot be registered (" (under the dynamic
// namespace winlog, but ...)": not a valid path, or in conflict with a
// field, as winlog.event_data.x is when winlog.event_data is one), which
// the unknown-field error then says. A path under no namespace gives 0 and
// "". Concurrent resolutions of one path get one ID (the registry's
// RegisterDynamic).
func (r *resolver) dynamic(path string) (schema.FieldID, string) {
	ns, ok := r.reg.NamespaceOf(path)
	if !ok {
		return 0, ""
	}
	id, err := r.reg.RegisterDynamic(path)
	if err == nil {
		return id, ""
	}
	why := err.Error()
	var pe *schema.PathError
	if errors.As(err, &pe) && pe.Detail != "" {
		why = pe.Detail
	}
	return 0, " (under the dynamic namespace " + ns.Prefix + ", but it cannot be registered: " + why + ")"
}
