package ring

import (
	"testing"

	"github.com/kestrel-sec/kestrel/internal/inlinecheck"
)

// TestInline fails if a fast-path function stops inlining, for the int
// instantiation's shape (the tests make it).
func TestInline(t *testing.T) {
	inlinecheck.Check(t, true,
		"(*SPSC[go.shape.int]).Slot",
		"(*SPSC[go.shape.int]).Peek",
		"(*SPSC[go.shape.int]).Release",
		"(*SPSC[go.shape.int]).Commit",
		"(*MPSC[go.shape.int]).Slot",
		"(*MPSC[go.shape.int]).Peek",
		"(*MPSC[go.shape.int]).Release",
		"(*MPSC[go.shape.int]).Commit",
		"(*MPSC[go.shape.int]).Prefetch",
		"(*MPSC[go.shape.int]).put",
		"(*waker).wake",
	)
}
