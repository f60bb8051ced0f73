package node

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// SchemaError says why ReloadSchema refused a schema: Err is the file's
// load error, or a *schema.IncompatibleError (matching
// schema.ErrIncompatible) with the whole Report; Affected names the
// loaded rules that reference a field or event type a breaking change
// removes, renumbers, reuses or narrows.
type SchemaError struct {
	// Path is the schema file ("" when the schema was given as a
	// registry).
	Path     string
	Report   schema.Report
	Affected []rule.Impact
	Err      error
}

// Error returns "node: schema PATH not reloaded: REASON; rules affected:
// ID (PATH: CHANGE), ...".
func (e *SchemaError) Error() string {
	var b strings.Builder
	b.WriteString("node: schema ")
	if e.Path != "" {
		b.WriteString(e.Path + " ")
	}
	b.WriteString("not reloaded: " + e.Err.Error())
	for i, im := range e.Affected {
		if i == 0 {
			b.WriteString("; rules affected: ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s: %s)", im.Rule, im.Path, im.Change.Kind)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *SchemaError) Unwrap() error { return e.Err }

// ReloadSchema evolves the node's schema to next when the change is
// compatible (schema.Compatible: new fields and event types, widened
// types, descriptions, a raised version), and then recompiles the rules
// against it: from RulesDir, read again as Reload does, or the packages
// the node runs. The registry changes in place, as one snapshot, so
// sources decode events of the new fields from then on. Partial matches
// of rules the change leaves alone carry over (see Reload).
//
// A breaking change is refused and nothing changes: the error is a
// *SchemaError with the report and the loaded rules the breaking changes
// reach. The report is returned either way; an empty one means next is
// the schema already running, and the rules are not recompiled. If the
// rules then fail to compile, the schema stays evolved (the running rules
// read it as before) and the error says why, as Reload's does.
func (n *Node) ReloadSchema(next *schema.Registry) (schema.Report, error) {
	n.schemaMu.Lock()
	defer n.schemaMu.Unlock()
	rep, err := n.reg.Evolve(next)
	if err != nil {
		n.schemaReloadFailures.Add(1)
		n.mu.Lock()
		set := rule.Set{Packages: n.rules}
		n.mu.Unlock()
		return rep, &SchemaError{Report: rep, Affected: set.Affected(rep), Err: err}
	}
	if len(rep.Changes) == 0 {
		return rep, nil
	}
	n.schemaReloads.Add(1)
	n.log.Info("node: schema evolved", "schema", n.reg.SchemaID(), "version", n.reg.SchemaVersion(), "changes", len(rep.Changes))
	if n.det.Load() == nil {
		return rep, nil // a node without rules: nothing compiled against it
	}
	if n.cfg.RulesDir != "" {
		return rep, n.Reload()
	}
	n.mu.Lock()
	old := n.rules
	n.mu.Unlock()
	rules := make([]*rule.Package, len(old))
	for i, p := range old {
		q, err := rule.Compile(filepath.Join(p.Dir, rule.EQLFile), p.Source, n.reg)
		if err != nil {
			n.reloadFailures.Add(1)
			return rep, &StageError{"rules", err}
		}
		np := *p
		np.Query = q
		rules[i] = &np
	}
	return rep, n.ReloadRules(rules)
}

// ReloadSchemaFile reads Config.SchemaPath again and applies it with
// ReloadSchema; a file that does not load is refused with a *SchemaError
// saying where it is wrong. A node without SchemaPath returns
// ErrNoSchemaFile.
func (n *Node) ReloadSchemaFile() (schema.Report, error) {
	path := n.cfg.SchemaPath
	if path == "" {
		return schema.Report{}, ErrNoSchemaFile
	}
	next, err := rule.LoadSchema(path)
	if err != nil {
		n.schemaReloadFailures.Add(1)
		return schema.Report{}, &SchemaError{Path: path, Err: err}
	}
	rep, err := n.ReloadSchema(next)
	if se, ok := err.(*SchemaError); ok {
		se.Path = path
	}
	return rep, err
}
