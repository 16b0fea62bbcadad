package warm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/mod/module"
)

// Result is what [Image] did.
type Result struct {
	Key    cachekey.Key
	Tag    string
	Target string
	// Ref is the reference to the published (or found) image, as
	// [publish.Target.Ref] gives it.
	Ref    string
	Digest string
	// Hit is true when the target already held the tag and nothing was
	// built.
	Hit     bool
	Modules int
	Layers  struct{ New, Reused int }
	Bytes   struct{ Raw, Compressed, Written int64 }
	// Seconds is how long each phase took: base, lookup, download,
	// verify, pack or pack+upload, build-cache, publish and total.
	Seconds map[string]float64
	// BuildCache is the build cache layer of a single image; nil for
	// none, or for a multi-platform deps image, whose layers are in
	// BuildCaches, one per platform compiled for.
	BuildCache  *BuildCache
	BuildCaches []*BuildCache
	// Main are the main module's layers of [WithMainModule], one a
	// platform; nil without it. Tag is then the revision's tag, and
	// DepsTag that of the deps image it adds to, which DepsHit says the
	// target already held.
	Main    []*MainCache
	DepsTag string
	DepsHit bool
}

// BuildCache is what the build cache layer holds.
type BuildCache struct {
	// Platform is the platform it was compiled for, "linux/arm64", in a
	// multi-platform deps image; "" in a single image.
	Platform string
	Settings string
	Digest   string
	Packages int
	Bytes    struct{ Raw, Compressed int64 }
	// ReusedFrom is the reference to the image of the target whose build
	// cache layer was reused (the same key and settings under another
	// tag), or "" when the layer was compiled.
	ReusedFrom string
	// Toolchain is the go command that compiled it: "the base image's
	// /usr/local/go (go1.26.8)", or "the go command here (go1.26.8)"
	// when the base has none this machine can run. Empty when reused.
	Toolchain string
}

// Image builds the deps image of the Go module or workspace in dir: the
// module cache that 'go mod download' fills, verified against go.sum and
// packed into reproducible layers, and publishes it to the target under a
// tag derived from its key. When the target already holds that tag it
// does nothing (a hit), unless [WithForce].
func Image(ctx context.Context, dir string, opts ...Option) (*Result, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	sum := &Result{Seconds: map[string]float64{}}
	phase := func(name string, since time.Time) { sum.Seconds[name] = time.Since(since).Seconds() }

	target := o.target
	if target == nil {
		if target, err = publish.ParseTarget("oci:" + filepath.Join(dir, DefaultOCIDir)); err != nil {
			return nil, err
		}
	}
	sum.Target = target.String()
	key, err := cachekey.ComputeDir(dir)
	if err != nil {
		return nil, err
	}
	sum.Key = key.Key

	var base publish.Artifact
	var baseDigest *v1.Hash
	if o.base != "" {
		t := time.Now()
		a, d, err := publish.ResolveBase(ctx, o.base, o.publishOpts...)
		if err != nil {
			return nil, err
		}
		base, baseDigest = a, &d
		phase("base", t)
	}
	var bcSettings *buildcache.Settings
	if o.buildCache != nil {
		if bcSettings, err = o.buildCache(base); err != nil {
			return nil, &BuildCacheError{err}
		}
	}
	tagOf, platforms, err := tagFor(key.Key, base, baseDigest, o.contents, bcSettings, o.platforms)
	if err != nil {
		return nil, err
	}
	tag := tagOf.String()
	sum.Tag = tag
	var revTag string
	if o.main != nil {
		if bcSettings == nil {
			return nil, fmt.Errorf("the main module's packages go on the build cache layer: add the build cache")
		}
		if !bcSettings.Trimpath {
			// Found now, not after compiling the dependencies.
			return nil, &BuildCacheError{fmt.Errorf("the main module's packages: the build does not use -trimpath, so the directory it compiles in enters every package's cache key, and warm compiles in %s: build with -trimpath to ship them", dir)}
		}
		revTag = tagOf.WithRevision(o.main.Commit).String()
		sum.Tag, sum.DepsTag = revTag, tag
	}

	t := time.Now()
	// deps is the deps image the target holds, when the main module's
	// layer is to be added to it.
	var deps publish.Artifact
	if o.main != nil {
		desc, err := target.Lookup(ctx, revTag)
		switch {
		case err == nil && !o.force:
			phase("lookup", t)
			sum.Hit, sum.Ref, sum.Digest = true, target.Ref(revTag, *desc), desc.Digest.String()
			if err := adoptStamp(ctx, target, revTag, *desc); err != nil {
				return nil, err
			}
			phase("total", start)
			return sum, nil
		case err != nil && !errors.Is(err, publish.ErrNotFound):
			return nil, err
		}
	}
	desc, err := target.Lookup(ctx, tag)
	phase("lookup", t)
	switch {
	case err == nil && !o.force && o.main != nil:
		sum.DepsHit = true
		if desc.MediaType.IsIndex() {
			deps, err = target.Index(ctx, tag, *desc)
		} else {
			deps, err = target.Image(ctx, tag, *desc)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", tag, target, err)
		}
		if err := adoptStamp(ctx, target, tag, *desc); err != nil {
			return nil, err
		}
	case err == nil && !o.force:
		sum.Hit, sum.Ref, sum.Digest = true, target.Ref(tag, *desc), desc.Digest.String()
		if err := adoptStamp(ctx, target, tag, *desc); err != nil {
			return nil, err
		}
		phase("total", start)
		return sum, nil
	case err != nil && !errors.Is(err, publish.ErrNotFound):
		return nil, err
	}
	var incomplete *publish.IncompleteError
	if errors.As(err, &incomplete) {
		fmt.Fprintf(o.stderr, "cachecheck: %v: building it again\n", err)
	}
	// Find an unwritable target before downloading and packing.
	if err := publish.CheckWritable(target); err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}

	t = time.Now()
	res, err := modload.Download(ctx, dir, modload.WithEnv(GoWorkEnv(dir, key.Workspace)), modload.WithStallTimeout(o.stall), modload.WithProgress(func(p modload.Progress) {
		o.progress(Progress{Phase: "download", Done: p.Done, Total: p.Total, Bytes: p.Bytes})
	}))
	if res != nil {
		defer modload.RemoveAll(res.GoModCache)
	}
	if err != nil {
		return nil, withPrivateHint(err)
	}
	phase("download", t)
	sum.Modules = len(res.Modules)

	// Compress each layer once: keep the compressed bytes in a temporary
	// file for the upload rather than compressing again.
	spool, err := os.MkdirTemp("", "cachecheck-layers-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for the layers: %w", err)
	}
	defer os.RemoveAll(spool)
	r := &run{o: o, dir: dir, key: key, res: res, target: target, base: base, baseDigest: baseDigest, settings: bcSettings,
		tag: tagOf, platforms: platforms, spool: spool, sum: sum, phase: phase}
	if deps == nil {
		cleanup, err := r.publishDeps(ctx)
		defer cleanup()
		if err != nil {
			return nil, err
		}
		deps = r.art
	}
	if o.main != nil {
		if err := r.publishMain(ctx, deps, revTag); err != nil {
			return nil, err
		}
	}
	phase("total", start)
	return sum, nil
}

