package warm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modload"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BuildCacheError is warm refusing the build cache layer for the build:
// its settings cannot be had (no go build in the Dockerfile, the base
// image's Go release is not the go command's, ...). bench skips its
// buildcache scenario on it.
type BuildCacheError struct{ Err error }

func (e *BuildCacheError) Error() string { return e.Err.Error() }
func (e *BuildCacheError) Unwrap() error { return e.Err }

// addBuildCache compiles the dependencies into a build cache and appends
// it to img as its own layer, spooled into dir.
func addBuildCache(ctx context.Context, dir string, res *modload.Result, s buildcache.Settings, img v1.Image, compression, spool string, sum *BuildCache) (v1.Image, func(), error) {
	r, err := buildcache.Build(ctx, dir, res, s)
	if err != nil {
		var ve *buildcache.VersionError
		if errors.As(err, &ve) {
			return nil, nil, &BuildCacheError{err}
		}
		return nil, nil, fmt.Errorf("compiling the dependencies: %w", err)
	}
	cleanup := func() { os.RemoveAll(r.GoCache) }
	l, err := buildcache.NewLayer(r, buildcache.WithCompression(compression), buildcache.WithSpoolDir(spool))
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	size, err := l.Size()
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	out, err := buildcache.Image(img, l, r)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	sum.Settings, sum.Digest, sum.Packages = r.Settings.String(), r.Settings.Digest(), len(r.Packages)
	sum.Bytes.Raw, sum.Bytes.Compressed = l.RawSize, size
	return out, cleanup, nil
}
