package rule

import (
	"math"
	"testing"
	"time"
)

// TestDurationUnits checks that parseDuration reads every unit
// FormatDuration writes, and their edges.
func TestDurationUnits(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		back, err := parseDuration(got)
		if err != nil || back != d {
			t.Errorf("parseDuration(%q) = %v, %v, want %v", got, back, err, d)
		}
	}
	f(0, "0ns")
	f(1, "1ns")
	f(1500, "1500ns")
	f(time.Microsecond, "1us")
	f(1500*time.Microsecond, "1500us")
	f(time.Millisecond, "1ms")
	f(90*time.Second, "90s")
	f(time.Minute, "1m")
	f(2*time.Hour, "2h")
	f(25*time.Hour, "25h")
	f(48*time.Hour, "2d")
	f(math.MaxInt64, "9223372036854775807ns")

	bad := func(s, want string) {
		t.Helper()
		if d, err := parseDuration(s); err == nil || err.Error() != want {
			t.Errorf("parseDuration(%q) = %v, %v, want error %q", s, d, err, want)
		}
	}
	bad("10", `unknown duration unit "" (want ms, s, m, h or d)`)
	bad("10w", `unknown duration unit "w" (want ms, s, m, h or d)`)
	bad("10S", `unknown duration unit "S" (want ms, s, m, h or d)`)
	bad("106752d", "duration out of range")
	bad("99999999999999999999s", "duration out of range")
}
