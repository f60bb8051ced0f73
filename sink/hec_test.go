package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// hecEvents splits a HEC body into its concatenated events.
func hecEvents(t *testing.T, body []byte) []map[string]json.RawMessage {
	t.Helper()
	if bytes.HasPrefix(body, []byte("[")) {
		t.Fatalf("HEC body is an array: %s", body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []map[string]json.RawMessage
	for {
		var ev map[string]json.RawMessage
		if err := dec.Decode(&ev); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("HEC body: %v\n%s", err, body)
		}
		out = append(out, ev)
	}
}

func TestHECFraming(t *testing.T) {
	rec := newRecorder(t, nil, func(int, []byte) (int, string, string) { return http.StatusOK, "", `{"text":"Success","code":0}` })
	t.Setenv("KESTREL_HEC", "0000-1111")
	d, err := NewHECDestination(HECConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL}, TokenEnv: "KESTREL_HEC",
		Host: "sensor-1", Index: "security"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	zero := testAlert(1)
	zero.TsWall = 0
	if err := d.Send(context.Background(), []*Alert{testAlert(0), zero}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.path != HECPath || r.header.Get("Authorization") != "Splunk 0000-1111" || d.Name() != "splunk-hec" {
		t.Errorf("request %s %v", r.path, r.header)
	}
	// Exact framing of the first event: fixed keys, then the alert.
	want := `{"time":1767225600.000000,"host":"sensor-1","source":"kestrel","sourcetype":"kestrel:alert","index":"security","event":` +
		string(testAlert(0).AppendJSON(nil)) + `}{"host":`
	if !strings.HasPrefix(string(r.body), want) {
		t.Errorf("body\n%s\nwant prefix\n%s", r.body, want)
	}
	evs := hecEvents(t, r.body)
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	if _, ok := evs[1]["time"]; ok {
		t.Error("time set for ts_wall_ns 0")
	}
	var a Alert
	if err := json.Unmarshal(evs[1]["event"], &a); err != nil || a.ID != zero.ID {
		t.Errorf("event: %v %s", err, a.ID)
	}
}

func TestAppendEpochMicros(t *testing.T) {
	for ns, want := range map[uint64]string{
		1_767_226_612_500_000_123: "1767226612.500000",
		1_000_001_999:             "1.000001",
		999:                       "0.000000",
	} {
		if got := string(appendEpochMicros(nil, ns)); got != want {
			t.Errorf("%d: %s, want %s", ns, got, want)
		}
	}
}

func TestHECRetriesAndRejects(t *testing.T) {
	status := []int{503, 429, 200, 400}
	rec := newRecorder(t, nil, func(n int, _ []byte) (int, string, string) {
		return status[min(n, len(status)-1)], "", `{"text":"x","code":9}`
	})
	d, err := NewHECDestination(HECConfig{HTTPConfig: HTTPConfig{URL: rec.srv.URL + "/custom/path"}, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, Config{Destinations: []DestinationConfig{{Dest: d, Retry: fastRetry}}})
	if err := o.Emit(testAlert(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { return o.Stats().Destinations[0].Delivered == 1 })
	if err := o.Emit(testAlert(1)); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats().Destinations[0]
	if s.Delivered != 1 || s.Retried != 2 || s.Rejected != 1 {
		t.Errorf("stats %+v", s)
	}
	if p := rec.requests()[0].path; p != "/custom/path" {
		t.Errorf("path %s", p)
	}
}

func TestHECConfigErrors(t *testing.T) {
	for name, c := range map[string]HECConfig{
		"no URL":   {Token: "t"},
		"no token": {HTTPConfig: HTTPConfig{URL: "http://x"}},
		"env":      {HTTPConfig: HTTPConfig{URL: "http://x"}, TokenEnv: "KESTREL_SURELY_UNSET_VARIABLE"},
	} {
		if _, err := NewHECDestination(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
