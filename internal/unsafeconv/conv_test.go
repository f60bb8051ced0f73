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
	// The results go to package variables, so the compiler cannot drop the
	// calls; the purego build must allocate here, the views must not.
	src, b := "/usr/bin/curl", []byte("/usr/bin/curl")
	n := testing.AllocsPerRun(100, func() { sinkBytes, sinkString = Bytes(src), String(b) })
	if Copies != (n != 0) {
		t.Errorf("Copies %v, but the conversions allocate %v times", Copies, n)
	}
}

var (
	sinkBytes  []byte
	sinkString string
)