// run is the state of [Image] after the download: what the steps that
// pack and publish share.
type run struct {
	o          *options
	dir        string
	key        *cachekey.Result
	res        *modload.Result
	target     publish.Target
	base       publish.Artifact
	baseDigest *v1.Hash
	settings   *buildcache.Settings
	tag        publish.Tag
	platforms  []string
	spool      string
	sum        *Result
	phase      func(string, time.Time)
	// art is the deps image publishDeps published.
	art publish.Artifact
}

// publishDeps verifies the module cache, packs it, adds the build cache
// layer when asked and publishes the deps image under r.tag, then sets
// r.art. The cleanup it returns, even on an error, removes the build
// caches compiled.
func (r *run) publishDeps(ctx context.Context) (func(), error) {
	o, dir, res, target, sum, phase := r.o, r.dir, r.res, r.target, r.sum, r.phase
	key, base, baseDigest, bcSettings, tagOf, platforms, spool := r.key, r.base, r.baseDigest, r.settings, r.tag, r.platforms, r.spool
	tag := tagOf.String()
	var cleanups []func()
	cleanup := func() {
		for _, c := range cleanups {
			c()
		}
	}
	t := time.Now()
	o.progress(Progress{Phase: "verify", Total: len(res.Modules)})
	// The trees are hashed as they are packed, against go.sum: what is
	// published is what was verified, however the cache changes after this.
	ver, err := modload.Verify(ctx, dir, res, modload.TreesWhenRead())
	if err != nil {
		return cleanup, err
	}
	phase("verify", t)

	t = time.Now()
	layers, err := depsimage.Layers(res, ver,
		depsimage.WithBuckets(o.layers),
		depsimage.WithContents(o.contents),
		depsimage.WithCompression(o.compression),
		depsimage.WithSpoolDir(spool))
	if err != nil {
		return cleanup, err
	}
	packPhase := "pack"
	if pp, ok := target.(publish.Prepusher); ok {
		// Send each layer as soon as it is packed, while others pack.
		packPhase = "pack+upload"
		o.progress(Progress{Phase: packPhase, Total: len(layers)})
		ls := make([]v1.Layer, len(layers))
		for i, l := range depsimage.LargestFirst(layers) {
			ls[i] = l.Layer
		}
		if err := pp.Prepush(ctx, ls); err != nil {
			return cleanup, err
		}
	} else {
		o.progress(Progress{Phase: packPhase, Total: len(layers)})
		if _, err := depsimage.Pack(layers); err != nil {
			return cleanup, err
		}
	}
	mods := make([]module.Version, len(res.Modules))
	for i, m := range res.Modules {
		mods[i] = m.ModuleVersion()
	}
	md := depsimage.Metadata{
		Key:          key.Key,
		InputsDigest: depsimage.InputsDigest(key.Inputs),
		GoVersion:    res.GoVersion,
		Modules:      mods,
		Version:      o.version,
		Contents:     o.contents,
		Layers:       len(layers),
		MainModules:  MainModules(key),
	}
	if baseDigest != nil {
		md.BaseDigest = baseDigest.String()
	}
	var art publish.Artifact
	switch b := base.(type) {
	case nil:
		art, err = depsimage.Image(nil, layers, md)
	case v1.ImageIndex:
		art, err = depsimage.Index(b, layers, md)
	case v1.Image:
		art, err = depsimage.Image(b, layers, md)
	}
	if err != nil {
		return cleanup, err
	}
	phase(packPhase, t)
	if bcSettings != nil {
		t = time.Now()
		o.progress(Progress{Phase: "build-cache"})
		step := &buildCacheStep{target: target, tag: tagOf, compression: o.compression, spool: spool, reuse: !o.force, stderr: o.stderr, progress: o.progress}
		if idx, ok := base.(v1.ImageIndex); ok {
			out, sums, c, err := step.addIndex(ctx, dir, res, *bcSettings, art.(v1.ImageIndex), idx, platforms)
			if err != nil {
				return cleanup, err
			}
			cleanups = append(cleanups, c)
			art, sum.BuildCaches = out, sums
		} else {
			if b, ok := base.(v1.Image); ok {
				step.base, step.baseDigest = b, *baseDigest
			}
			sum.BuildCache = &BuildCache{}
			img, c, err := step.add(ctx, dir, res, *bcSettings, art.(v1.Image), sum.BuildCache)
			if err != nil {
				return cleanup, err
			}
			cleanups = append(cleanups, c)
			art = img
		}
		phase("build-cache", t)
	}

	t = time.Now()
	rep, err := target.Write(ctx, tag, art)
	if err != nil {
		return cleanup, err
	}
	if p, ok := target.(publish.Pruner); ok {
		if err := p.WriteStamp(ctx, tag, publish.Stamp{Digest: rep.Digest, Published: time.Now()}); err != nil {
			return cleanup, err
		}
	}
	phase("publish", t)
	for _, l := range layers {
		sum.Bytes.Raw += l.RawSize
		s, err := l.Size()
		if err != nil {
			return cleanup, err
		}
		sum.Bytes.Compressed += s
	}
	sum.Ref, sum.Digest = rep.Ref, rep.Digest.String()
	sum.Layers.New, sum.Layers.Reused = rep.Counts()
	sum.Bytes.Written = rep.BytesWritten
	r.art = art
	return cleanup, nil
}

