package sink

import (
	"fmt"
	"io"
	"reflect"
)

// The configurations below hold secrets (tokens, passwords, API keys, a
// client key, a URL's user:password, header values that may be keys). Each
// formats itself with them replaced, for every verb, so a config printed
// into a log or an error (%v, %+v, %#v, %s) never shows one; nested
// configs (HTTPConfig, TLSConfig) are printed through their own Format.
// The values themselves are unchanged.

const redactedText = "REDACTED"

// formatFields prints the struct v as fmt would, field by field (so that
// nested configs go through their own Format, where fmt on a copy of v
// would call an embedded config's promoted Format for the whole value),
// printing over[name] instead of a field's value when set.
func formatFields(f fmt.State, verb rune, v any, over map[string]any) {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	sharp := verb == 'v' && f.Flag('#')
	plus := verb == 'v' && f.Flag('+')
	if sharp {
		io.WriteString(f, rt.String())
	}
	io.WriteString(f, "{")
	for i := range rt.NumField() {
		if i > 0 {
			if sharp {
				io.WriteString(f, ", ")
			} else {
				io.WriteString(f, " ")
			}
		}
		name := rt.Field(i).Name
		if sharp || plus {
			io.WriteString(f, name+":")
		}
		fv, ok := over[name]
		if !ok {
			fv = rv.Field(i).Interface()
		}
		switch {
		case sharp:
			fmt.Fprintf(f, "%#v", fv)
		case plus:
			fmt.Fprintf(f, "%+v", fv)
		default:
			fmt.Fprintf(f, "%v", fv)
		}
	}
	io.WriteString(f, "}")
}

// secrets returns the overrides for the non-empty secret fields named.
func secrets(fields map[string]bool) map[string]any {
	over := map[string]any{}
	for name, set := range fields {
		if set {
			over[name] = redactedText
		}
	}
	return over
}

// Format prints c with its client key redacted.
func (c TLSConfig) Format(f fmt.State, verb rune) {
	formatFields(f, verb, c, secrets(map[string]bool{"KeyPEM": len(c.KeyPEM) > 0}))
}

// Format prints c with the URL's password and every header value redacted.
func (c HTTPConfig) Format(f fmt.State, verb rune) {
	over := map[string]any{"URL": redactURL(c.URL)}
	if c.URL == "" {
		over["URL"] = ""
	}
	if len(c.Headers) > 0 {
		h := make(map[string]string, len(c.Headers))
		for k := range c.Headers {
			h[k] = redactedText
		}
		over["Headers"] = h
	}
	formatFields(f, verb, c, over)
}

// Format prints c with the bearer token redacted (and its HTTPConfig's
// secrets).
func (c WebhookConfig) Format(f fmt.State, verb rune) {
	formatFields(f, verb, c, secrets(map[string]bool{"BearerToken": c.BearerToken != ""}))
}

// Format prints c with the token redacted (and its HTTPConfig's secrets).
func (c HECConfig) Format(f fmt.State, verb rune) {
	formatFields(f, verb, c, secrets(map[string]bool{"Token": c.Token != ""}))
}

// Format prints c with the password and the API key redacted (and its
// HTTPConfig's secrets).
func (c ElasticsearchConfig) Format(f fmt.State, verb rune) {
	formatFields(f, verb, c, secrets(map[string]bool{"Password": c.Password != "", "APIKey": c.APIKey != ""}))
}

// Format prints c with its TLS client key redacted.
func (c SyslogConfig) Format(f fmt.State, verb rune) {
	formatFields(f, verb, c, nil)
}
