package replay_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/kestrel-sec/kestrel/replay"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// A protobuf log (.kpb; Create picks it by extension) reads back through
// the same Reader as the other formats, which it detects by its magic.
func ExampleNewProtoWriter() {
	var buf bytes.Buffer
	w, _ := replay.NewProtoWriter(&buf, replay.WriterOptions{SchemaID: "acme.sensor", SchemaVersion: 2})
	var ev schema.Event
	ev.ID, ev.Type, ev.TsMono = 1, 1, 1e9
	ev.Add(3, value.StringValue("/bin/ls"))
	w.Write(&ev)
	w.Close()

	r, _ := replay.NewReader(&buf)
	defer r.Close()
	h := r.Header()
	fmt.Println(r.Format(), h.SchemaID, h.SchemaVersion)
	var got schema.Event
	for r.Next(&got) != io.EOF {
		fmt.Println(string(got.AppendJSON(nil)))
	}
	// Output:
	// protobuf acme.sensor 2
	// {"event_id":1,"event_type_id":1,"ts_mono_ns":1000000000,"ts_wall_ns":0,"entity_key":0,"fields":{"3":{"String":"/bin/ls"}}}
}
