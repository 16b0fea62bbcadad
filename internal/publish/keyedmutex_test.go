package publish

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestKeyedMutexContext: a second lock of a key waits for the first, and
// gives up when its context ends; other keys do not wait; once every user
// has gone, the key's lock is forgotten.
func TestKeyedMutexContext(t *testing.T) {
	var k keyedMutex
	bg := context.Background()
	unlock, err := k.lock(bg, "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if u, err := k.lock(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) || u != nil {
		t.Fatalf("a second lock of a held key: %v; want it to give up with its context", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the second lock gave up after %v; want about 50ms", d)
	}
	other, err := k.lock(bg, "b")
	if err != nil {
		t.Fatalf("another key: %v", err)
	}
	other()

	got := make(chan error, 1)
	go func() {
		u, err := k.lock(bg, "a")
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third lock of the held key returned (%v) before the first unlocked", err)
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("the third lock, after the first unlocked: %v", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.locks) != 0 {
		t.Errorf("%d keys remembered after every user left; want none", len(k.locks))
	}
}
