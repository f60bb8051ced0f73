package schema_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// valueFor is the value the tests store in field id, so that any field read
// back can be checked.
func valueFor(id schema.FieldID) value.Value {
	switch id % 3 {
	case 0:
		return value.U64Value(uint64(id) * 1000)
	case 1:
		return value.StringValue(fmt.Sprintf("v%d", id))
	}
	return value.I64Value(-int64(id))
}

// buildShuffled builds an event of type 1 with fields ids, set in the given
// order, each with valueFor(id).
func buildShuffled(t testing.TB, ids []schema.FieldID) schema.Event {
	t.Helper()
	b := schema.NewBuilder(nil).Type(1)
	for _, id := range ids {
		b.Field(id, valueFor(id))
	}
	ev, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return ev
}

// fieldIDs returns the IDs of e's fields in stored order.
func fieldIDs(e *schema.Event) []schema.FieldID {
	var ids []schema.FieldID
	for _, f := range e.Fields() {
		ids = append(ids, f.ID)
	}
	return ids
}

// checkFields checks that e holds exactly the fields ids (in any order given)
// with valueFor values, sorted, and that Get finds each and nothing else.
func checkFields(t testing.TB, e *schema.Event, ids []schema.FieldID) {
	t.Helper()
	want := slices.Clone(ids)
	slices.Sort(want)
	if got := fieldIDs(e); !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	if e.NumFields() != len(want) {
		t.Fatalf("NumFields = %d, want %d", e.NumFields(), len(want))
	}
	for _, f := range e.Fields() {
		if !sameValue(f.Value, valueFor(f.ID)) {
			t.Fatalf("field %d = %v, want %v", f.ID, f.Value, valueFor(f.ID))
		}
	}
	present := make(map[schema.FieldID]bool)
	for _, id := range want {
		present[id] = true
		v, ok := e.Get(id)
		if !ok || !sameValue(v, valueFor(id)) {
			t.Fatalf("Get(%d) = %v, %v; want %v", id, v, ok, valueFor(id))
		}
	}
	top := schema.FieldID(0)
	if len(want) > 0 {
		top = want[len(want)-1]
	}
	for id := schema.FieldID(0); id <= top+2; id++ {
		if present[id] {
			continue
		}
		if v, ok := e.Get(id); ok || !v.IsNull() {
			t.Fatalf("Get(%d) = %v, %v for an absent field", id, v, ok)
		}
	}
}

// sparseIDs returns n distinct IDs with gaps, shuffled.
func sparseIDs(rng *rand.Rand, n int) []schema.FieldID {
	ids := make([]schema.FieldID, n)
	for i := range ids {
		ids[i] = schema.FieldID(3*i + 1 + i%2)
	}
	rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

func TestEventFieldsSorted(t *testing.T) {
	f := func(ids ...schema.FieldID) {
		t.Helper()
		ev := buildShuffled(t, ids)
		checkFields(t, &ev, ids)
	}
	f()
	f(1)
	f(5, 1)
	f(3, 1, 2)
	f(8, 7, 6, 5, 4, 3, 2, 1)             // exactly InlineFields, reversed
	f(9, 8, 7, 6, 5, 4, 3, 2, 1)          // spills on the last one
	f(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)      // in order
	f(100, 1, 50, 2, 99, 3, 98, 4, 97, 5) // alternating ends
	f(4294967295, 1, 2147483648)          // the ID range's ends
}

func TestEventSpill(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{schema.InlineFields - 1, schema.InlineFields, schema.InlineFields + 1, 20, 100} {
		for trial := 0; trial < 20; trial++ {
			ids := sparseIDs(rng, n)
			ev := buildShuffled(t, ids)
			checkFields(t, &ev, ids)
		}
	}
}

func TestEventReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var ev schema.Event
	for _, n := range []int{20, 3, 0, 9, 100, 8, 1, 30, 2} {
		ids := sparseIDs(rng, n)
		built := buildShuffled(t, ids)
		ev.Reset()
		if ev.NumFields() != 0 || len(ev.Fields()) != 0 || ev.ID != 0 || ev.Type != 0 || !ev.Entity.IsZero() {
			t.Fatalf("after Reset: %s", ev.AppendJSON(nil))
		}
		if _, ok := ev.Get(ids0(ids)); ok {
			t.Fatal("Get found a field after Reset")
		}
		ev.CopyFrom(&built)
		checkFields(t, &ev, ids)
	}
	var zero schema.Event
	zero.Reset()
	if zero.NumFields() != 0 {
		t.Error("Reset of a zero Event")
	}
}

func ids0(ids []schema.FieldID) schema.FieldID {
	if len(ids) == 0 {
		return 1
	}
	return ids[0]
}

// eachSizePair runs f in a subtest for a destination of every size and a
// source of every size (srcN fields, srcIDs, its header set), where want
// is the source's JSON.
func eachSizePair(t *testing.T, rng *rand.Rand, f func(t *testing.T, dst, src *schema.Event, srcN int, srcIDs []schema.FieldID, want string)) {
	sizes := []int{0, 3, schema.InlineFields, schema.InlineFields + 1, 25}
	for _, dstN := range sizes {
		for _, srcN := range sizes {
			t.Run(fmt.Sprintf("%d_onto_%d", srcN, dstN), func(t *testing.T) {
				dstIDs, srcIDs := sparseIDs(rng, dstN), sparseIDs(rng, srcN)
				dst := buildShuffled(t, dstIDs)
				src := buildShuffled(t, srcIDs)
				src.ID, src.Type, src.TsMono, src.TsWall = 11, 12, 13, 14
				src.Entity = schema.EntityKey{Hi: 15, Lo: 16}
				f(t, &dst, &src, srcN, srcIDs, string(src.AppendJSON(nil)))
			})
		}
	}
}

