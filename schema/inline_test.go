package schema

import (
	"testing"

	"github.com/kestrel-sec/kestrel/internal/inlinecheck"
)

// TestHotInlines fails when a function the fast path's speed rests on stops
// inlining (its body grew past the compiler's budget).
func TestHotInlines(t *testing.T) {
	inlinecheck.Check(t, false, "(*fastParser).lit", "(*fastParser).peek")
}
