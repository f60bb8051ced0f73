package schema

import "testing"

// TestEmptySnapshotNeverWritten guards the tables every empty Registry
// reads: a first registration used to insert into them, so that one
// Registry's paths, groups and names showed up in every Registry created
// after it.
func TestEmptySnapshotNeverWritten(t *testing.T) {
	var a, b Registry
	for _, r := range []*Registry{&a, &b, NewRegistry()} {
		if _, err := r.RegisterField(FieldDef{Path: "leak.field"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.RegisterEventType("leak_type"); err != nil {
			t.Fatal(err)
		}
	}
	for name, tb := range map[string]*table{
		"paths":  emptySnapshot.paths,
		"groups": emptySnapshot.groups,
		"names":  emptySnapshot.names,
	} {
		for i := range tb.slots {
			if e := tb.slots[i].Load(); e != nil {
				t.Errorf("emptySnapshot.%s holds %q (id %d)", name, e.name, e.id)
			}
		}
	}
	if len(emptySnapshot.fields) != 0 || len(emptySnapshot.types) != 0 || emptySnapshot.version != 0 {
		t.Error("emptySnapshot changed")
	}
}
