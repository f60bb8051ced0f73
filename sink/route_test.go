package sink

import (
	"context"
	"fmt"
	"github.com/kestrel-sec/kestrel/schema"
	"reflect"
	"testing"
)

func TestRouting(t *testing.T) {
	dests := []DestinationConfig{
		{Dest: &funcDest{name: "pager"}}, {Dest: &funcDest{name: "siem"}},
		{Dest: &funcDest{name: "archive"}}, {Dest: &funcDest{name: "net"}},
	}
	cfg := Config{
		Destinations: dests,
		Routes: []Route{
			// Critical alerts page someone, and go on to the other routes.
			{MinSeverity: schema.SeverityCritical, Destinations: []string{"pager"}, Continue: true},
			// Network rules (glob) tagged network go to net and stop.
			{RuleID: "net-*", Tags: []string{"network"}, Destinations: []string{"net", "siem"}},
			// Exact rule id.
			{RuleID: "revshell", Destinations: []string{"siem"}, Continue: true},
			// Everything of medium and above: siem (already added for some).
			{MinSeverity: schema.SeverityMedium, Destinations: []string{"siem", "archive"}},
		},
		Default: []string{"archive"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	index := map[string]int{"pager": 0, "siem": 1, "archive": 2, "net": 3}
	r := newRouter(&cfg, index)
	f := func(rule string, sev schema.Severity, tags []string, want ...string) {
		t.Helper()
		a := &Alert{RuleID: rule, Severity: sev, Tags: tags}
		var got []string
		for _, i := range r.route(a) {
			got = append(got, dests[i].Dest.Name())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s/%v/%v: routed to %v, want %v", rule, sev, tags, got, want)
		}
	}
	f("x", schema.SeverityCritical, nil, "pager", "siem", "archive")
	f("net-scan", schema.SeverityCritical, []string{"network", "recon"}, "pager", "net", "siem")
	f("net-scan", schema.SeverityLow, []string{"network"}, "net", "siem")
	f("net-scan", schema.SeverityLow, []string{"recon"}, "archive") // tag missing: default
	f("net/scan", schema.SeverityLow, []string{"network"}, "archive")
	f("revshell", schema.SeverityLow, nil, "siem") // continue, but nothing else matches
	f("revshell", schema.SeverityHigh, nil, "siem", "archive")
	f("x", schema.SeverityLow, nil, "archive")
	f("x", schema.SeverityMedium, nil, "siem", "archive")
}

func TestRoutingDefaults(t *testing.T) {
	a, b := &funcDest{name: "a"}, &funcDest{name: "b"}
	// No routes, no default: every destination.
	r := newRouter(&Config{Destinations: []DestinationConfig{{Dest: a}, {Dest: b}}}, map[string]int{"a": 0, "b": 1})
	if got := r.route(&Alert{}); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Errorf("no routes: %v", got)
	}
	// Routes and no default: unmatched alerts are unrouted.
	cfg := Config{Destinations: []DestinationConfig{{Dest: a}, {Dest: b}}, Routes: []Route{{RuleID: "r", Destinations: []string{"b", "b"}}}}
	o := newOutput(t, cfg)
	for _, rule := range []string{"r", "other", "other"} {
		if err := o.Emit(&Alert{RuleID: rule}); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	checkSettled(t, s)
	if s.Unrouted != 2 || s.Routed != 1 || s.Destinations[0].Emitted != 0 || s.Destinations[1].Delivered != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestRouteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	cfg := Config{
		Destinations: []DestinationConfig{{Dest: &funcDest{name: "a"}}, {Dest: &funcDest{name: "b"}}},
		Routes: []Route{
			{RuleID: "r*", Destinations: []string{"a"}, Continue: true},
			{Tags: []string{"t"}, Destinations: []string{"b", "a"}},
		},
	}
	r := newRouter(&cfg, map[string]int{"a": 0, "b": 1})
	al := &Alert{RuleID: "rule", Tags: []string{"t"}}
	if n := testing.AllocsPerRun(100, func() { _ = r.route(al) }); n != 0 {
		t.Errorf("route allocates %v times", n)
	}
	if got := fmt.Sprint(r.route(al)); got != "[0 1]" {
		t.Errorf("route = %s", got)
	}
}
