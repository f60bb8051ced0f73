package protoevent_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (the
// protoc tests run a process and copy its output).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
