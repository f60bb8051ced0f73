package valuejson

import "github.com/bytedance/sonic/ast"

// Builder assembles one value (V is value.Value) from the callbacks of
// sonic's ast.Preorder; run it with VisitorOptions.OnlyNumber so integers
// are parsed exactly. A codec that embeds Values in a larger document
// forwards the callbacks for one Value to a Builder until Done reports true.
type Builder[V any] interface {
	ast.Visitor
	// Reset prepares the Builder for a new Value: strings are copied into
	// arena (nil: cloned one by one), and Array nesting is bounded by
	// maxDepth (0 or less: value.MaxDepth).
	Reset(arena *Arena, maxDepth int)
	// Done reports whether a whole Value has been read.
	Done() bool
	// Value returns the Value read, once Done.
	Value() V
}

// newBuilder is package value's constructor, a func() Builder[value.Value],
// held as any because this package cannot name value.Value.
var newBuilder any

// RegisterBuilder is called once, by package value's init, with the
// constructor of its builder. Nothing else calls it.
func RegisterBuilder[V any](f func() Builder[V]) { newBuilder = f }

// NewBuilder returns a new Builder for V, which must be value.Value (the
// only type registered); any package that can name value.Value imports
// value, so its init has registered the constructor by then.
func NewBuilder[V any]() Builder[V] { return newBuilder.(func() Builder[V])() }
