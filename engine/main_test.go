package engine

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// Bus a test creates must have been shut down.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
