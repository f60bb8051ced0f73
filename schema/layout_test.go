package schema

import (
	"testing"
	"unsafe"
)

// Every Publish copies an Event into a ring slot and every ring allocates
// its slots up front, so the Event's size is watched: 264 bytes, with the
// small fields packed into the word after ID rather than padded out.
func TestEventSize(t *testing.T) {
	var e Event
	if got := unsafe.Sizeof(e); got != 264 {
		t.Errorf("Event is %d bytes, want 264", got)
	}
	if off := unsafe.Offsetof(e.spilled); off >= unsafe.Offsetof(e.TsMono) {
		t.Errorf("spilled at offset %d, after TsMono: padding came back", off)
	}
}
