package warm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Near is the published deps image nearest to a key.
type Near struct {
	publish.Entry
	// Shared is how many of the Wanted modules (those whose content
	// go.sum lists) the image holds.
	Shared, Wanted int
}

// wantedModules returns the modules whose content go.sum lists (not only
// their go.mod), as path@version: what 'go mod download' fetches.
func wantedModules(res *cachekey.Result) map[string]bool {
	want := map[string]bool{}
	for _, line := range res.Inputs {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "sum" && !strings.HasSuffix(f[2], "/go.mod") {
			want[f[1]+"@"+f[2]] = true
		}
	}
	return want
}

// Nearest returns the deps image in target on the same base, with the
// same contents and the same build cache suffix (or none) as tag that
// holds the most of the modules key's go.sum names, or nil when none
// holds any. Ties go to the image holding fewer other modules, then to the
// first tag in order. Incomplete images, and images tagged like deps
// images that hold no deps image metadata, are passed over.
func Nearest(ctx context.Context, target publish.Target, tag publish.Tag, key *cachekey.Result) (*Near, error) {
	want := wantedModules(key)
	entries, err := target.List(ctx)
	if err != nil {
		return nil, err
	}
	var best *Near
	bestExtra := 0
	for _, e := range entries {
		if e.Tag.Base != tag.Base || e.Tag.Contents != tag.Contents || e.Tag.BuildCache != tag.BuildCache || e.Tag.Revision != "" {
			continue
		}
		if _, err := target.Lookup(ctx, e.Tag.String()); errors.Is(err, publish.ErrNotFound) {
			continue // incomplete: no client could copy it
		} else if err != nil {
			return nil, err
		}
		img, err := e.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", e.Tag, target, err)
		}
		md, err := depsimage.ReadMetadata(img)
		if err != nil {
			continue // not a deps image, though tagged like one
		}
		shared := 0
		for _, m := range md.Modules {
			if want[m.Path+"@"+m.Version] {
				shared++
			}
		}
		extra := len(md.Modules) - shared
		if best == nil && shared > 0 || best != nil && (shared > best.Shared || shared == best.Shared && extra < bestExtra) {
			best, bestExtra = &Near{Entry: e, Shared: shared, Wanted: len(want)}, extra
		}
	}
	return best, nil
}

// Match says what [Lookup] found.
type Match string

const (
	// MatchExact is the image tagged for the key.
	MatchExact Match = "exact"
	// MatchNearest is the image of another key that holds the most of
	// the key's modules (see [Nearest]).
	MatchNearest Match = "nearest"
	// MatchNone is nothing found.
	MatchNone Match = "none"
)

// Found is what [Lookup] found for a tag in a target.
type Found struct {
	// Match is how the image was found; MatchNone leaves Entry and
	// Ref zero.
	Match Match
	// Entry is the image found: for MatchExact the tag looked up.
	publish.Entry
	// Ref is the reference to the image, as [publish.Target.Ref]
	// gives it.
	Ref string
	// Shared and Wanted count modules for MatchNearest: how many of the
	// modules go.sum names (Wanted) the image holds.
	Shared, Wanted int
	// Incomplete is set when the target holds the tag looked up, but not
	// all of its blobs: the image was passed over, and a warm rebuilds it.
	Incomplete *publish.IncompleteError

	// index reads the index found; nil for a single image.
	index func() (v1.ImageIndex, error)
}

// NearestError is [Lookup] failing to search the target for the nearest
// image, once it knew the exact tag missing.
type NearestError struct {
	Target string
	Err    error
}

func (e *NearestError) Error() string {
	return fmt.Sprintf("listing %s for the nearest image: %v", e.Target, e.Err)
}

func (e *NearestError) Unwrap() error { return e.Err }

// LookupOption configures [Lookup].
type LookupOption func(*lookupOptions)

type lookupOptions struct {
	nearest bool
}

// WithNearest says whether Lookup searches for the nearest image when
// the target does not hold the tag. The default is true.
func WithNearest(on bool) LookupOption {
	return func(o *lookupOptions) { o.nearest = on }
}

