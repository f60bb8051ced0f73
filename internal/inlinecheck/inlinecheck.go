// Package inlinecheck fails a test when a function that a fast path's speed
// rests on stops inlining (its body grew past the compiler's budget). It is
// for this module's tests only.
package inlinecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// Check compiles the package in the test's working directory with
// -gcflags=-m and fails t for each name in fns that has no "can inline
// NAME" line, NAME as the compiler prints it ("(*T).M", "T.M", "f", or a
// generic method with its shape, "(*MPSC[go.shape.int]).Slot"). With
// withTests the package's test binary is compiled instead, so that the
// instantiations its tests make are seen. It skips under -short, or when no
// go command is found.
func Check(t *testing.T, withTests bool, fns ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("compiles the package again")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			t.Skip("no go command to compile with")
		}
	}
	args := []string{"build", "-o", os.DevNull, "-gcflags=-m", "."}
	if withTests {
		args = []string{"test", "-c", "-o", os.DevNull, "-gcflags=-m", "."}
	}
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, fn := range fns {
		re := regexp.MustCompile(`(?m)can inline ` + regexp.QuoteMeta(fn) + `( |$)`)
		if !re.MatchString(string(out)) {
			t.Errorf("%s no longer inlines", fn)
		}
	}
}
