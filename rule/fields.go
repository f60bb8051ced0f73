package rule

import (
	"sort"

	"github.com/kestrel-sec/kestrel/schema"
)

// FieldUse is one field path a rule set references and the rules that do.
type FieldUse struct {
	Path string
	// Rules are the IDs of the rules referencing Path, in set order.
	Rules []string
}

// FieldsUsed returns every field path the set's rules reference (in
// conditions, join fields and until clauses), sorted by path.
func (s *Set) FieldsUsed() []FieldUse {
	byPath := map[string]*FieldUse{}
	for _, p := range s.Packages {
		for _, path := range queryFields(p.Query) {
			u := byPath[path]
			if u == nil {
				u = &FieldUse{Path: path}
				byPath[path] = u
			}
			u.Rules = append(u.Rules, p.ID())
		}
	}
	out := make([]FieldUse, 0, len(byPath))
	for _, u := range byPath {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Impact is a rule that a breaking schema change reaches.
type Impact struct {
	// Rule is the rule's ID; Path the field path or event type name it
	// references that the change concerns.
	Rule string
	Path string
	// Change is the breaking change.
	Change schema.Change
}

// Affected names the set's rules that a schema change breaks: those that
// reference a field the report lists as removed, reused, renumbered,
// narrowed or turned into a group, or whose steps match an event type it
// lists as removed, reused or renumbered. Compatible changes affect none.
func (s *Set) Affected(rep schema.Report) []Impact {
	var out []Impact
	for _, p := range s.Packages {
		fields := queryFields(p.Query)
		for _, c := range rep.Breaking() {
			switch {
			case c.Path != "":
				for _, path := range fields {
					if path == c.Path {
						out = append(out, Impact{Rule: p.ID(), Path: path, Change: c})
						break
					}
				}
			case c.EventType != 0 && matchesType(p.Query, c.EventType):
				out = append(out, Impact{Rule: p.ID(), Path: c.Name, Change: c})
			}
		}
	}
	return out
}

// queryFields lists the field paths q references, each once, in order.
func queryFields(q *Query) []string {
	if q == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(f *Field) {
		if !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f.Path)
		}
	}
	for _, f := range q.By {
		add(f)
	}
	for _, st := range q.AllSteps() {
		for _, f := range st.By {
			add(f)
		}
		walk(st.Cond, add)
	}
	return out
}

func matchesType(q *Query, id schema.EventTypeID) bool {
	if q == nil {
		return false
	}
	for _, st := range q.AllSteps() {
		if st.AnyType {
			continue // any matches whatever types exist
		}
		for _, t := range st.Types {
			if t == id {
				return true
			}
		}
	}
	return false
}
