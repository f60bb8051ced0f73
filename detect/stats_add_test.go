package detect

import (
	"reflect"
	"testing"
)

// TestStatsAddEveryField sets every number of a Stats (and of a rule's
// RuleStats and Evictions) to 1 and adds it to itself: each must read 2, so
// a field added later and forgotten in Add fails here (a reload would make
// its count go down).
func TestStatsAddEveryField(t *testing.T) {
	var one Stats
	fill(reflect.ValueOf(&one).Elem())
	one.Rules = []RuleStats{{ID: "r1"}}
	fill(reflect.ValueOf(&one.Rules[0]).Elem())
	one.Rules[0].ID = "r1"
	sum := one
	sum.Rules = append([]RuleStats(nil), one.Rules...)
	sum.Add(one)
	check(t, "Stats", reflect.ValueOf(sum))
	if len(sum.Rules) != 1 {
		t.Fatalf("rules %d, want 1 (same ID)", len(sum.Rules))
	}
	check(t, "Rules[0]", reflect.ValueOf(sum.Rules[0]))

	other := Stats{Rules: []RuleStats{{ID: "r2", Alerts: 5}}}
	sum.Add(other)
	if len(sum.Rules) != 2 || sum.Rules[1].ID != "r2" || sum.Rules[1].Alerts != 5 {
		t.Errorf("a rule only the added Stats has: %+v", sum.Rules)
	}
}

func fill(v reflect.Value) {
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(1)
		case reflect.Struct:
			fill(f)
		}
	}
}

func check(t *testing.T, where string, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		name := where + "." + v.Type().Field(i).Name
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64:
			if f.Uint() != 2 {
				t.Errorf("%s = %d after adding 1 to 1: Add misses it", name, f.Uint())
			}
		case reflect.Struct:
			check(t, name, f)
		}
	}
}
