// Package arch holds the architecture check: a test that the packages of
// the tree, the nested modules (bench, cmd/kestrel-bench) included,
// import one another only in the direction the design's layout table
// allows, that every package of the tree is in that table, and that the
// root module imports neither a nested module nor the peers only the
// bench module may use. It has no code of its own.
package arch
