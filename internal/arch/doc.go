// Package arch holds the architecture check: a test that the packages of
// the module import one another only in the direction the design's layout
// table allows, and that every package of the tree is in that table. It
// has no code of its own.
package arch
