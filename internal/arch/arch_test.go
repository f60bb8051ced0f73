package arch

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/kestrel-sec/kestrel/"

// layoutDoc is the layout table of the design, relative to the root.
const layoutDoc = "docs/layout.md"

// layout is what layoutDoc says: the packages in the order of its table,
// the packages of ours each may import ("*" for anything but cmd/), and
// the nested modules by directory.
type layout struct {
	order   []string
	imports map[string][]string
	modules []string
}

// readLayout parses layoutDoc's tables: "## Packages" (package | what it
// is | may import) and "## Modules" (module | what it holds).
func readLayout(doc string) (*layout, error) {
	tables := readTables(doc)
	l := &layout{imports: map[string][]string{}}
	for _, r := range tables["Packages"] {
		if len(r.cells) != 3 {
			return nil, fmt.Errorf("line %d: %d cells, want 3 (package | what it is | may import)", r.line, len(r.cells))
		}
		dir, err := onePath(r.cells[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", r.line, err)
		}
		if _, dup := l.imports[dir]; dup {
			return nil, fmt.Errorf("line %d: %s has two rows", r.line, dir)
		}
		var may []string
		switch c := r.cells[2]; {
		case c == "anything":
			may = []string{"*"}
		case c == "nothing":
			may = []string{}
		default:
			may = quoted(c)
			if canon := "`" + strings.Join(may, "`, `") + "`"; len(may) == 0 || c != canon {
				return nil, fmt.Errorf("line %d: may import %q: want anything, nothing or backquoted packages separated by commas", r.line, c)
			}
		}
		l.order = append(l.order, dir)
		l.imports[dir] = may
	}
	for _, r := range tables["Modules"] {
		dir, err := onePath(r.cells[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", r.line, err)
		}
		l.modules = append(l.modules, dir)
	}
	if len(l.order) == 0 {
		return nil, errors.New(`no table under "## Packages"`)
	}
	return l, nil
}

// onePath returns the one backquoted package directory of a cell, without
// its trailing slash.
func onePath(cell string) (string, error) {
	q := quoted(cell)
	if len(q) != 1 || "`"+q[0]+"/`" != cell && "`"+q[0]+"`" != cell {
		return "", fmt.Errorf("cell %q: want one backquoted package directory", cell)
	}
	return q[0], nil
}

// quoted returns the backquoted words of s, trailing slashes trimmed.
func quoted(s string) []string {
	var out []string
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			out = append(out, strings.TrimSuffix(part, "/"))
		}
	}
	return out
}

// tableRow is one body row of a Markdown table and its line number.
type tableRow struct {
	line  int
	cells []string
}

// readTables returns the body rows of the Markdown tables of doc, by the
// "## " heading they stand under (a table's first row is its header, the
// second the separator).
func readTables(doc string) map[string][]tableRow {
	out := map[string][]tableRow{}
	heading, inTable := "", 0
	for i, line := range strings.Split(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			heading = strings.TrimSpace(h)
		}
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			inTable = 0
			continue
		}
		if inTable++; inTable <= 2 {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		out[heading] = append(out[heading], tableRow{line: i + 1, cells: cells})
	}
	return out
}

