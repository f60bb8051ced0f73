package ctxsleep

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("a 1 ms sleep under a live context did not report that it passed")
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("a zero sleep under a live context did not report that it passed")
	}
	if !Sleep(context.Background(), -time.Second) {
		t.Fatal("a negative sleep under a live context did not report that it passed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) {
		t.Fatal("an hour's sleep under an ended context reported that it passed")
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("an ended context took %v to stop the sleep", el)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if Sleep(ctx, time.Hour) {
		t.Fatal("a context ended during the sleep did not stop it")
	}
}
