package unsafeconv

import "testing"

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "/usr/bin/curl", string(make([]byte, 4096))} {
		if got := String(Bytes(s)); got != s {
			t.Errorf("String(Bytes(%q)) = %q", s, got)
		}
		b := []byte(s)
		if got := string(Bytes(String(b))); got != s {
			t.Errorf("Bytes(String(%q)) = %q", s, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = String(Bytes("x")) }); n != 0 && !Copies {
		t.Errorf("views allocate %v times", n)
	}
}
