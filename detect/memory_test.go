package detect

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/rule"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// blockEvent returns an event like one decoded from a large, highly
// compressible log block: its strings are short substrings of a fresh
// block-sized string, as a decoder hands them out, so a value kept by
// reference keeps the whole block alive.
func blockEvent(t testing.TB, id uint64, block int) schema.Event {
	t.Helper()
	buf := strings.Repeat("A", block) // the decompressed block
	key := "p" + strconv.FormatUint(id, 10)
	blk := key + buf[len(key):]
	e, err := schema.NewBuilder(testReg).ID(id).TypeName("process_exec").Mono(schema.TimestampMono(id)).
		Entity(schema.EntityKeyFrom64(id)).
		Path("process.entity_id", value.StringValue(blk[:len(key)])).
		Path("process.name", value.StringValue("x")).
		Path("process.command_line", value.StringValue(blk[len(key):len(key)+16])).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestStateDoesNotPinEvents is the crafted-log case at small scale: every
// event starts a partial match that never completes and holds a few bytes
// of a 256 KiB block. State must own copies of what it keeps, so the heap
// grows by the states, not by the blocks (400 blocks would be 100 MiB).
func TestStateDoesNotPinEvents(t *testing.T) {
	const events, block = 400, 256 << 10
	r := pkg(t, "r", `sequence by process.entity_id
  [process where process.name == "x" and process.command_line : "*A*"]
  [file where file.path == "never"]`)
	d, err := New(Config{Output: &capture{}, Rules: []*rule.Package{r}})
	if err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	for i := range uint64(events) {
		e := blockEvent(t, i+1, block)
		d.Handle(0, []*schema.Event{&e})
	}
	after := heapInUse()
	st := d.Stats()
	runtime.KeepAlive(d)
	if st.States != events {
		t.Fatalf("%d states, want %d", st.States, events)
	}
	if grown := int64(after) - int64(before); grown > 8<<20 {
		t.Fatalf("heap grew by %d KiB for %d states of %d bytes in all: blocks are pinned", grown>>10, st.States, st.Bytes)
	}
}

// TestByteBudget checks that the memory the states hold stays within
// MaxStateBytes (as counted, and as the heap sees it), that the excess is
// evicted least recently used first and counted as Memory evictions, and
// that matching goes on for the keys kept.
func TestByteBudget(t *testing.T) {
	const events, budget = 2000, 256 << 10
	r := pkg(t, "r", `sequence by process.entity_id
  [process where process.name == "x"]
  [file where file.path == "done"]`)
	c := &capture{}
	d, err := New(Config{Output: c, Rules: []*rule.Package{r}, MaxStateBytes: budget})
	if err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	big := strings.Repeat("B", 4<<10) // each state keeps a 4 KiB join value
	for i := range uint64(events) {
		e, err := schema.NewBuilder(testReg).ID(i+1).TypeName("process_exec").Mono(schema.TimestampMono(i)).
			Entity(schema.EntityKeyFrom64(i)).
			Path("process.entity_id", value.StringValue(strconv.FormatUint(i, 10)+big)).
			Path("process.name", value.StringValue("x")).Build()
		if err != nil {
			t.Fatal(err)
		}
		d.Handle(0, []*schema.Event{&e})
		if b := d.Stats().Bytes; b > budget {
			t.Fatalf("after event %d: %d bytes held, budget %d", i+1, b, budget)
		}
	}
	after := heapInUse()
	st := d.Stats()
	if st.Evicted.Memory == 0 || st.Evicted.Memory+st.Partials != events {
		t.Fatalf("evictions %+v, %d partials left of %d", st.Evicted, st.Partials, events)
	}
	if grown := int64(after) - int64(before); grown > 4*budget {
		t.Fatalf("heap grew by %d KiB with a %d KiB budget", grown>>10, budget>>10)
	}
	// The newest key is still held and still matches.
	last := strconv.FormatUint(events-1, 10) + big
	e, err := schema.NewBuilder(testReg).ID(events+1).TypeName("file_open").Mono(schema.TimestampMono(events)).
		Entity(schema.EntityKeyFrom64(events-1)).
		Path("process.entity_id", value.StringValue(last)).Path("file.path", value.StringValue("done")).Build()
	if err != nil {
		t.Fatal(err)
	}
	d.Handle(0, []*schema.Event{&e})
	expectAlerts(t, c, "r:"+strconv.Itoa(events)+","+strconv.Itoa(events+1))
	runtime.KeepAlive(d)
}

// TestKbinDoesNotPinBlocks replays a log built like the crafted one
// (every event alone in a block with 256 KiB of filler that zstd squeezes
// to almost nothing, every event starting a partial match) through the
// binary reader, whose strings point into each decompressed block: the
// states must not keep the blocks alive.
func TestKbinDoesNotPinBlocks(t *testing.T) {
	const events, filler = 200, 256 << 10
	path := filepath.Join(t.TempDir(), "crafted.kbin")
	w, err := replay.Create(path, replay.WriterOptions{BlockEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("A", filler)
	for i := range uint64(events) {
		e, err := schema.NewBuilder(testReg).ID(i+1).TypeName("process_exec").Mono(schema.TimestampMono(i)).
			Entity(schema.EntityKeyFrom64(i)).
			Path("process.entity_id", value.StringValue("p"+strconv.FormatUint(i, 10))).
			Path("process.name", value.StringValue("x")).
			Path("process.args", value.StringValue(pad)).Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() > 1<<20 {
		t.Fatalf("crafted log: %v, %d bytes", err, st.Size())
	}
	r := pkg(t, "r", `sequence by process.entity_id
  [process where process.name == "x"]
  [file where file.path == "never"]`)
	d, err := New(Config{Output: &capture{}, Rules: []*rule.Package{r}})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := replay.OpenWith(path, replay.ReaderOptions{Registry: testReg})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	before := heapInUse()
	var e schema.Event
	for {
		if err := rd.Next(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		d.Handle(0, []*schema.Event{&e})
	}
	e = schema.Event{} // the last event's block may stay with the reader
	after := heapInUse()
	st := d.Stats()
	runtime.KeepAlive(d)
	if st.States != events {
		t.Fatalf("%d states, want %d", st.States, events)
	}
	if grown := int64(after) - int64(before); grown > 8<<20 {
		t.Fatalf("heap grew by %d KiB for %d states (%d bytes counted): decoder blocks are pinned (%d KiB of blocks read)",
			grown>>10, st.States, st.Bytes, events*filler>>10)
	}
}
