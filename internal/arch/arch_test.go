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

// peerOnly are third-party modules only the harness may import: an
// embedder's build must not pull them in.
var peerOnly = []string{"github.com/Workiva/go-datastructures"}

// TestLayout walks the module's tree and checks each package's non-test
// imports against layout.
func TestLayout(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string][]string{} // package dir → imports of ours and peers
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if _, ok := pkgs[rel]; !ok {
			pkgs[rel] = nil
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			ours := strings.HasPrefix(p, module) || slices.ContainsFunc(peerOnly, func(m string) bool { return strings.HasPrefix(p, m) })
			if ours && !slices.Contains(pkgs[rel], p) {
				pkgs[rel] = append(pkgs[rel], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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
				if dir != "bench" {
					t.Errorf("%s imports %s, a peer only the harness may use", dir, im)
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
