package replay

import (
	"errors"

	"github.com/kestrel-sec/kestrel/schema"
)

// ErrDropped may be returned (or wrapped) by a Publisher other than
// engine.Bus to have an event counted as dropped rather than stop the
// replay.
var ErrDropped = errors.New("replay: event dropped by the bus")

// dropped reports whether err is a refusal the bus counted, which replay
// counts too and goes past.
func dropped(err error) bool {
	return errors.Is(err, ErrDropped) || isEngineDrop(err)
}

// PublisherFunc adapts a function to the Publisher interface.
type PublisherFunc func(ev *schema.Event) error

// Publish returns f(ev).
func (f PublisherFunc) Publish(ev *schema.Event) error { return f(ev) }
