package sink

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputsErrorsHideURLPasswords: a bad output's error names the
// output and the problem, never the password of its URL.
func TestOutputsErrorsHideURLPasswords(t *testing.T) {
	for _, url := range []string{"ftp://u:hunter2@x", "http://u:hunter2@x:70000", "http://u:hunter2@a b/%"} {
		path := filepath.Join(t.TempDir(), "outputs.json")
		spec := `{"outputs":[{"name":"es","type":"elasticsearch","url":"` + url + `"}]}`
		if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path, LoadOptions{Stdout: io.Discard})
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "outputs[0]") {
			t.Errorf("%s: %v", url, err)
		}
	}
}
