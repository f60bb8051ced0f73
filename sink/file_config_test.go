package sink

import (
	"encoding/json"
	"errors"
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

// TestConfigFileErrors: every problem in an outputs file is a
// *ConfigFileError matching ErrInvalidConfig that says where: the line
// and column of a JSON error, the member of any other.
func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct {
		spec, member string
		line, col    int
		text         string
	}{
		{"{\"outputs\": [\n  {\"type\": \"stdout\",]}", "", 2, 21, "invalid character ']'"},
		{"{\"outputs\": [\n  {\"type\": 5}]}", "outputs.type", 2, 12, "a JSON number where string goes"},
		{"{\"outputs\": [{\"type\": \"stdout\"}]}\n\n  {}", "", 3, 3, "more after"},
		{`{"outputs": []}`, "outputs", 0, 0, "no outputs"},
		{`{"outputs": [{"type": "stdout", "extra": 1}]}`, "", 0, 0, `unknown field "extra"`},
		{`{"outputs": [{"type": "stdout"}, {"type": "bogus"}]}`, "outputs[1] (bogus)", 0, 0, "unknown type"},
		{`{"outputs": [{"type": "stdout", "retry": {"initial": "x"}}]}`, "outputs[0] (stdout).retry", 0, 0, "retry.initial"},
		{`{"outputs": [{"type": "stdout"}], "routes": [{"min_severity": "dire"}]}`, "routes[0].min_severity", 0, 0, "dire"},
		{`{"outputs": [{"type": "stdout"}], "dedup": {"window": "often"}}`, "dedup.window", 0, 0, "often"},
		{`{"outputs": [{"type": "stdout"}], "alert_fields": "xml"}`, "alert_fields", 0, 0, "xml"},
		{`{"outputs": [{"type": "stdout"}], "routes": [{"outputs": ["nope"]}]}`, "", 0, 0, `unknown destination "nope"`},
	} {
		_, err := ReadConfig(strings.NewReader(c.spec), "outputs.json", LoadOptions{Stdout: io.Discard})
		var fe *ConfigFileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v (%T), want a *ConfigFileError", c.spec, err, err)
			continue
		}
		if fe.File != "outputs.json" || fe.Member != c.member || fe.Line != c.line || fe.Col != c.col || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %q (member %q, %d:%d), want member %q at %d:%d saying %q", c.spec, err, fe.Member, fe.Line, fe.Col, c.member, c.line, c.col, c.text)
		}
	}
}

// FuzzReadConfig: any outputs file gives a Config or a *ConfigFileError
// matching ErrInvalidConfig, never a panic; a JSON error's line is in the
// file. Files naming a "file" output or TLS files are not opened (the
// fuzzer must not write or read the machine's files).
func FuzzReadConfig(f *testing.F) {
	f.Add(`{"outputs":[{"name":"console","type":"stdout"},{"name":"soc","type":"webhook","url":"https://soc.example/alerts","bearer_token_env":"SOC_TOKEN"}],"routes":[{"min_severity":"high","tags":["network"],"outputs":["console"],"continue":true}],"default":["soc"],"dedup":{"window":"5m","fields":["process.entity_id"]},"alert_fields":"flat"}`)
	f.Add(`{"retry":{"max_attempts":3,"initial":"100ms"},"outputs":[{"name":"s","type":"splunk_hec","url":"https://splunk:8088","token_env":"T","index":"i","timeout":"2s"},{"type":"elasticsearch","url":"http://es:9200","index":"k"},{"type":"syslog","network":"udp","address":"127.0.0.1:514","facility":"auth"}]}`)
	f.Add("{\"outputs\":[\n{\"type\":5}]}")
	f.Fuzz(func(t *testing.T, spec string) {
		var probe outputsFile
		if json.Unmarshal([]byte(spec), &probe) == nil {
			for _, o := range probe.Outputs {
				if strings.EqualFold(o.Type, "file") || o.TLS != nil {
					return
				}
			}
		}
		cfg, err := ReadConfig(strings.NewReader(spec), "outputs.json", LoadOptions{Stdout: io.Discard})
		if err == nil {
			if len(cfg.Destinations) == 0 {
				t.Fatal("a Config without destinations")
			}
			if err := cfg.CloseDestinations(); err != nil {
				t.Fatal(err)
			}
			return
		}
		var fe *ConfigFileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%v (%T), want a *ConfigFileError", err, err)
		}
		if fe.Line > 1+strings.Count(spec, "\n") || fe.Line < 0 || (fe.Line > 0) != (fe.Col > 0) {
			t.Fatalf("%v: line %d col %d", err, fe.Line, fe.Col)
		}
	})
}
