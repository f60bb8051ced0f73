package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// TestInline fails if a fast-path function stops inlining: it compiles the
// package with -gcflags=-m and looks for each one's "can inline" line. The
// ring operations Publish and Claim call are checked in ring's own test.
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
	out, err := exec.Command(gobin, "build", "-o", os.DevNull, "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, fn := range []string{"shard.of", "hash16", "Claim.Event", "Claim.Commit", "(*Bus).PartitionOf", "storeMax"} {
		re := regexp.MustCompile(`(?m)can inline ` + regexp.QuoteMeta(fn) + `( |$)`)
		if !re.MatchString(string(out)) {
			t.Errorf("%s no longer inlines", fn)
		}
	}
}
