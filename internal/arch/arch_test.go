package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/kestrel-sec/kestrel/"

// layout is the layout table of the design (DESIGN.md, "Layout and
// dependency direction"): each package of the tree and the packages of
// ours it may import. "*" is anything but cmd/; internal/ packages import
// one another and, where internalLayout says so, public packages (see
// there). Third-party imports are not checked here, except the peers the
// harness compares against (peerOnly).
var layout = map[string][]string{
	"value":  {},
	"schema": {"value"},
	"clock":  {},
	"ring":   {},
	"engine": {"ring", "schema", "clock"},
	"sink":   {"value", "schema", "ring", "clock"},
	"replay": {"schema", "value", "engine", "clock", "protoevent"},
	"rule":   {"schema", "value"},
	// detect names engine's PartitionSet in the Route it hands the bus;
	// engine still knows nothing of detection.
	"detect":     {"rule", "schema", "value", "clock", "sink", "engine"},
	"kafka":      {"schema", "value", "engine", "sink", "replay", "protoevent"},
	"sensor":     {"schema", "value", "engine", "clock"},
	"protoevent": {"schema", "value"},
	// protoevent/pb is protoc-gen-go's code for event.proto.
	"protoevent/pb": {},
	"node":          {"*"},
	"bench":         {"*"},

	"cmd/kestrel-bench": {"bench"},
	"cmd/kestrel":       {"*"},
}

// modules are the nested modules, by directory: the harness and its
// command, kept out of the root module so that an embedder's go.mod does
// not pull in the peers (peerOnly) the harness compares against. Their
// module paths are the root's plus the directory, so an import path still
// names a directory of the tree.
var modules = []string{"bench", "cmd/kestrel-bench"}

// internalLayout lists the internal packages that import public packages of
// ours, and which; every other internal package imports only internal
// packages (and so may be imported by anyone). Importing one of these
// brings its imports with it, so a package may import it only if the
// layout table lets it import each of them: internal/ is no back door up
// the table.
var internalLayout = map[string][]string{
	// The demo workload builds schema.Events of value.Values.
	"internal/demo": {"schema", "value"},
}

// mayImport reports whether the package dir, allowed the imports allowed
// (its layout or internalLayout entry), may import the package of ours to.
func mayImport(dir string, allowed []string, to string) bool {
	if strings.HasPrefix(to, "internal/") {
		for _, up := range internalLayout[to] {
			if up != dir && !mayImport(dir, allowed, up) {
				return false
			}
		}
		return true
	}
	if slices.Contains(allowed, "*") && !strings.HasPrefix(to, "cmd/") {
		return true
	}
	return slices.Contains(allowed, to)
}

// peerOnly are third-party modules only the harness (the bench module)
// may import: an embedder's build must not pull them in.
var peerOnly = []string{"github.com/Workiva/go-datastructures"}

func isPeer(p string) bool {
	return slices.ContainsFunc(peerOnly, func(m string) bool { return p == m || strings.HasPrefix(p, m+"/") })
}

// TestLayout walks the tree, the nested modules included, and checks each
// package's non-test imports against layout, that the nested modules are
// the ones modules names, and that nothing of the root module, its tests
// included, imports a nested module or a peer.
func TestLayout(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string][]string{} // package dir → imports of ours and peers
	var nested []string           // directories of nested modules
	moduleOf := func(dir string) string {
		for _, m := range nested {
			if dir == m || strings.HasPrefix(dir, m+"/") {
				return m
			}
		}
		return "."
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if path != root {
				if mod, err := os.ReadFile(filepath.Join(path, "go.mod")); err == nil {
					nested = append(nested, rel)
					if want := "module " + module + rel + "\n"; !strings.HasPrefix(string(mod), want) {
						t.Errorf("%s/go.mod does not begin with %q", rel, want)
					}
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if moduleOf(dir) == "." {
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				for _, m := range modules {
					if p == module+m || strings.HasPrefix(p, module+m+"/") {
						t.Errorf("%s imports %s, of the nested module %s: the root module must not require it", rel, p, m)
					}
				}
			}
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if _, ok := pkgs[dir]; !ok {
			pkgs[dir] = nil
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			ours := strings.HasPrefix(p, module) || isPeer(p)
			if ours && !slices.Contains(pkgs[dir], p) {
				pkgs[dir] = append(pkgs[dir], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nested, modules) {
		t.Errorf("nested modules %v, the table says %v", nested, modules)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range peerOnly {
		if strings.Contains(string(gomod), m+" ") {
			t.Errorf("the root go.mod requires %s, a peer only the bench module may", m)
		}
	}
	if len(pkgs) < len(layout) {
		t.Fatalf("found %d packages under %s, fewer than the table's %d", len(pkgs), root, len(layout))
	}
	for dir, imports := range pkgs {
		if dir == "." {
			continue
		}
		internal := strings.HasPrefix(dir, "internal/")
		allowed, inTable := layout[dir]
		if internal {
			allowed = internalLayout[dir]
		}
		if !inTable && !internal {
			t.Errorf("package %s is not in the layout table: add it (and to DESIGN.md) with what it may import", dir)
			continue
		}
		for _, im := range imports {
			if !strings.HasPrefix(im, module) {
				if moduleOf(dir) != "bench" {
					t.Errorf("%s imports %s, a peer only the bench module may use", dir, im)
				}
				continue
			}
			to := strings.TrimPrefix(im, module)
			switch {
			case mayImport(dir, allowed, to):
			case internal && !strings.HasPrefix(to, "internal/"):
				t.Errorf("%s imports %s: an internal package imports only internal packages and what internalLayout gives it (%v)", dir, to, allowed)
			case strings.HasPrefix(to, "internal/"):
				t.Errorf("%s imports %s, which imports %v: the layout table lets %s import only %v", dir, to, internalLayout[to], dir, allowed)
			default:
				t.Errorf("%s imports %s, which the layout table does not allow (it may import %v)", dir, to, allowed)
			}
		}
	}
	for dir := range layout {
		if _, ok := pkgs[dir]; !ok {
			t.Errorf("the layout table names %s, which the tree does not have", dir)
		}
	}
	for dir := range internalLayout {
		if _, ok := pkgs[dir]; !ok {
			t.Errorf("internalLayout names %s, which the tree does not have", dir)
		}
	}
}
