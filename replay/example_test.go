package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kestrel-sec/kestrel/clock"
	"github.com/kestrel-sec/kestrel/engine"
	"github.com/kestrel-sec/kestrel/internal/demo"
	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
)

// A log in the Rust original's shape: a header line, then fields as
// [id, value] pairs with lower-case variants.
const originalLog = `{"magic":[75,69,83,84],"version":1,"schema_version":1,"host":"web-01"}
{"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1700000000000000000,"entity_key":7,"fields":[[3,{"string":"/usr/bin/curl"}]]}
{"event_id":2,"event_type_id":2,"ts_mono_ns":1000500000,"ts_wall_ns":1700000000000500000,"entity_key":7,"fields":[[9,{"string":"/etc/shadow"}]]}
`

func ExampleNewReader() {
	r, err := replay.NewReader(strings.NewReader(originalLog))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println(r.Format(), "host", string(r.Header().Meta["host"]))
	var ev schema.Event
	for {
		if err := r.Next(&ev); err != nil {
			if err != io.EOF {
				fmt.Println(err)
			}
			break
		}
		fmt.Printf("%s\n", ev.AppendJSON(nil))
	}
	// Output:
	// jsonl host "web-01"
	// {"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":1700000000000000000,"entity_key":7,"fields":{"3":{"String":"/usr/bin/curl"}}}
	// {"event_id":2,"event_type_id":2,"ts_mono_ns":1000500000,"ts_wall_ns":1700000000000500000,"entity_key":7,"fields":{"9":{"String":"/etc/shadow"}}}
}

// Recording: a sensor writes what it publishes; the extension picks the
// format.
func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "kestrel")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "capture.kbin")

	w, err := replay.Create(path, replay.WriterOptions{SchemaVersion: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range demo.GenerateEvents(1, 1000, nil) {
		if err := w.Write(&ev); err != nil {
			fmt.Println(err)
		}
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}

	r, err := replay.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	n := 0
	var ev schema.Event
	for r.Next(&ev) == nil {
		n++
	}
	fmt.Println(r.Format(), n, "events")
	// Output: binary 1000 events
}

// printer is a Publisher that prints what it gets and the clock it sees.
type printer struct{ clk clock.Clock }

func (p printer) Publish(ev *schema.Event) error {
	fmt.Printf("event %d at clock %d\n", ev.ID, p.clk.NowMono())
	return nil
}

// Replaying: the clock reads each event's time when it is published. A bad
// line stops a strict replay with file:line: reason.
func ExampleReplayer_Replay() {
	dir, _ := os.MkdirTemp("", "kestrel")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "attack.jsonl")
	os.WriteFile(path, []byte(originalLog+"{\"event_id\":3}\n"), 0o600)

	clk := clock.New()
	rp, err := replay.New(printer{clk}, replay.Config{Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := rp.Replay(context.Background(), path)
	fmt.Println(strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)))
	fmt.Println("published", st.Published, "bad", st.BadLines, "lines", st.Lines)

	// Lenient mode skips and counts the bad line.
	rp, _ = replay.New(printer{clk}, replay.Config{Clock: clk, Lenient: true})
	st, err = rp.Replay(context.Background(), path)
	fmt.Println(err, "published", st.Published, "bad", st.BadLines, "span", st.Span())
	// Output:
	// event 1 at clock 1000000000
	// event 2 at clock 1000500000
	// attack.jsonl:4: schema: invalid event: missing key "event_type_id"
	// published 2 bad 1 lines 4
	// event 1 at clock 1000000000
	// event 2 at clock 1000500000
	// <nil> published 2 bad 1 span 500µs
}

// Converting a log: read any format, write another.
func ExampleNewBinaryWriter() {
	r, _ := replay.NewReader(strings.NewReader(originalLog))
	var bin bytes.Buffer
	w, _ := replay.NewBinaryWriter(&bin, replay.WriterOptions{SchemaVersion: r.Header().SchemaVersion, Meta: r.Header().Meta})
	var ev schema.Event
	for r.Next(&ev) == nil {
		w.Write(&ev)
	}
	w.Close()

	back, _ := replay.NewReader(&bin)
	fmt.Println(back.Format(), string(back.Header().Meta["host"]))
	// Output: binary "web-01"
}

// Replaying into the engine's bus under its mock clock, as the kestrel
// command does: a handler per partition sees every event, in order.
func ExampleNew() {
	var log bytes.Buffer
	w, _ := replay.NewBinaryWriter(&log, replay.WriterOptions{})
	for _, ev := range demo.GenerateEvents(1, 5000, nil) {
		w.Write(&ev)
	}
	w.Close()

	clk := clock.New()
	bus, err := engine.New(engine.Config{Partitions: 2, Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	var handled [2]int // each written by its partition's worker only
	bus.Run(func(p int, batch []*schema.Event) { handled[p] += len(batch) })

	rp, err := replay.New(bus, replay.Config{Clock: clk, Speed: 0})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := replay.NewReader(&log)
	defer r.Close()
	st, err := rp.ReplayReader(context.Background(), r)
	bus.Shutdown(context.Background()) // drains: every accepted event is handled
	fmt.Println(err, st.Published, st.Dropped, handled[0]+handled[1])
	// Output: <nil> 5000 0 5000
}

// Recording what a sensor publishes, through the bus.
func ExampleNewRecorder() {
	bus, _ := engine.New(engine.Config{Partitions: 1})
	bus.Run(nil)
	var log bytes.Buffer
	w, _ := replay.NewJSONWriter(&log, replay.WriterOptions{Header: true, SchemaVersion: 1})
	rec := replay.NewRecorder(bus, w)
	for _, ev := range demo.GenerateEvents(1, 3, nil) {
		rec.Publish(&ev) // instead of bus.Publish
	}
	rec.Close()
	bus.Shutdown(context.Background())
	fmt.Println(rec.Stats().Recorded, strings.Count(log.String(), "\n"), "lines")
	// Output: 3 4 lines
}
