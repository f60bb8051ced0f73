package demo

import (
	"reflect"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
)

func TestRegistry(t *testing.T) {
	reg := Registry()
	if reg.NumFields() != len(demoFields) {
		t.Fatalf("%d fields, want %d", reg.NumFields(), len(demoFields))
	}
	for i, d := range demoFields {
		if id, ok := reg.FieldID(d.Path); !ok || id != schema.FieldID(i+1) {
			t.Errorf("%s: id %d, want %d", d.Path, id, i+1)
		}
	}
	for i, name := range demoTypes {
		if id, ok := reg.EventTypeID(name); !ok || id != schema.EventTypeID(i+1) {
			t.Errorf("%s: id %d, want %d", name, id, i+1)
		}
	}
}

func TestGenerateEvents(t *testing.T) {
	a := GenerateEvents(3, 3000, nil)
	if b := GenerateEvents(3, 3000, Registry()); !reflect.DeepEqual(lines(a), lines(b)) {
		t.Fatal("the same seed gave different events")
	}
	if c := GenerateEvents(4, 3000, nil); reflect.DeepEqual(lines(a), lines(c)) {
		t.Fatal("different seeds gave the same events")
	}
	entities := map[schema.EntityKey]bool{}
	var prev schema.TimestampMono
	for i, ev := range a {
		if n := ev.NumFields(); n < 6 || n > 10 {
			t.Errorf("event %d has %d fields", i, n)
		}
		if ev.TsMono <= prev || ev.ID != uint64(i+1) {
			t.Errorf("event %d: id %d, ts %d after %d", i, ev.ID, ev.TsMono, prev)
		}
		prev = ev.TsMono
		entities[ev.Entity] = true
	}
	if len(entities) < 64 {
		t.Errorf("%d entities", len(entities))
	}
	// Every event passes the demo schema's checks.
	reg := Registry()
	d := schema.Decoder{Registry: reg}
	for i := range a {
		var ev schema.Event
		if err := d.Decode(a[i].AppendJSON(nil), &ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	// A registry without the demo schema: demo IDs, nothing lost.
	if got := GenerateEvents(3, 3000, schema.NewRegistry()); !reflect.DeepEqual(lines(got), lines(a)) {
		t.Error("a foreign registry changed the events")
	}
	if len(GenerateEvents(1, 0, nil)) != 0 || len(GenerateEvents(1, -5, nil)) != 0 {
		t.Error("n <= 0 gave events")
	}
}

func lines(evs []schema.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = string(evs[i].AppendJSON(nil))
	}
	return out
}
