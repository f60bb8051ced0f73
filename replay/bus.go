package replay

import (
	"errors"

	"github.com/kestrel-sec/kestrel/engine"
)

var _ Publisher = (*engine.Bus)(nil)

// isEngineDrop reports whether err is one of the bus's counted refusals.
// engine.Bus returns its sentinels unwrapped; errors.Is covers a wrapping
// Publisher.
func isEngineDrop(err error) bool {
	return err == engine.ErrDropped || err == engine.ErrTimeout ||
		errors.Is(err, engine.ErrDropped) || errors.Is(err, engine.ErrTimeout)
}
