package sink

import (
	"github.com/kestrel-sec/kestrel/schema"
	"path"
	"slices"
	"strings"
)

// router is the compiled form of Config.Routes and Config.Default. It is
// used by the dispatcher goroutine only.
type router struct {
	routes []compiledRoute
	def    []int // destination indexes for alerts no route matches

	// Scratch for route: mark[i] == gen when destination i is already in
	// out, so the union of Continue routes holds each destination once
	// without allocating.
	mark []uint32
	gen  uint32
	out  []int
}

type compiledRoute struct {
	rule    string
	glob    bool // rule has path.Match metacharacters
	minSev  schema.Severity
	tags    []string
	dests   []int
	contine bool
}

// newRouter compiles a validated config; index maps destination names to
// their position.
func newRouter(c *Config, index map[string]int) *router {
	r := &router{mark: make([]uint32, len(index)), out: make([]int, 0, len(index))}
	for _, cr := range c.Routes {
		r.routes = append(r.routes, compiledRoute{
			rule:    cr.RuleID,
			glob:    strings.ContainsAny(cr.RuleID, `*?[\`),
			minSev:  cr.MinSeverity,
			tags:    slices.Clone(cr.Tags),
			dests:   indexes(cr.Destinations, index),
			contine: cr.Continue,
		})
	}
	switch {
	case c.Default != nil:
		r.def = indexes(c.Default, index)
	case len(c.Routes) == 0:
		r.def = make([]int, len(index))
		for i := range r.def {
			r.def[i] = i
		}
	}
	r.def = dedupInts(r.def)
	return r
}

func indexes(names []string, index map[string]int) []int {
	out := make([]int, 0, len(names))
	for _, n := range names {
		out = append(out, index[n])
	}
	return dedupInts(out)
}

func dedupInts(s []int) []int {
	out := s[:0]
	for i, v := range s {
		if !slices.Contains(s[:i], v) {
			out = append(out, v)
		}
	}
	return out
}

func (cr *compiledRoute) match(a *Alert) bool {
	if a.Severity < cr.minSev {
		return false
	}
	if cr.rule != "" {
		if cr.glob {
			if ok, _ := path.Match(cr.rule, a.RuleID); !ok {
				return false
			}
		} else if cr.rule != a.RuleID {
			return false
		}
	}
	for _, t := range cr.tags {
		if !slices.Contains(a.Tags, t) {
			return false
		}
	}
	return true
}

// route returns the indexes of a's destinations, valid until the next
// call; empty means unrouted.
func (r *router) route(a *Alert) []int {
	matched := false
	r.gen++
	if r.gen == 0 { // wrapped: clear stale marks
		clear(r.mark)
		r.gen = 1
	}
	r.out = r.out[:0]
	for i := range r.routes {
		cr := &r.routes[i]
		if !cr.match(a) {
			continue
		}
		matched = true
		r.add(cr.dests)
		if !cr.contine {
			break
		}
	}
	if !matched {
		return r.def
	}
	return r.out
}

func (r *router) add(dests []int) {
	for _, d := range dests {
		if r.mark[d] != r.gen {
			r.mark[d] = r.gen
			r.out = append(r.out, d)
		}
	}
}
