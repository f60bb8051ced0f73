package clock

import "errors"

// Errors returned by [Manager]; match them with errors.Is. The returned error
// may wrap the sentinel with the offending value.
var (
	// ErrInvalidSpeed: a speed multiplier that is negative, NaN or infinite.
	ErrInvalidSpeed = errors.New("clock: invalid speed multiplier")
	// ErrNegativeDuration: Advance with a negative duration, which would
	// make monotonic time go backwards.
	ErrNegativeDuration = errors.New("clock: negative duration")
	// ErrOverflow: Advance past the largest representable time
	// (math.MaxUint64 nanoseconds).
	ErrOverflow = errors.New("clock: time overflows uint64 nanoseconds")
)
