package ring

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestInline fails if a fast-path function stops inlining: it compiles the
// package's tests with -gcflags=-m and looks for each one's "can inline"
// line, for the int instantiation's shape.
func TestInline(t *testing.T) {
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
	out, err := exec.Command(gobin, "test", "-c", "-o", "/dev/null", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go test -c -gcflags=-m: %v\n%s", err, out)
	}
	want := []string{
		"(*SPSC[go.shape.int]).Slot",
		"(*SPSC[go.shape.int]).Peek",
		"(*SPSC[go.shape.int]).Release",
		"(*SPSC[go.shape.int]).Commit",
		"(*MPSC[go.shape.int]).Slot",
		"(*MPSC[go.shape.int]).Peek",
		"(*MPSC[go.shape.int]).Release",
		"(*MPSC[go.shape.int]).Commit",
		"(*waker).wake",
	}
	for _, fn := range want {
		re := regexp.MustCompile(`(?m)can inline ` + regexp.QuoteMeta(fn) + `( |$)`)
		if !re.MatchString(string(out)) {
			t.Errorf("%s no longer inlines", fn)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "ring/") && strings.Contains(l, "inline (*") {
				t.Log(l)
			}
		}
	}
}
