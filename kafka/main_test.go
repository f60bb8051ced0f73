package kafka

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: every
// Forwarder, Source, client and cluster a test starts must be stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
