package warm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BuildCacheError is warm refusing the build cache layer for the build:
// its settings cannot be had (no go build in the Dockerfile, the base
// image's Go release is not the go command's, ...). bench skips its
// buildcache scenario on it.
type BuildCacheError struct{ Err error }

func (e *BuildCacheError) Error() string { return e.Err.Error() }
func (e *BuildCacheError) Unwrap() error { return e.Err }

// compile builds the plan; tests replace it to see whether warm compiled.
var compile = (*buildcache.Plan).Build

// buildCacheStep is the build cache layer step of [Image].
type buildCacheStep struct {
	target      publish.Target
	tag         publish.Tag
	compression string
	spool       string
	// reuse is false with WithForce: compile whatever the target holds.
	reuse    bool
	stderr   io.Writer
	progress func(Progress)
	// base is the base image, when it is a single image: the build cache
	// is compiled with its Go installation when it has one.
	base       v1.Image
	baseDigest v1.Hash
}

// add appends to img the build cache layer of the dependencies compiled
// with the settings s: the layer of an image the target already holds for
// the same key and settings under another tag (other contents, other
// base), when one was made exactly as this one would be, else a layer
// compiled here, spooled into the step's spool directory.
func (b *buildCacheStep) add(ctx context.Context, dir string, res *modload.Result, s buildcache.Settings, img v1.Image, sum *BuildCache) (v1.Image, func(), error) {
	c := &compiler{name: "the go command here"}
	if b.base != nil {
		var err error
		if c, err = toolchainFor(ctx, b.base, buildcache.Platform(s)); err != nil {
			return nil, nil, err
		}
	}
	return b.compileOn(ctx, dir, res, s, img, c, sum)
}

// unpackGoRoot unpacks the Go installation of the base image img of
// digest d into the user's cache ([goRootCache]); nil when it has none
// this machine can run.
func unpackGoRoot(ctx context.Context, img v1.Image, d v1.Hash) (*buildcache.GoRoot, error) {
	cache, err := goRootCache()
	if err != nil {
		return nil, err
	}
	return buildcache.UnpackGoRoot(ctx, img, d, cache)
}

// compileOn is add with the compiler c chosen.
func (b *buildCacheStep) compileOn(ctx context.Context, dir string, res *modload.Result, s buildcache.Settings, img v1.Image, c *compiler, sum *BuildCache) (v1.Image, func(), error) {
	plan, toolchain, err := b.prepare(ctx, dir, res, s, c)
	if err != nil {
		var bce *BuildCacheError
		if errors.As(err, &bce) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("compiling the dependencies: %w", err)
	}
	if b.reuse {
		from, pub, err := b.published(ctx, plan, img)
		if err != nil {
			plan.Close()
			return nil, nil, err
		}
		if pub != nil {
			plan.Close()
			b.progress(Progress{Phase: "build-cache", From: from})
			out, err := buildcache.Reuse(img, pub)
			if err != nil {
				return nil, nil, err
			}
			size, err := pub.Size()
			if err != nil {
				return nil, nil, fmt.Errorf("reading the build cache layer of %s: %w", from, err)
			}
			fmt.Fprintf(b.stderr, "cachecheck: build cache: reusing the layer of %s (same key, %s, %d packages): nothing compiled\n", from, pub.Settings, pub.Packages)
			sum.Settings, sum.Digest, sum.Packages = pub.Settings.String(), pub.Settings.Digest(), pub.Packages
			sum.Bytes.Raw, sum.Bytes.Compressed = pub.RawSize, size
			sum.ReusedFrom = from
			return out, func() {}, nil
		}
	}
	sum.Toolchain = fmt.Sprintf("%s (%s)%s", toolchain, plan.Settings.GoVersion, c.how)
	r, err := compile(plan, ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling the dependencies: %w", err)
	}
	cleanup := func() { os.RemoveAll(r.GoCache) }
	l, err := buildcache.NewLayer(r, buildcache.WithCompression(b.compression), buildcache.WithSpoolDir(b.spool))
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

// published finds, among the images of the target tagged for the same key
// and build cache suffix as the step's tag, a complete one whose build
// cache layer is the one compiling plan would pack for img: the same
// resolved settings (Go version included), the same number of packages,
// the same compression and the same creation time (SOURCE_DATE_EPOCH,
// which dates the layer's directories). It returns that image's reference
// and its layer, or a nil layer for none.
func (b *buildCacheStep) published(ctx context.Context, plan *buildcache.Plan, img v1.Image) (string, *buildcache.Published, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return "", nil, fmt.Errorf("reading the image config: %w", err)
	}
	want := types.OCILayer
	if b.compression == "zstd" {
		want = types.OCILayerZStd
	}
	entries, err := b.target.List(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("listing %s for a build cache layer to reuse: %w", b.target, err)
	}
	for _, e := range entries {
		if e.Tag.Key != b.tag.Key || e.Tag.BuildCache != b.tag.BuildCache || e.Tag.Revision != "" || e.Tag.String() == b.tag.String() {
			continue
		}
		name := e.Tag.String()
		desc, err := b.target.Lookup(ctx, name)
		if errors.Is(err, publish.ErrNotFound) {
			continue // incomplete
		} else if err != nil {
			return "", nil, err
		}
		if desc.MediaType.IsIndex() {
			continue // a multi-platform deps image: its layers are per platform
		}
		other, err := b.target.Image(ctx, name, *desc)
		if err != nil {
			return "", nil, fmt.Errorf("reading %s in %s: %w", name, b.target, err)
		}
		pub, err := buildcache.ReadPublished(other)
		if err != nil || pub == nil {
			continue // not a deps image with a build cache, though tagged like one
		}
		if pub.Settings.Digest() != plan.Settings.Digest() || pub.Packages != len(plan.Packages) || !pub.Created.Equal(cf.Created.Time) {
			continue
		}
		if mt, err := pub.MediaType(); err != nil || mt != want {
			continue
		}
		return b.target.Ref(name, *desc), pub, nil
	}
	return "", nil, nil
}

// unpackRootFS unpacks the root filesystem of the base image img of
// digest d into the user's cache ([goRootCache]/rootfs).
func unpackRootFS(ctx context.Context, img v1.Image, d v1.Hash) (*buildcache.RootFS, error) {
	cache, err := goRootCache()
	if err != nil {
		return nil, err
	}
	return buildcache.UnpackRootFS(ctx, img, d, cache)
}

// goRootCache is where base images' Go installations are unpacked, one
// directory per image digest: the user's cache directory
// ($XDG_CACHE_HOME, else ~/.cache), cachecheck/goroot.
func goRootCache() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a directory to unpack the base image's Go installation in: %w", err)
	}
	return filepath.Join(d, "cachecheck", "goroot"), nil
}
