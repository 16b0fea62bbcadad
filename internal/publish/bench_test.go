package publish

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkLookupHit measures the hit check: Lookup of a tag that exists,
// a fresh target each time (ping, token, HEAD of the manifest), against the
// loopback registry of CACHECHECK_REGISTRY when set, else the in-memory
// registry. Target: under 0.5 s per op.
//
//	CACHECHECK_REGISTRY=127.0.0.1:5801 go test -run '^$' -bench LookupHit ./internal/publish
func BenchmarkLookupHit(b *testing.B) {
	host := os.Getenv("CACHECHECK_REGISTRY")
	if host == "" {
		host = newRegistry(b, nil)
	}
	repo := fmt.Sprintf("%s/bench/lookup-%d", host, time.Now().UnixNano())
	ctx := context.Background()
	tgt, err := ParseTarget(repo)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tgt.Write(ctx, testKey, image(b, nil, 2, 1000)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		tgt, err := ParseTarget(repo)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tgt.Lookup(ctx, testKey); err != nil {
			b.Fatal(err)
		}
	}
}
