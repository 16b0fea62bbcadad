package warm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// buildCachePlatforms checks the platforms asked for the build cache
// ([WithPlatforms]) against the base. For a multi-platform base it
// returns them, normalized ("linux/arm64") and sorted, or the settings'
// own platform when none was asked. For a single image, or none, it
// returns nil, having set s to the one platform asked, which must be the
// image's.
func buildCachePlatforms(base publish.Artifact, s *buildcache.Settings, asked []string) ([]string, error) {
	var platforms []string
	for _, p := range asked {
		goos, goarch, err := buildcache.ParsePlatform(p)
		if err != nil {
			return nil, err
		}
		platforms = append(platforms, goos+"/"+goarch)
	}
	slices.Sort(platforms)
	platforms = slices.Compact(platforms)
	idx, ok := base.(v1.ImageIndex)
	if !ok {
		switch {
		case len(platforms) > 1:
			return nil, fmt.Errorf("--platform names %s, but the base is a single image (or none): build caches for several platforms go into a multi-platform deps image, on a multi-platform --base", strings.Join(platforms, ", "))
		case len(platforms) == 0:
			return nil, nil
		}
		sp, err := buildcache.ForPlatform(*s, platforms[0])
		if err != nil {
			return nil, err
		}
		if img, ok := base.(v1.Image); ok {
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, fmt.Errorf("reading the base image's config: %w", err)
			}
			if have := cf.OS + "/" + cf.Architecture; cf.Architecture != "" && have != platforms[0] {
				return nil, fmt.Errorf("--platform %s: the base image is for %s; give the base's multi-platform index, or leave out --platform", platforms[0], have)
			}
		}
		*s = sp
		return nil, nil
	}
	if len(platforms) == 0 {
		platforms = []string{buildcache.Platform(*s)}
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the base index: %w", err)
	}
	var have []string
	for _, d := range im.Manifests {
		if p := platformOf(d); p != "" {
			have = append(have, p)
		}
	}
	for _, p := range platforms {
		if !slices.Contains(have, p) {
			return nil, fmt.Errorf("--platform %s: the base index has no image for it; it has %s", p, strings.Join(have, ", "))
		}
	}
	return platforms, nil
}

// platformOf returns "os/arch" of an image in an index, as
// [depsimage.Index] keeps it: "" for an index, an attestation ("unknown")
// or an image without a platform.
func platformOf(d v1.Descriptor) string {
	if !d.MediaType.IsImage() || d.Platform == nil || d.Platform.OS == "unknown" {
		return ""
	}
	if d.Platform.Architecture == "arm64" && d.Platform.Variant != "" && d.Platform.Variant != "v8" {
		return ""
	}
	return d.Platform.OS + "/" + d.Platform.Architecture
}

// addIndex is [buildCacheStep.add] on a multi-platform base: idx is the
// deps index on base, and the image of each of platforms gets the build
// cache layer compiled with s for its platform. The toolchain is the Go
// installation of the base's image for that platform when this machine
// runs it; else that of the base's image for this machine's architecture,
// cross-compiling (the same release: the go command keys a release's
// tools by their version line, so the platform's own toolchain hits the
// entries, as TestCrossCompiledHitsNative shows, and cross-compiling
// takes seconds where the arm64 toolchain under qemu takes minutes); else
// the go command here. The other images get none, and an annotation
// ([buildcache.LabelAbsent]) says so; the index's annotation
// [buildcache.LabelPlatforms] lists the platforms that have one. The
// layer of another tag's image is not reused for an index.
func (b *buildCacheStep) addIndex(ctx context.Context, dir string, res *modload.Result, s buildcache.Settings, idx, base v1.ImageIndex, platforms []string) (_ v1.ImageIndex, _ []*BuildCache, _ func(), err error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the deps index: %w", err)
	}
	var cleanups []func()
	cleanup := func() {
		for _, c := range cleanups {
			c()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	var sums []*BuildCache
	var adds []mutate.IndexAddendum
	done := map[string]bool{}
	for _, desc := range im.Manifests {
		child, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading the deps image %s: %w", desc.Digest, err)
		}
		p := platformOf(desc)
		d := v1.Descriptor{Platform: desc.Platform, Annotations: maps.Clone(desc.Annotations)}
		if p == "" || !slices.Contains(platforms, p) || done[p] {
			if p != "" {
				if d.Annotations == nil {
					d.Annotations = map[string]string{}
				}
				d.Annotations[buildcache.LabelAbsent] = fmt.Sprintf("no build cache for %s: warm --build-cache --platform did not name it", p)
			}
			adds = append(adds, mutate.IndexAddendum{Add: child, Descriptor: d})
			continue
		}
		done[p] = true
		sp, err := buildcache.ForPlatform(s, p)
		if err != nil {
			return nil, nil, nil, err
		}
		c, err := toolchainFor(ctx, base, p)
		if err != nil {
			return nil, nil, nil, err
		}
		sum := &BuildCache{Platform: p}
		out, done, err := b.compileOn(ctx, dir, res, sp, child, c, sum)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("platform %s: %w", p, err)
		}
		cleanups = append(cleanups, done)
		sums = append(sums, sum)
		adds = append(adds, mutate.IndexAddendum{Add: out, Descriptor: d})
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, nil, nil, err
	}
	out := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
	ann := maps.Clone(im.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[buildcache.LabelPlatforms] = strings.Join(platforms, ",")
	return mutate.Annotations(out, ann).(v1.ImageIndex), sums, cleanup, nil
}
