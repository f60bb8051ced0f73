package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kestrel-sec/kestrel/detect"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
)

// registry returns the schema rules compile against: the file's, or the
// default.
func registry(path string) (*schema.Registry, error) {
	if path == "" {
		return rule.DefaultRegistry(), nil
	}
	return rule.LoadSchema(path)
}

// loadRules loads DIR, printing every problem and every unsupported package
// on w; it reports whether all loaded.
func loadRules(dir string, reg *schema.Registry, w io.Writer) (*rule.Set, bool) {
	set, err := rule.LoadDir(dir, rule.LoadOptions{Registry: reg})
	for _, u := range set.Unsupported {
		fmt.Fprintf(w, "kestrel: unsupported: %v\n", u)
	}
	for _, p := range set.Packages {
		for _, f := range p.Ignored {
			fmt.Fprintf(w, "kestrel: %s: %s ignored: rule %s runs rule.eql\n", p.Dir, f, p.ID())
		}
	}
	if err != nil {
		for _, e := range splitErrors(err) {
			fmt.Fprintf(w, "kestrel: %v\n", e)
		}
		return set, false
	}
	return set, true
}

// loadRulesAt reads the schema at schemaPath (the default when empty)
// and loads dir against it, printing every problem on w. reg is nil when
// the schema could not be read; ok reports whether everything loaded.
func loadRulesAt(dir, schemaPath string, w io.Writer) (reg *schema.Registry, set *rule.Set, ok bool) {
	reg, err := registry(schemaPath)
	if err != nil {
		fmt.Fprintf(w, "kestrel: %v\n", err)
		return nil, nil, false
	}
	set, ok = loadRules(dir, reg, w)
	return reg, set, ok
}

// splitErrors undoes errors.Join, one level at a time.
func splitErrors(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		if _, isRuleErr := err.(*rule.Error); !isRuleErr {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, splitErrors(e)...)
			}
			return out
		}
	}
	return []error{err}
}

func dirArg(name string, args []string, stderr io.Writer) (string, string, bool) {
	dir, schemaPath, _, ok := dirArgs(name, args, stderr, nil)
	return dir, schemaPath, ok
}

// dirArgs parses "[-schema FILE] [extra flags] DIR"; extra, when set, adds
// the command's own flags.
func dirArgs(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (string, string, *flag.FlagSet, bool) {
	fs := flag.NewFlagSet("kestrel "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemaPath := fs.String("schema", "", "schema file (JSON, see kestrel schema); default: the built-in schema")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return "", "", fs, false
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "kestrel %s: want one rules directory\n%s", name, usage)
		return "", "", fs, false
	}
	return fs.Arg(0), *schemaPath, fs, true
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	var strict bool
	dir, schemaPath, _, ok := dirArgs("validate", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&strict, "strict", false, "fail when any package is unsupported (Lua, Wasm) or has an ignored rule file")
	})
	if !ok {
		return exitUsage
	}
	reg, set, ok := loadRulesAt(dir, schemaPath, stderr)
	if reg == nil {
		return exitFail
	}
	for _, p := range set.Packages {
		fmt.Fprintf(stdout, "ok %s (%s)\n", p.ID(), describe(p))
		if p.Query.Sequence || p.Query.Sample {
			key, route := detect.Routing(p)
			fmt.Fprintf(stdout, "   join key %s: %s\n", key, route)
		}
	}
	if !ok {
		fmt.Fprintf(stderr, "kestrel: %d rules loaded, some failed\n", len(set.Packages))
		return exitFail
	}
	fmt.Fprintf(stdout, "%d rules valid", len(set.Packages))
	if n := len(set.Unsupported); n > 0 {
		fmt.Fprintf(stdout, ", %d unsupported", n)
	}
	fmt.Fprintln(stdout)
	if strict {
		ignored := 0
		for _, p := range set.Packages {
			ignored += len(p.Ignored)
		}
		if len(set.Unsupported) > 0 || ignored > 0 {
			fmt.Fprintf(stderr, "kestrel: -strict: %d unsupported packages, %d ignored rule files\n", len(set.Unsupported), ignored)
			return exitFail
		}
	}
	return exitOK
}

// describe says what kind of rule p is: "event rule on process" or
// "sequence of 2 events by process.entity_id within 10s".
func describe(p *rule.Package) string {
	q := p.Query
	if !q.Sequence && !q.Sample {
		return "event rule on " + q.Steps[0].Event
	}
	s := fmt.Sprintf("sequence of %d events", q.NumEvents())
	if q.Sample {
		s = fmt.Sprintf("sample of %d events", q.NumEvents())
	} else if n := len(q.Steps) - countPositive(q); n > 0 {
		s += fmt.Sprintf(" and %d missing", n)
	}
	var by []string
	for _, f := range q.By {
		by = append(by, f.Path)
	}
	if len(by) > 0 {
		s += " by " + strings.Join(by, ", ")
	}
	if d, ok := p.MaxSpan(); ok {
		s += " within " + rule.FormatDuration(d)
	}
	if q.Until != nil {
		s += ", until " + q.Until.Event
	}
	return s
}

