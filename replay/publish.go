package replay

import "errors"

// ErrDropped may be returned (or wrapped) by a Publisher other than
// engine.Bus to have an event counted as dropped rather than stop the
// replay.
var ErrDropped = errors.New("replay: event dropped by the bus")

// dropped reports whether err is a refusal the bus counted, which replay
// counts too and goes past.
func dropped(err error) bool {
	return errors.Is(err, ErrDropped) || isEngineDrop(err)
}