// Lookup finds the deps image for key's tag in target: the image tagged
// tag (a complete one), else the nearest (see [Nearest]), else none. An
// error is the target failing to answer; searching for the nearest image
// fails with a [*NearestError].
func Lookup(ctx context.Context, target publish.Target, tag publish.Tag, key *cachekey.Result, opts ...LookupOption) (*Found, error) {
	o := lookupOptions{nearest: true}
	for _, opt := range opts {
		opt(&o)
	}
	name := tag.String()
	desc, err := target.Lookup(ctx, name)
	switch {
	case err == nil:
		return &Found{
			Match: MatchExact,
			Entry: publish.Entry{Tag: tag, Descriptor: *desc, Image: func() (v1.Image, error) {
				return target.Image(ctx, name, *desc)
			}},
			Ref:   target.Ref(name, *desc),
			index: indexOf(ctx, target, name, *desc),
		}, nil
	case !errors.Is(err, publish.ErrNotFound):
		return nil, err
	}
	f := &Found{Match: MatchNone}
	errors.As(err, &f.Incomplete)
	if !o.nearest {
		return f, nil
	}
	near, err := Nearest(ctx, target, tag, key)
	if err != nil {
		return f, &NearestError{Target: target.String(), Err: err}
	}
	if near != nil {
		f.Match, f.Entry, f.Ref = MatchNearest, near.Entry, target.Ref(near.Tag.String(), near.Descriptor)
		f.Shared, f.Wanted = near.Shared, near.Wanted
		f.index = indexOf(ctx, target, near.Tag.String(), near.Descriptor)
	}
	return f, nil
}

// Exact returns what [Lookup] returns when it finds the entry e of
// target: for an entry found otherwise, as [OnAnyBase] finds them.
func Exact(ctx context.Context, target publish.Target, e publish.Entry) *Found {
	name := e.Tag.String()
	return &Found{Match: MatchExact, Entry: e, Ref: target.Ref(name, e.Descriptor), index: indexOf(ctx, target, name, e.Descriptor)}
}

// indexOf returns the function reading the index desc tagged tag; nil
// when desc is a single image.
func indexOf(ctx context.Context, target publish.Target, tag string, desc v1.Descriptor) func() (v1.ImageIndex, error) {
	if !desc.MediaType.IsIndex() {
		return nil
	}
	return func() (v1.ImageIndex, error) { return target.Index(ctx, tag, desc) }
}

// ImageBuildCache is what the labels of a deps image say of its build
// cache: the settings it was compiled for and how many packages it holds.
type ImageBuildCache struct {
	// Platform is the image's "os/arch" in a multi-platform deps image;
	// "" for a single image.
	Platform string
	Settings buildcache.Settings
	Packages int
	// Main is what the labels say of the main module's layer of
	// [WithMainModule]; nil for none.
	Main *buildcache.MainPublished
}

// ReadBuildCache reads the build cache labels of a deps image; nil when
// it has no build cache.
func ReadBuildCache(img v1.Image) (*ImageBuildCache, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	s, ok, err := buildcache.ReadSettings(cf.Config.Labels)
	if err != nil || !ok {
		return nil, err
	}
	n, _ := strconv.Atoi(cf.Config.Labels[buildcache.LabelPackages])
	m, err := buildcache.ReadMain(cf.Config.Labels)
	if err != nil {
		return nil, err
	}
	return &ImageBuildCache{Settings: s, Packages: n, Main: m}, nil
}

// BuildCache reads the build cache labels of the image found; nil when
// it has none, or nothing was found.
func (f *Found) BuildCache() (*ImageBuildCache, error) {
	if f.Match == MatchNone {
		return nil, nil
	}
	img, err := f.Image()
	if err != nil {
		return nil, err
	}
	return ReadBuildCache(img)
}

// BuildCaches reads the build cache labels of each image of the deps
// image found: of the one image, or of each platform's image of an index
// that has a build cache (not those its annotation
// [buildcache.LabelAbsent] marks), with Platform set, in the index's
// order. It returns none when nothing was found or no image has one.
func (f *Found) BuildCaches() ([]*ImageBuildCache, error) {
	if f.Match == MatchNone {
		return nil, nil
	}
	if f.index == nil {
		bc, err := f.BuildCache()
		if bc == nil || err != nil {
			return nil, err
		}
		return []*ImageBuildCache{bc}, nil
	}
	idx, err := f.index()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var out []*ImageBuildCache
	for _, d := range im.Manifests {
		p := platformOf(d)
		if p == "" || d.Annotations[buildcache.LabelAbsent] != "" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading the image for %s: %w", p, err)
		}
		bc, err := ReadBuildCache(img)
		if err != nil {
			return nil, fmt.Errorf("the image for %s: %w", p, err)
		}
		if bc != nil {
			bc.Platform = p
			out = append(out, bc)
		}
	}
	return out, nil
}
