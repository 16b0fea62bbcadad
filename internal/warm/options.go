package warm

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/publish"
)

// DefaultOCIDir is the OCI layout deps images go to when no target is
// given, relative to the module or workspace directory.
const DefaultOCIDir = ".cachecheck/oci"

// Option configures [Image].
type Option func(*options) error

type options struct {
	target      publish.Target
	base        string
	publishOpts []publish.Option
	force       bool
	stall       time.Duration
	layers      int
	contents    string
	compression string
	buildCache  SettingsFunc
	platforms   []string
	main        *buildcache.Revision
	progress    func(Progress)
	stderr      io.Writer
	version     string
}

// SettingsFunc returns the build settings of the build cache layer for the
// resolved base image (nil when there is none), or nil for no build cache.
type SettingsFunc func(base publish.Artifact) (*buildcache.Settings, error)

// Progress is a step of the pipeline, for a status line.
type Progress struct {
	// Phase is "download", "verify", "pack", "pack+upload" or
	// "build-cache".
	Phase string
	// Done and Total count modules (download, verify) or layers (pack);
	// Total is 0 while the download does not know it.
	Done, Total int
	// Bytes is how much the download wrote so far.
	Bytes int64
	// From is, for "build-cache", the reference to the image whose build
	// cache layer is reused; "" while compiling.
	From string
}

// WithTarget publishes to t. The default is the OCI layout
// [DefaultOCIDir] in the module's directory.
func WithTarget(t publish.Target) Option {
	return func(o *options) error {
		o.target = t
		return nil
	}
}

// WithBase builds the image on the image ref (a registry reference or
// oci:DIR[:TAG]), resolved with the options of [WithPublishOptions]. The
// default is no base: a deps-only image.
func WithBase(ref string) Option {
	return func(o *options) error {
		o.base = ref
		return nil
	}
}

// WithPublishOptions passes opts to the resolution of the base image. The
// default is none.
func WithPublishOptions(opts ...publish.Option) Option {
	return func(o *options) error {
		o.publishOpts = append(o.publishOpts, opts...)
		return nil
	}
}

// WithForce builds and publishes even when the target already holds the
// key's image, and compiles the build cache even when the target holds
// its layer under another tag. The default is false: a hit does nothing.
func WithForce(force bool) Option {
	return func(o *options) error {
		o.force = force
		return nil
	}
}

// WithStallTimeout abandons the download when it makes no progress for d;
// 0 waits for ever. The default is [modload.DefaultStallTimeout].
func WithStallTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("stall timeout %s is negative", d)
		}
		o.stall = d
		return nil
	}
}

// WithLayers spreads public modules over n layers (1-100). The default is
// [depsimage.DefaultBuckets].
func WithLayers(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 100 {
			return fmt.Errorf("layers %d is out of range 1-100", n)
		}
		o.layers = n
		return nil
	}
}

// WithContents says what goes in: [depsimage.ContentsFull] or
// [depsimage.ContentsZips]. The default is [depsimage.DefaultContents].
func WithContents(c string) Option {
	return func(o *options) error {
		o.contents = c
		return nil
	}
}

// WithCompression compresses the layers with c: [depsimage.Gzip] or
// [depsimage.Zstd]. The default is [depsimage.Gzip].
func WithCompression(c string) Option {
	return func(o *options) error {
		o.compression = c
		return nil
	}
}

// WithBuildCache adds a layer with the dependencies compiled into a Go
// build cache for the settings f returns, called with the resolved base.
// When the target holds an image of the same key and settings under
// another tag (other contents, other base) whose build cache layer is the
// one compiling would pack, that layer is reused and nothing compiled.
// An error of f is returned as a [*BuildCacheError]. The default is no
// build cache layer.
func WithBuildCache(f SettingsFunc) Option {
	return func(o *options) error {
		o.buildCache = f
		return nil
	}
}

// WithMainModule also compiles, with [WithBuildCache], the main module's
// packages (other than its main packages; no tests) at the commit rev
// (see [Revision]) into a layer on top of the build cache's, and
// publishes that image under the deps image's tag with the revision
// added ([publish.Tag.WithRevision]). The deps image, without the layer,
// is published under its own tag as without this option, or found there
// and left as it is: it stays shared between revisions. The default is
// no main module layer.
func WithMainModule(rev buildcache.Revision) Option {
	return func(o *options) error {
		if len(rev.Commit) < publish.RevisionLen {
			return fmt.Errorf("revision %q: want a commit hash", rev.Commit)
		}
		o.main = &rev
		return nil
	}
}

// WithPlatforms sets the platforms ("linux/arm64") the build cache layer
// is compiled for, with [WithBuildCache]. On a multi-platform base each
// named platform's image gets a layer compiled for it; the others get
// none and say so in an annotation ([buildcache.LabelAbsent]). On a
// single image, or none, one platform may be named: the image's. The
// default is the settings' own platform (GOOS/GOARCH, from the
// Dockerfile's stage or linux/amd64).
func WithPlatforms(platforms ...string) Option {
	return func(o *options) error {
		for _, p := range platforms {
			if _, _, err := buildcache.ParsePlatform(p); err != nil {
				return err
			}
		}
		o.platforms = slices.Clone(platforms)
		return nil
	}
}

// WithProgress calls f with each step of the pipeline. The default is no
// progress.
func WithProgress(f func(Progress)) Option {
	return func(o *options) error {
		o.progress = f
		return nil
	}
}

// WithStderr writes notes that are not errors to w, one a line, each
// starting with "cachecheck: ". The default is [io.Discard].
func WithStderr(w io.Writer) Option {
	return func(o *options) error {
		o.stderr = w
		return nil
	}
}

// WithVersion records v as the cachecheck version in the image's
// metadata. The default is "devel".
func WithVersion(v string) Option {
	return func(o *options) error {
		o.version = v
		return nil
	}
}

func newOptions(opts []Option) (*options, error) {
	o := &options{
		stall:       modload.DefaultStallTimeout,
		layers:      depsimage.DefaultBuckets,
		contents:    depsimage.DefaultContents,
		compression: depsimage.Gzip,
		progress:    func(Progress) {},
		stderr:      io.Discard,
		version:     "devel",
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}
