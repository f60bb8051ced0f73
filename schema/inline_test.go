package schema

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHotInlines fails when a function the fast path's speed rests on stops
// inlining (its body grew past the compiler's budget).
func TestHotInlines(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "build", "-gcflags=-m", "-o", "/dev/null", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, fn := range []string{"(*fastParser).lit", "(*fastParser).peek"} {
		if !strings.Contains(string(out), "can inline "+fn) {
			t.Errorf("%s no longer inlines", fn)
		}
	}
}
