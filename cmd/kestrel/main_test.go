package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// cleanM removes the binary the tests built once they ran.
type cleanM struct{ m *testing.M }

func (c cleanM) Run() int {
	code := c.m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	return code
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanM{m}) }
