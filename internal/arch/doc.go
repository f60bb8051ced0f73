// Package arch holds the architecture check: a test that reads the
// repository's layout table (docs/layout.md) and checks the tree against
// it: every package of the tree, the nested modules (bench,
// cmd/kestrel-bench) included, has a row and every row a package; the
// packages import one another only in the direction the table allows; the
// nested modules are the ones it names; and the root module imports
// neither a nested module nor the peers only the bench module may use. It
// has no code of its own.
package arch
