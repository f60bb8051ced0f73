// Package ctxsleep is the one timer wait that ends early when a context
// does: the retry backoff and pacing sleeps of replay, kafka and sink.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, and reports whether d passed. When
// both have happened by the time it looks, either may win. It stops its
// timer before returning, so an early end leaves nothing behind.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