// Tag returns the tag of the deps image of key on the base image of
// baseDigest (nil for none) with contents and, when s is not nil, the
// build cache of settings s in a single image (see [TagFor] for a
// multi-platform one).
func Tag(key cachekey.Key, baseDigest *v1.Hash, contents string, s *buildcache.Settings) publish.Tag {
	tag := publish.NewTag(key, baseDigest, contents)
	if s != nil {
		tag.BuildCache = buildcache.TagSuffix(*s)
	}
	return tag
}

// TagFor returns the tag warm publishes the deps image of key under, on
// base (nil for none) of digest baseDigest, with contents and, when s is
// not nil, the build cache of settings s for the platforms asked (see
// [WithPlatforms]; none for the default).
func TagFor(key cachekey.Key, base publish.Artifact, baseDigest *v1.Hash, contents string, s *buildcache.Settings, platforms []string) (publish.Tag, error) {
	tag, _, err := tagFor(key, base, baseDigest, contents, s, platforms)
	return tag, err
}

// tagFor is TagFor, which also returns the platforms of a multi-platform
// deps image's build caches, and sets *s to the one platform asked of a
// single image.
func tagFor(key cachekey.Key, base publish.Artifact, baseDigest *v1.Hash, contents string, s *buildcache.Settings, asked []string) (publish.Tag, []string, error) {
	var platforms []string
	if s != nil {
		var err error
		if platforms, err = buildCachePlatforms(base, s, asked); err != nil {
			return publish.Tag{}, nil, err
		}
	}
	tag := publish.NewTag(key, baseDigest, contents)
	if s != nil {
		suffix, err := buildcache.PlatformsTagSuffix(*s, platforms)
		if err != nil {
			return tag, nil, err
		}
		tag.BuildCache = suffix
	}
	return tag, platforms, nil
}

// adoptStamp stamps the image warm found (a hit) when it has no stamp: an
// image published before stamps, or whose stamp was lost, ages from now.
func adoptStamp(ctx context.Context, t publish.Target, tag string, desc v1.Descriptor) error {
	p, ok := t.(publish.Pruner)
	if !ok {
		return nil
	}
	_, err := p.ReadStamp(ctx, tag)
	if !errors.Is(err, publish.ErrNotFound) {
		return err
	}
	return p.WriteStamp(ctx, tag, publish.Stamp{Digest: desc.Digest, Published: time.Now()})
}
