package bench

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDisturbanceBetween(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := machineSample{ok: true, wall: t0, busy: 1000, steal: 10, total: 5000, self: time.Second, runDelay: 0}
	// One second later on two CPUs (200 ticks): 100 busy ticks (1 s of
	// CPU), of which this process used 0.5 s; 4 ticks of steal; 30 ms of
	// run delay.
	b := machineSample{ok: true, wall: t0.Add(time.Second), busy: 1100, steal: 14, total: 5200,
		self: 1500 * time.Millisecond, runDelay: int64(30 * time.Millisecond)}
	d := disturbanceBetween(a, b)
	if !d.Known || d.Steal != 0.02 || d.OtherCores != 0.5 || d.RunDelay != 0.03 {
		t.Fatalf("%+v", d)
	}
	if !d.Disturbed() || !strings.Contains(d.String(), "(disturbed)") {
		t.Errorf("%v: not disturbed", d)
	}
	quiet := Disturbance{Known: true, Steal: 0, OtherCores: 0.02, RunDelay: 0.004}
	if quiet.Disturbed() || strings.Contains(quiet.String(), "disturbed") {
		t.Errorf("%v: disturbed", quiet)
	}
	if (Disturbance{}).Disturbed() || disturbanceBetween(machineSample{}, b).Known {
		t.Error("an unknown machine counted as disturbed or known")
	}
	// Meters that started inside the window (the harness's read in its
	// way, its start not metered) disturb it, known machine or not; a
	// start within disturbedLateStart does not.
	for _, d := range []Disturbance{{LateStart: 0.5}, {Known: true, LateStart: 1.2}} {
		if !d.Disturbed() || !strings.Contains(d.String(), "into the window") {
			t.Errorf("%+v: a late start not counted", d)
		}
	}
	if d := (Disturbance{Known: true, LateStart: disturbedLateStart / 2}); d.Disturbed() {
		t.Errorf("%v: a start within the tolerance counted as disturbed", d)
	}
	if runtime.GOOS == "linux" {
		s := sampleMachine()
		if !s.ok || s.total <= 0 {
			t.Errorf("sampleMachine on Linux: %+v", s)
		}
	}
}

// A miss in every attempt on a disturbed machine whose median met the bound
// is reported, not failed; a miss with an undisturbed attempt, or with the
// median over the bound, fails.
func TestPassedExcusesOnlyDisturbedTails(t *testing.T) {
	noisy := Disturbance{Known: true, OtherCores: 1}
	quiet := Disturbance{Known: true}
	v := Verdict{Target: SeedTargets()[1], Value: 9000}
	v.Attempts = []Attempt{{Value: 9000, P50: 300, Disturbance: noisy}, {Value: 8000, P50: 300, Disturbance: noisy}}
	v.Disturbed = true
	if !Passed([]Verdict{v}) || !strings.Contains(v.String(), "DISTURBED") || !strings.Contains(v.String(), "2 attempts") {
		t.Errorf("disturbed tail: passed %v, %q", Passed([]Verdict{v}), v.String())
	}
	v.Disturbed = false
	if Passed([]Verdict{v}) || !strings.Contains(v.String(), "MISSED") {
		t.Errorf("real miss: passed %v, %q", Passed([]Verdict{v}), v.String())
	}
	v.Attempts[1].Disturbance = quiet
	if Passed([]Verdict{v}) {
		t.Error("a miss on a quiet machine passed")
	}
}

// The gate's own regression test: a handler made 30 µs slower per event
// (at 100k events/s the worker falls behind, so even the median event is
// late) fails the run after every attempt, on a quiet machine or a
// disturbed one.
func TestGateFailsOnSlowHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the latency scenarios")
	}
	cfg := Config{Quick: true, Only: "subscribe/1p/steady", Measure: 50 * time.Millisecond, Warmup: 10 * time.Millisecond,
		HandlerDelay: 30 * time.Microsecond}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed() {
		t.Fatalf("a 30 µs handler passed the gate: %+v", rep.Verdicts)
	}
	var found bool
	for _, v := range rep.Verdicts {
		if v.Result != ResultSubscribeSteady || !v.Gate {
			continue
		}
		found = true
		if v.Met || v.Disturbed || len(v.Attempts) != gateAttempts {
			t.Errorf("slow handler verdict: met %v, disturbed %v, %d attempts: %s", v.Met, v.Disturbed, len(v.Attempts), v)
		}
		for _, a := range v.Attempts {
			if a.P50 < v.Bound {
				t.Errorf("slow handler attempt P50 %v under the bound %v", a.P50, v.Bound)
			}
		}
	}
	if !found {
		t.Fatal("no subscribe verdict")
	}
}