// checkSame fails t unless e reads as want (the JSON of the event it was
// made from, whose fields were ids).
func checkSame(t *testing.T, what string, e *schema.Event, want string, ids []schema.FieldID) {
	t.Helper()
	if got := string(e.AppendJSON(nil)); got != want {
		t.Fatalf("%s = %s\nwant %s", what, got, want)
	}
	checkFields(t, e, ids)
}

func TestEventCopyFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	eachSizePair(t, rng, func(t *testing.T, dst, src *schema.Event, srcN int, srcIDs []schema.FieldID, want string) {
		dst.CopyFrom(src)
		checkSame(t, "copy", dst, want, srcIDs)

		// Reuse the source's storage in every way: the copy keeps.
		src.Reset()
		other := buildShuffled(t, sparseIDs(rng, srcN+5))
		src.CopyFrom(&other)
		if got := string(dst.AppendJSON(nil)); got != want {
			t.Fatalf("copy changed when the source was reused:\n%s\nwant %s", got, want)
		}
		if got := string(src.AppendJSON(nil)); got != string(other.AppendJSON(nil)) {
			t.Fatalf("reused source = %s", got)
		}
		// And the other way: changing the copy leaves the source.
		otherWant := string(src.AppendJSON(nil))
		dst.Reset()
		dst.CopyFrom(&other)
		dst.CopyFrom(dst) // a self-copy is a no-op
		if got := string(src.AppendJSON(nil)); got != otherWant {
			t.Fatalf("source changed when its copy was reused: %s", got)
		}
		if got := string(dst.AppendJSON(nil)); got != otherWant {
			t.Fatalf("self-copy changed the event: %s", got)
		}
	})
}

// TestEventCopyFromReusesStorage checks that a spilled destination reuses
// its slice: copying a spilled event onto one with room allocates nothing.
func TestEventCopyFromReusesStorage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	big := buildShuffled(t, sparseIDs(rng, 40))
	mid := buildShuffled(t, sparseIDs(rng, 20))
	small := buildShuffled(t, sparseIDs(rng, 2))
	var dst schema.Event
	dst.CopyFrom(&big) // grows dst's spill to 40
	allocs := testing.AllocsPerRun(100, func() {
		dst.CopyFrom(&mid)
		dst.CopyFrom(&small)
		dst.CopyFrom(&big)
	})
	if allocs != 0 {
		t.Errorf("CopyFrom into a destination with room: %v allocs", allocs)
	}
	checkFields(t, &dst, fieldIDs(&big))
}

func TestEventAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var ev schema.Event
	for _, n := range []int{0, 1, schema.InlineFields, schema.InlineFields + 1, 40} {
		ev.Reset()
		ids := sparseIDs(rng, n)
		for _, i := range rng.Perm(len(ids)) {
			if err := ev.Add(ids[i], valueFor(ids[i])); err != nil {
				t.Fatalf("Add(%d): %v", ids[i], err)
			}
		}
		checkFields(t, &ev, ids)
		if n > 0 {
			err := ev.Add(ids[0], value.BoolValue(true))
			var fe *schema.FieldError
			if !errors.Is(err, schema.ErrDuplicateEventField) || !errors.As(err, &fe) || fe.Field != ids[0] {
				t.Errorf("duplicate Add: %v", err)
			}
			checkFields(t, &ev, ids) // unchanged
		}
	}
	if err := ev.Add(0, value.BoolValue(true)); !errors.Is(err, schema.ErrUnknownField) {
		t.Errorf("Add(0): %v", err)
	}
}

// TestEventMoveTo moves events of every size onto events of every size:
// the destination reads as the source did, the source is left empty and
// fills again correctly (in the storage it got back), the destination is
// not disturbed by that, and nothing is allocated once warm.
func TestEventMoveTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	eachSizePair(t, rng, func(t *testing.T, dst, src *schema.Event, srcN int, srcIDs []schema.FieldID, want string) {
		src.MoveTo(dst)
		checkSame(t, "moved", dst, want, srcIDs)
		if n := len(src.Fields()); n != 0 || src.ID != 0 || src.Entity != (schema.EntityKey{}) {
			t.Fatalf("source not empty after the move: %d fields, id %d", n, src.ID)
		}
		// Fill the source again, in the storage it got back: the
		// moved event keeps.
		other := buildShuffled(t, sparseIDs(rng, srcN+5))
		for _, f := range other.Fields() {
			if err := src.Add(f.ID, f.Value); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(dst.AppendJSON(nil)); got != want {
			t.Fatalf("moved event changed when the source was refilled:\n%s\nwant %s", got, want)
		}
		src.ID, src.Type, src.TsMono, src.TsWall, src.Entity = other.ID, other.Type, other.TsMono, other.TsWall, other.Entity
		if got, w := string(src.AppendJSON(nil)), string(other.AppendJSON(nil)); got != w {
			t.Fatalf("refilled source = %s\nwant %s", got, w)
		}
		dst.MoveTo(dst) // a self-move empties
		if len(dst.Fields()) != 0 {
			t.Fatalf("self-move left %d fields", len(dst.Fields()))
		}
	})
	// Steady state: a producer building in its own event and moving it
	// into slots, as PublishMove does, allocates nothing.
	big := buildShuffled(t, sparseIDs(rng, 20))
	var mine schema.Event
	slots := make([]schema.Event, 4)
	i := 0
	if n := testing.AllocsPerRun(200, func() {
		mine.CopyFrom(&big)
		mine.MoveTo(&slots[i%len(slots)])
		i++
	}); n != 0 {
		t.Errorf("build and move allocates %v times per event once warm", n)
	}
}
