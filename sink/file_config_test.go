package sink

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestLoadConfigRetry: the outputs file's "retry", at the top and per
// output, overrides LoadOptions.Retry; bad values name their key.
func TestLoadConfigRetry(t *testing.T) {
	f := func(spec string, def RetryConfig, want []RetryConfig, wantErr string) {
		t.Helper()
		cfg, err := ReadConfig(strings.NewReader(spec), "outputs.json", LoadOptions{Stdout: io.Discard, Retry: def})
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%s: %v, want %q", spec, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		defer cfg.CloseDestinations()
		for i, d := range cfg.Destinations {
			if d.Retry != want[i] {
				t.Errorf("%s: outputs[%d] retry %+v, want %+v", spec, i, d.Retry, want[i])
			}
		}
	}
	three := RetryConfig{MaxAttempts: 3}
	f(`{"outputs":[{"type":"stdout"}]}`, RetryConfig{}, []RetryConfig{{}}, "")
	f(`{"outputs":[{"type":"stdout"}]}`, three, []RetryConfig{three}, "")
	f(`{"retry":{"max_attempts":0},"outputs":[{"type":"stdout"}]}`, three, []RetryConfig{{}}, "")
	f(`{"retry":{"max":"30s"},"outputs":[{"type":"stdout"},{"name":"b","type":"stdout","retry":{"max_attempts":5,"initial":"1s","max_elapsed":"1m"}}]}`, three,
		[]RetryConfig{{Max: 30 * time.Second}, {MaxAttempts: 5, Initial: time.Second, MaxElapsed: time.Minute}}, "")
	f(`{"retry":{"max":"soon"},"outputs":[{"type":"stdout"}]}`, three, nil, "retry.max")
	f(`{"outputs":[{"type":"stdout","retry":{"max_attempts":-1}}]}`, three, nil, "outputs[0]")
	if cfg, err := LoadConfig("", LoadOptions{Stdout: io.Discard}); err != nil || len(cfg.Destinations) != 1 {
		t.Fatalf("no file: %v", err)
	}
}
