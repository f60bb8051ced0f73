package human

import "testing"

func TestRate(t *testing.T) {
	f := func(x float64, want string) {
		t.Helper()
		if got := Rate(x); got != want {
			t.Errorf("Rate(%v) = %q, want %q", x, got, want)
		}
	}
	f(0, "0")
	f(999.4, "999")
	f(1000, "1.0k")
	f(45_649, "45.6k")
	f(999_999, "1000.0k")
	f(1e6, "1.00M")
	f(1_234_567, "1.23M")
}

func TestNanos(t *testing.T) {
	f := func(x float64, want string) {
		t.Helper()
		if got := Nanos(x); got != want {
			t.Errorf("Nanos(%v) = %q, want %q", x, got, want)
		}
	}
	f(-5, "-5 ns")
	f(800, "800 ns")
	f(1250, "1.25 µs")
	f(9999, "10.00 µs")
	f(12_500, "12.5 µs")
	f(2_250_000, "2.25 ms")
	f(1.5e9, "1.50 s")
}
