package sink

import (
	"fmt"
	"strings"
	"testing"
)

// No verb prints a config's secrets.
func TestConfigsRedactSecrets(t *testing.T) {
	tls := TLSConfig{KeyPEM: []byte("-----BEGIN PRIVATE KEY-----sekrit-key"), CAFile: "ca.pem"}
	http := HTTPConfig{URL: "https://bob:sekrit-pass@soc.example/alerts", Headers: map[string]string{"X-Api-Key": "sekrit-hdr"}, TLS: tls}
	configs := []any{
		tls, &tls, http,
		WebhookConfig{Name: "soc", HTTPConfig: http, BearerToken: "sekrit-bearer", BearerTokenEnv: "SOC_TOKEN"},
		HECConfig{HTTPConfig: http, Token: "sekrit-hec"},
		ElasticsearchConfig{HTTPConfig: http, Username: "bob", Password: "sekrit-es", APIKey: "sekrit-api"},
		SyslogConfig{Address: "collector:6514", Network: "tls", TLS: tls},
	}
	for _, c := range configs {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, c)
			if strings.Contains(out, "sekrit") {
				t.Errorf("%s of %T shows a secret: %s", verb, c, out)
			}
			if !strings.Contains(out, redactedText) {
				t.Errorf("%s of %T: nothing redacted: %s", verb, c, out)
			}
		}
	}
	// Redacting is on the printed copy only.
	if http.URL != "https://bob:sekrit-pass@soc.example/alerts" || http.Headers["X-Api-Key"] != "sekrit-hdr" || string(tls.KeyPEM) == redactedText {
		t.Error("Format changed the config it printed")
	}
	// What is not secret still shows.
	if out := fmt.Sprintf("%+v", WebhookConfig{Name: "soc", HTTPConfig: http, BearerTokenEnv: "SOC_TOKEN"}); !strings.Contains(out, "SOC_TOKEN") || !strings.Contains(out, "soc.example") {
		t.Errorf("%s", out)
	}
}
