package engine

import (
	"testing"

	"github.com/kestrel-sec/kestrel/internal/inlinecheck"
)

// TestInline fails if a fast-path function stops inlining. The ring
// operations Publish and Claim call are checked in ring's own test.
// Claim.Commit does not inline (it may copy a routed event first); its
// ring Commit does.
func TestInline(t *testing.T) {
	inlinecheck.Check(t, false, "shard.of", "hash16", "Claim.Event", "(*Bus).PartitionOf", "storeMax", "(*Producer).advance", "(*Bus).laneOf")
}
