package warm

import (
	"context"
	"errors"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
)

// ErrNotCompiled is what warm returns, under [HookCompile] without real,
// when it would compile the build cache.
var ErrNotCompiled = errors.New("test: warm would compile the build cache")

// HookCompile counts the build cache compiles of warm until the test
// ends; when real is false, it fails them with ErrNotCompiled instead of
// compiling.
func HookCompile(t *testing.T, real bool) *int {
	n := new(int)
	old := compile
	compile = func(p *buildcache.Plan, ctx context.Context) (*buildcache.Result, error) {
		*n++
		if !real {
			p.Close()
			return nil, ErrNotCompiled
		}
		return old(p, ctx)
	}
	t.Cleanup(func() { compile = old })
	return n
}
