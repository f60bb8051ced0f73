package protoevent_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kestrel-sec/kestrel/protoevent"
	"github.com/kestrel-sec/kestrel/schema"
	"github.com/kestrel-sec/kestrel/value"
)

// protoc runs protoc (Debian's protobuf-compiler) on event.proto with the
// arguments given and stdin, skipping the test where it is not installed.
func protoc(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed (apt-get install protobuf-compiler): the interoperability check needs it")
	}
	cmd := exec.Command(path, append([]string{"-I", "."}, append(args, "event.proto")...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("protoc %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// collapse removes the layout of protoc's text format, which its versions
// indent differently.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// protoc reads what we write: an event and a batch, every field where
// event.proto puts it.
func TestProtocDecodesOurs(t *testing.T) {
	var ev schema.Event
	ev.ID, ev.Type, ev.TsMono, ev.TsWall = 7, 3, 1000, 2000
	ev.Entity = schema.EntityKey{Hi: 1, Lo: 42}
	ev.Add(1, value.StringValue("/bin/ls"))
	ev.Add(2, value.I64Value(-5))
	ev.Add(3, value.U64Value(18446744073709551615))
	ev.Add(4, value.F64Value(1.5))
	ev.Add(5, value.BoolValue(true))
	ev.Add(6, value.NullValue())
	ev.Add(7, value.BytesValue([]byte{0, 0xff}))
	ev.Add(8, value.ArrayValue(value.I64Value(1), value.StringValue("x")))
	got := collapse(string(protoc(t, protoevent.AppendEvent(nil, &ev), "--decode=kestrel.v1.Event")))
	want := collapse(`event_id: 7 event_type_id: 3 ts_mono_ns: 1000 ts_wall_ns: 2000 entity_key_hi: 1 entity_key_lo: 42
		fields { id: 1 value { string: "/bin/ls" } }
		fields { id: 2 value { i64: -5 } }
		fields { id: 3 value { u64: 18446744073709551615 } }
		fields { id: 4 value { f64: 1.5 } }
		fields { id: 5 value { bool: true } }
		fields { id: 6 value { null: true } }
		fields { id: 7 value { bytes: "\000\377" } }
		fields { id: 8 value { array { values { i64: 1 } values { string: "x" } } } }`)
	if got != want {
		t.Errorf("protoc --decode read\n%s\nwant\n%s", got, want)
	}
	batch := protoevent.AppendBatch(nil, protoevent.BatchHeader{SchemaID: "acme.sensor", SchemaVersion: 2}, []*schema.Event{&ev})
	got = collapse(string(protoc(t, batch, "--decode=kestrel.v1.EventBatch")))
	if !strings.HasPrefix(got, `schema_id: "acme.sensor" schema_version: 2 events { event_id: 7 `) {
		t.Errorf("protoc --decode of a batch:\n%s", got)
	}
	hdr := protoevent.AppendLogHeader(nil, protoevent.LogHeader{Version: 1, SchemaVersion: 2, SchemaID: "acme.sensor"})
	if got = collapse(string(protoc(t, hdr, "--decode=kestrel.v1.LogHeader"))); got != `version: 1 schema_version: 2 schema_id: "acme.sensor"` {
		t.Errorf("protoc --decode of a log header:\n%s", got)
	}
}

// We read what protoc encodes from the text format.
func TestProtocEncodesTheirs(t *testing.T) {
	text := `event_id: 9 event_type_id: 2 ts_mono_ns: 5000000000 entity_key_lo: 77
		fields { id: 4 value { string: "/usr/bin/curl" } }
		fields { id: 11 value { i64: -9223372036854775808 } }
		fields { id: 12 value { array { values { u64: 3 } values { null: true } } } }
		fields { id: 13 value { f64: -0.25 } }`
	b := protoc(t, []byte(text), "--encode=kestrel.v1.Event")
	var ev schema.Event
	if err := protoevent.DecodeEvent(b, &ev); err != nil {
		t.Fatal(err)
	}
	want := `{"event_id":9,"event_type_id":2,"ts_mono_ns":5000000000,"ts_wall_ns":0,"entity_key":77,"fields":{` +
		`"4":{"String":"/usr/bin/curl"},"11":{"I64":-9223372036854775808},"12":{"Array":[{"U64":3},"Null"]},"13":{"F64":-0.25}}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("decoded\n%s\nwant\n%s", got, want)
	}
	// And we write the same bytes back.
	if again := protoevent.AppendEvent(nil, &ev); !bytes.Equal(again, b) {
		t.Errorf("re-encoded\n% x\nprotoc wrote\n% x", again, b)
	}
}

// The committed pb/event.pb.go is what protoc-gen-go makes of event.proto
// today (go generate), apart from the line naming protoc's version.
func TestGeneratedCodeCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc-gen-go"); err != nil {
		t.Skip("protoc-gen-go is not on PATH (go install google.golang.org/protobuf/cmd/protoc-gen-go)")
	}
	dir := t.TempDir()
	protocIn(t, "..", "--go_out="+dir, "--go_opt=module=github.com/kestrel-sec/kestrel", "protoevent/event.proto")
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "// \tprotoc ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "protoevent/pb/event.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("pb/event.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	if strip(fresh) != strip(committed) {
		t.Error("pb/event.pb.go is stale: run go generate ./protoevent")
	}
}

// protocIn runs protoc with -I include and args, skipping where it is not
// installed.
func protocIn(t *testing.T, include string, args ...string) {
	t.Helper()
	path, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed (apt-get install protobuf-compiler)")
	}
	if out, err := exec.Command(path, append([]string{"-I", include}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("protoc %v: %v\n%s", args, err, out)
	}
}