// check checks the packages of the tree (dir → imports of ours, as
// import paths, and of peers) against l and returns what is wrong: a
// package without a row, a row without a package, a row that may import a
// package below it, an import the table does not allow. inBench reports
// whether a package is of the bench module, which alone may import peers.
func (l *layout) check(pkgs map[string][]string, inBench func(dir string) bool) []string {
	var errs []string
	for i, dir := range l.order {
		if _, ok := pkgs[dir]; !ok {
			errs = append(errs, fmt.Sprintf("the layout table names %s, which the tree does not have", dir))
		}
		for _, to := range l.imports[dir] {
			if to != "*" && !slices.Contains(l.order[:i], to) {
				errs = append(errs, fmt.Sprintf("%s may import %s, which does not stand above it in the layout table: an arrow never points up", dir, to))
			}
		}
		if strings.HasPrefix(dir, "internal/") && slices.Contains(l.imports[dir], "*") {
			errs = append(errs, fmt.Sprintf("internal package %s may import anything: name the public packages it imports", dir))
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(pkgs)) {
		allowed, ok := l.imports[dir]
		if !ok {
			errs = append(errs, fmt.Sprintf("package %s is not in the layout table (%s): add a row with what it may import", dir, layoutDoc))
			continue
		}
		for _, im := range pkgs[dir] {
			to, ours := strings.CutPrefix(im, module)
			switch {
			case !ours:
				if !inBench(dir) {
					errs = append(errs, fmt.Sprintf("%s imports %s, a peer only the bench module may use", dir, im))
				}
			case l.mayImport(dir, allowed, to):
			case strings.HasPrefix(dir, "internal/") && !strings.HasPrefix(to, "internal/"):
				errs = append(errs, fmt.Sprintf("%s imports %s: an internal package imports internal packages and the public ones its row names (%v)", dir, to, allowed))
			case strings.HasPrefix(to, "internal/"):
				errs = append(errs, fmt.Sprintf("%s imports %s, which imports %v: the layout table lets %s import only %v", dir, to, l.imports[to], dir, allowed))
			default:
				errs = append(errs, fmt.Sprintf("%s imports %s, which the layout table does not allow (it may import %v)", dir, to, allowed))
			}
		}
	}
	return errs
}

// mayImport reports whether the package dir, allowed the imports allowed
// (its row), may import the package of ours to. An internal package
// brings the public packages it imports (its row) with it.
func (l *layout) mayImport(dir string, allowed []string, to string) bool {
	if strings.HasPrefix(to, "internal/") {
		for _, up := range l.imports[to] {
			if up != dir && !l.mayImport(dir, allowed, up) {
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
// package's non-test imports against the layout table (layoutDoc), that
// the nested modules are the ones it names, and that nothing of the root
// module, its tests included, imports a nested module or a peer.
func TestLayout(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, layoutDoc))
	if err != nil {
		t.Fatal(err)
	}
	l, err := readLayout(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", layoutDoc, err)
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
				for _, m := range l.modules {
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
	if !slices.Equal(nested, l.modules) {
		t.Errorf("nested modules %v, %s says %v", nested, layoutDoc, l.modules)
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
	delete(pkgs, ".")
	for _, e := range l.check(pkgs, func(dir string) bool { return moduleOf(dir) == "bench" }) {
		t.Error(e)
	}
}

// TestLayoutCoversDesign checks that every package the design's layout
// table names (DESIGN.md, beside the repository in ../shared when the
// checkout has it) has a row in ours: the design may name fewer, never
// other ones.
func TestLayoutCoversDesign(t *testing.T) {
	design, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "DESIGN.md"))
	if err != nil {
		t.Skipf("no DESIGN.md beside the repository: %v", err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", layoutDoc))
	if err != nil {
		t.Fatal(err)
	}
	l, err := readLayout(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", layoutDoc, err)
	}
	var named int
	for heading, rows := range readTables(string(design)) {
		if !strings.HasPrefix(heading, "Layout") {
			continue
		}
		for _, r := range rows {
			for _, dir := range quoted(r.cells[0]) {
				named++
				if _, ok := l.imports[dir]; !ok {
					t.Errorf("DESIGN.md line %d names %s, which %s lacks", r.line, dir, layoutDoc)
				}
			}
		}
	}
	if named == 0 {
		t.Error(`DESIGN.md has no table under a "## Layout" heading`)
	}
}

// TestLayoutCheck checks that the check finds each kind of drift between
// a table and a tree.
func TestLayoutCheck(t *testing.T) {
	const doc = "# x\n\n## Packages\n\n| package | what it is | may import |\n| --- | --- | --- |\n" +
		"| `value/` | v | nothing |\n" +
		"| `schema/` | s | `value` |\n" +
		"| `node/` | n | anything |\n" +
		"| `cmd/kestrel/` | c | anything |\n" +
		"| `internal/demo/` | d | `schema` |\n" +
		"| `internal/pad/` | p | nothing |\n" +
		"\n## Modules\n\n| module | what |\n| --- | --- |\n| `bench/` | b |\n"
	l, err := readLayout(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.order, []string{"value", "schema", "node", "cmd/kestrel", "internal/demo", "internal/pad"}) ||
		!slices.Equal(l.modules, []string{"bench"}) || !slices.Equal(l.imports["node"], []string{"*"}) ||
		l.imports["value"] == nil || len(l.imports["value"]) != 0 {
		t.Fatalf("read %+v", l)
	}
	pkg := func(p ...string) []string {
		for i := range p {
			p[i] = module + p[i]
		}
		return p
	}
	tree := func() map[string][]string {
		return map[string][]string{
			"value": pkg("internal/pad"), "schema": pkg("value"), "node": pkg("schema", "internal/demo"),
			"cmd/kestrel": pkg("node"), "internal/demo": pkg("schema", "internal/pad"), "internal/pad": nil,
		}
	}
	notBench := func(string) bool { return false }
	if errs := l.check(tree(), notBench); len(errs) != 0 {
		t.Fatalf("a tree that keeps the table: %v", errs)
	}
	f := func(name string, edit func(map[string][]string), want string) {
		t.Helper()
		pkgs := tree()
		edit(pkgs)
		errs := l.check(pkgs, notBench)
		if len(errs) != 1 || !strings.Contains(errs[0], want) {
			t.Errorf("%s: %q, want one error with %q", name, errs, want)
		}
	}
	f("package without a row", func(p map[string][]string) { p["sink"] = nil }, "sink is not in the layout table")
	f("row without a package", func(p map[string][]string) { delete(p, "internal/pad") }, "names internal/pad, which the tree does not have")
	f("import up the table", func(p map[string][]string) { p["value"] = pkg("schema") }, "value imports schema, which the layout table does not allow")
	f("internal back door", func(p map[string][]string) { p["value"] = pkg("internal/demo") }, "value imports internal/demo, which imports [schema]")
	f("internal importing up", func(p map[string][]string) { p["internal/pad"] = pkg("value") }, "an internal package imports internal packages")
	f("anything but cmd", func(p map[string][]string) { p["node"] = pkg("cmd/kestrel") }, "node imports cmd/kestrel")
	f("peer outside bench", func(p map[string][]string) { p["node"] = []string{"github.com/Workiva/go-datastructures/queue"} }, "a peer only the bench module")

	up, err := readLayout(strings.Replace(doc, "| `value/` | v | nothing |", "| `value/` | v | `schema` |", 1))
	if err != nil {
		t.Fatal(err)
	}
	if errs := up.check(tree(), notBench); len(errs) != 1 || !strings.Contains(errs[0], "value may import schema, which does not stand above it") {
		t.Errorf("a row pointing up the table: %q", errs)
	}
	for _, bad := range []string{
		strings.Replace(doc, "| `schema/` | s | `value` |", "| `schema/` | s | value |", 1),
		strings.Replace(doc, "| `schema/` | s | `value` |", "| `schema/` | s | `value` and more |", 1),
		strings.Replace(doc, "| `schema/` | s | `value` |", "| `schema/` `sink/` | s | `value` |", 1),
		strings.Replace(doc, "| `schema/` | s | `value` |", "| `value/` | s | nothing |", 1),
		strings.Replace(doc, "| `schema/` | s | `value` |", "| `schema/` | `value` |", 1),
		strings.Replace(doc, "## Packages", "## Pakages", 1),
	} {
		if _, err := readLayout(bad); err == nil {
			t.Errorf("readLayout took a bad table:\n%s", bad)
		}
	}
}
