package rule

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kestrel-sec/kestrel/schema"
)

// Kind is the kind of rule a package holds.
type Kind uint8

// The rule kinds. Only EQL runs here; the others are reported by name.
const (
	KindEQL Kind = iota + 1
	KindLua
	KindWasm
)

// String returns "EQL", "Lua" or "Wasm".
func (k Kind) String() string {
	switch k {
	case KindEQL:
		return "EQL"
	case KindLua:
		return "Lua"
	case KindWasm:
		return "Wasm"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// The files of a rule package, in the order the original looks for a rule:
// rule.eql first, then predicate.lua, rule.wasm, rule.wat.
const (
	ManifestFile = "manifest.json"
	EQLFile      = "rule.eql"
	LuaFile      = "predicate.lua"
	WasmFile     = "rule.wasm"
	WatFile      = "rule.wat"
)

// MaxRuleFileBytes bounds manifest.json and rule.eql.
const MaxRuleFileBytes = MaxSourceBytes

var otherKinds = []struct {
	file string
	kind Kind
}{{LuaFile, KindLua}, {WasmFile, KindWasm}, {WatFile, KindWasm}}

// Package is a loaded rule package: a folder holding manifest.json and
// rule.eql, compiled against a schema.
type Package struct {
	// Dir is the package's folder, as given to LoadPackage or joined by
	// LoadDir.
	Dir string
	// Manifest is the parsed manifest.json.
	Manifest *Manifest
	// Source is the text of rule.eql.
	Source string
	// Query is rule.eql compiled against the registry.
	Query *Query
	// Ignored names rule files the package also holds that do not run here
	// (predicate.lua, rule.wasm, rule.wat beside rule.eql, which the
	// original also prefers): reported, not silently dropped.
	Ignored []string
}

// ID returns the rule id.
func (p *Package) ID() string { return p.Manifest.RuleID }

// MaxSpan returns the sequence's maxspan: the query's own, else the
// manifest's max_span_ms; 0 means none.
func (p *Package) MaxSpan() (time.Duration, bool) {
	if p.Query.HasMaxSpan {
		return p.Query.MaxSpan, true
	}
	if p.Manifest.MaxSpan > 0 {
		return p.Manifest.MaxSpan, true
	}
	return 0, false
}

// LoadPackage loads the rule package in dir and compiles its rule.eql
// against reg. A package holding only a Lua or Wasm rule returns an
// *UnsupportedError (matching ErrUnsupported) naming the rule and file.
// Other errors are *Error values (or a join of them) with the file, line
// and column at fault.
func LoadPackage(dir string, reg *schema.Registry) (*Package, error) {
	mpath := filepath.Join(dir, ManifestFile)
	data, err := readBounded(mpath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: mpath, Msg: "rule package has no " + ManifestFile, Err: ErrManifest}
		}
		return nil, &Error{File: mpath, Msg: err.Error(), Err: joinErr{ErrManifest, err}}
	}
	m, err := ParseManifest(mpath, data)
	if err != nil {
		return nil, err
	}
	pkg := &Package{Dir: dir, Manifest: m}
	for _, o := range otherKinds {
		if fileExists(filepath.Join(dir, o.file)) {
			pkg.Ignored = append(pkg.Ignored, o.file)
		}
	}
	epath := filepath.Join(dir, EQLFile)
	src, err := readBounded(epath)
	if errors.Is(err, fs.ErrNotExist) {
		for _, o := range otherKinds {
			if slices.Contains(pkg.Ignored, o.file) {
				return nil, &UnsupportedError{Dir: dir, RuleID: m.RuleID, File: o.file, Kind: o.kind}
			}
		}
		return nil, &Error{File: dir, Msg: "rule package has no " + EQLFile, Err: ErrManifest}
	}
	if err != nil {
		return nil, &Error{File: epath, Msg: err.Error(), Err: joinErr{ErrSyntax, err}}
	}
	pkg.Source = string(src)
	q, err := Compile(epath, pkg.Source, reg)
	if err != nil {
		return nil, err
	}
	pkg.Query = q
	return pkg, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > MaxRuleFileBytes {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrLimit, MaxRuleFileBytes)
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && n != len(buf) {
		return nil, err
	}
	return buf, nil
}

// Set is what LoadDir found: the packages that loaded, in folder name
// order, and those it cannot run.
type Set struct {
	Packages    []*Package
	Unsupported []*UnsupportedError
}

// LoadOptions configures LoadDir. The zero value is usable.
type LoadOptions struct {
	// Registry is the schema rules compile against; nil means
	// DefaultRegistry().
	Registry *schema.Registry
	// Logger is told about unsupported and ignored rule files; nil
	// discards.
	Logger *slog.Logger
}

// LoadDir loads every rule package under dir: each sub-folder holding a
// manifest.json (folders whose names start with "." or "_" are skipped, as
// are plain files such as a README). dir may also be a single package.
//
// It returns the packages that loaded and, in Set.Unsupported, those that
// hold only a Lua or Wasm rule. The error joins one error per package that
// failed (each naming its file, line and column) and one per duplicate
// rule_id; the Set still holds every package that loaded, so a caller can
// report them all.
func LoadDir(dir string, opts LoadOptions) (*Set, error) {
	reg := opts.Registry
	if reg == nil {
		reg = DefaultRegistry()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := &Set{}
	var dirs []string
	if fileExists(filepath.Join(dir, ManifestFile)) {
		dirs = []string{dir}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return set, &Error{File: dir, Msg: err.Error(), Err: ErrManifest}
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				continue
			}
			if e.IsDir() || e.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(dir, name)) {
				dirs = append(dirs, filepath.Join(dir, name))
			}
		}
	}
	var errs []error
	byID := map[string]string{}
	for _, d := range dirs {
		pkg, err := LoadPackage(d, reg)
		var ue *UnsupportedError
		switch {
		case errors.As(err, &ue):
			set.Unsupported = append(set.Unsupported, ue)
			log.Warn("rule package not supported", "dir", d, "rule_id", ue.RuleID, "file", ue.File, "kind", ue.Kind.String())
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		if prev, dup := byID[pkg.ID()]; dup {
			errs = append(errs, &Error{File: filepath.Join(d, ManifestFile), Token: pkg.ID(),
				Msg: "rule_id " + pkg.ID() + " is also used by " + prev, Err: ErrDuplicateRule})
			continue
		}
		byID[pkg.ID()] = d
		for _, f := range pkg.Ignored {
			log.Warn("rule file ignored: only rule.eql runs", "dir", d, "rule_id", pkg.ID(), "file", f)
		}
		set.Packages = append(set.Packages, pkg)
	}
	if len(dirs) == 0 {
		errs = append(errs, &Error{File: dir, Msg: "no rule packages (folders with " + ManifestFile + ")", Err: ErrManifest})
	}
	return set, errors.Join(errs...)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