// countPositive counts the steps of q that are not missing-event steps.
func countPositive(q *rule.Query) int {
	n := 0
	for _, st := range q.Steps {
		if !st.Missing {
			n++
		}
	}
	return n
}

func runRules(args []string, stdout, stderr io.Writer) int {
	dir, schemaPath, ok := dirArg("rules", args, stderr)
	if !ok {
		return exitUsage
	}
	reg, set, ok := loadRulesAt(dir, schemaPath, stderr)
	if reg == nil {
		return exitFail
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tKIND\tJOIN KEY\tROUTING\tNAME\tMITRE\tTAGS")
	for _, p := range set.Packages {
		m := p.Manifest
		key, _ := detect.Routing(p) // its long route description is validate's; the table's is short
		route := "entity partition"
		if key != "-" {
			route = "by join key"
			if key == "global" {
				route = "global: one partition"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.RuleID, m.Severity, describe(p), key, route, m.RuleName,
			strings.Join(m.MitreAttack, ","), strings.Join(m.Tags, ","))
	}
	for _, u := range set.Unsupported {
		fmt.Fprintf(tw, "%s\t-\tunsupported (%s: %s)\t-\t-\t-\t-\t-\n", u.RuleID, u.Kind, u.File)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return exitFail
	}
	if !ok {
		return exitFail
	}
	return exitOK
}

func runSchema(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "diff" {
		return runSchemaDiff(args[1:], stdout, stderr)
	}
	if len(args) != 0 {
		fmt.Fprintf(stderr, "kestrel schema takes no arguments but diff\n%s", usage)
		return exitUsage
	}
	b, err := json.MarshalIndent(schema.ECSFile(), "", "  ")
	if err == nil {
		_, err = fmt.Fprintf(stdout, "%s\n", b)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return exitFail
	}
	return exitOK
}

// runSchemaDiff is kestrel schema diff [-rules DIR] OLD NEW: every change
// from OLD to NEW, each with its verdict and reason, and the rules in DIR
// that a breaking one reaches. OLD or NEW may be "default", the default
// schema. Exit status 0 when NEW is compatible with OLD, 1 when not (or a
// file does not load), 2 for bad usage: for CI.
func runSchemaDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kestrel schema diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesDir := fs.String("rules", "", "rule packages to check against the change")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(stderr, "usage: kestrel schema diff [-rules DIR] OLD NEW\n")
		return exitUsage
	}
	load := func(path string) (*schema.Registry, bool) {
		if path == "default" {
			return rule.DefaultRegistry(), true
		}
		reg, err := rule.LoadSchema(path)
		if err != nil {
			fmt.Fprintf(stderr, "kestrel: %v\n", err)
			return nil, false
		}
		return reg, true
	}
	old, ok := load(fs.Arg(0))
	if !ok {
		return exitFail
	}
	next, ok := load(fs.Arg(1))
	if !ok {
		return exitFail
	}
	rep := schema.Compatible(old, next)
	fmt.Fprintln(stdout, rep)
	if *rulesDir != "" {
		set, ok := loadRules(*rulesDir, old, stderr)
		if !ok {
			return exitFail
		}
		for _, imp := range set.Affected(rep) {
			fmt.Fprintf(stdout, "rule %s: %s: %s\n", imp.Rule, imp.Path, imp.Change.Kind)
		}
	}
	if b := rep.Breaking(); len(b) > 0 {
		fmt.Fprintf(stdout, "incompatible: %d breaking of %d changes\n", len(b), len(rep.Changes))
		return exitFail
	}
	fmt.Fprintf(stdout, "compatible: %d changes\n", len(rep.Changes))
	return exitOK
}

// schemaDir returns a resolver for replay.Config.Resolve that finds a
// schema by id and version among the schema files (*.json) in dir, read on
// its first call.
func schemaDir(dir string) func(id string, version uint32) (*schema.Registry, error) {
	var (
		byKey map[string]*schema.Registry
		err   error
	)
	return func(id string, version uint32) (*schema.Registry, error) {
		if byKey == nil && err == nil {
			byKey = map[string]*schema.Registry{}
			var files []string
			if files, err = filepath.Glob(filepath.Join(dir, "*.json")); err != nil {
				return nil, err
			}
			for _, f := range files {
				reg, lerr := rule.LoadSchema(f)
				if lerr != nil {
					err = lerr
					return nil, err
				}
				if reg.SchemaID() != "" {
					byKey[reg.SchemaID()+"/"+strconv.FormatUint(uint64(reg.SchemaVersion()), 10)] = reg
				}
			}
		}
		if err != nil {
			return nil, err
		}
		if reg, ok := byKey[id+"/"+strconv.FormatUint(uint64(version), 10)]; ok {
			return reg, nil
		}
		return nil, fmt.Errorf("no schema file in %s has id %q and version %d", dir, id, version)
	}
}
