package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kestrel-sec/kestrel/rule"
)

// runImportElastic is kestrel import-elastic [-out DIR] [-schema FILE] [-q]
// DIR_OR_TOML...: every Elastic detection rule (*.toml, folders walked)
// becomes a rule package in DIR, loaded back against the schema. Rules that
// are not EQL are reported as skipped, with their type; EQL rules that do
// not load as refused, with the error, and their package is removed so DIR
// loads as a whole. Exit 0 when every EQL rule loaded, 1 when one was
// refused or a file could not be read, 2 for bad usage.
func runImportElastic(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kestrel import-elastic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "elastic-rules", "folder to write the rule packages into")
	schemaPath := fs.String("schema", "", "schema file the rules must load against (default: ECS)")
	quiet := fs.Bool("q", false, "print only the summary and the refusals")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "usage: kestrel import-elastic [-out DIR] [-schema FILE] [-q] DIR_OR_TOML...\n")
		return exitUsage
	}
	reg, err := registry(*schemaPath)
	if err != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return exitFail
	}
	files, err := tomlFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "kestrel: %v\n", err)
		return exitFail
	}
	var loaded, refused, skipped, bad int
	names := map[string]string{} // package name -> rule id
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "kestrel: %v\n", err)
			bad++
			continue
		}
		r, err := rule.ParseElasticRule(f, data)
		var skip *rule.ElasticSkipError
		switch {
		case errors.As(err, &skip):
			skipped++
			if !*quiet {
				fmt.Fprintf(stdout, "skipped: %v\n", skip)
			}
			continue
		case err != nil:
			bad++
			fmt.Fprintf(stderr, "kestrel: %v\n", err)
			continue
		}
		name := r.PackageName()
		if id, dup := names[name]; dup && id != r.RuleID {
			name += "-" + r.RuleID
		}
		names[name] = r.RuleID
		dir := filepath.Join(*out, name)
		if _, err := r.WritePackage(dir, reg); err != nil {
			refused++
			fmt.Fprintf(stdout, "refused: %s: rule %s (%s): %v\n", f, r.RuleID, r.Name, err)
			if rmErr := os.RemoveAll(dir); rmErr != nil {
				fmt.Fprintf(stderr, "kestrel: %v\n", rmErr)
			}
			continue
		}
		loaded++
		if !*quiet {
			fmt.Fprintf(stdout, "imported: %s -> %s\n", f, dir)
		}
	}
	eql := loaded + refused
	fmt.Fprintf(stdout, "%d files: %d EQL rules, %d loaded into %s, %d refused; %d skipped (not EQL); %d unreadable\n",
		len(files), eql, loaded, *out, refused, skipped, bad)
	if refused > 0 || bad > 0 {
		return exitFail
	}
	return exitOK
}

// tomlFiles expands the arguments: a .toml file as it is, a folder to
// every .toml under it, sorted.
func tomlFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".toml") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}
