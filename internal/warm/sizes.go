package warm

import (
	"context"
	"fmt"
	"slices"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
)

// SizeOf is a module or workspace whose published size [PublishedSizes]
// looks up.
type SizeOf struct {
	Key *cachekey.Result
	// Tag is the tag its image has now: images with its contents and, if
	// it has one, a build cache are weighed.
	Tag publish.Tag
}

// Size is the published size of a module or workspace.
type Size struct {
	// Bytes is the compressed size of its image (manifest, config and
	// layers); 0 when none was found.
	Bytes int64
	// Tag is the image's tag, "" for none.
	Tag string
}

// PublishedSizes returns, for each unit, the size of its last published
// image in target: of the images with its main modules (and its contents,
// with a build cache or without as asked), the one sharing the most
// modules with its go.sum. Images of the keys of units are passed over:
// the jobs of a CI matrix read the target while others publish those,
// and must all see the same sizes to split the work the same way. It reads
// the config of every deps image in target once.
func PublishedSizes(ctx context.Context, target publish.Target, units []SizeOf) ([]Size, error) {
	entries, err := target.List(ctx)
	if err != nil {
		return nil, err
	}
	current := map[cachekey.Key]bool{}
	for _, u := range units {
		current[u.Key.Key] = true
	}
	type published struct {
		tag     publish.Tag
		main    string
		modules map[string]bool
		bytes   int64
	}
	var pubs []published
	for _, e := range entries {
		if current[e.Tag.Key] {
			continue
		}
		img, err := e.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", e.Tag, target, err)
		}
		md, err := depsimage.ReadMetadata(img)
		if err != nil || len(md.MainModules) == 0 {
			continue // not a deps image, or one from before main modules were recorded
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s in %s: %w", e.Tag, target, err)
		}
		size := e.Descriptor.Size + m.Config.Size
		for _, l := range m.Layers {
			size += l.Size
		}
		mods := map[string]bool{}
		for _, mv := range md.Modules {
			mods[mv.Path+"@"+mv.Version] = true
		}
		pubs = append(pubs, published{tag: e.Tag, main: fmt.Sprint(md.MainModules), modules: mods, bytes: size})
	}
	// In tag order, so that ties go the same way on every job.
	slices.SortFunc(pubs, func(a, b published) int {
		if a.tag.String() < b.tag.String() {
			return -1
		}
		return 1
	})
	out := make([]Size, len(units))
	for i, u := range units {
		main := fmt.Sprint(MainModules(u.Key))
		want := wantedModules(u.Key)
		best := -1
		for _, p := range pubs {
			if p.main != main || p.tag.Contents != u.Tag.Contents || (p.tag.BuildCache != "") != (u.Tag.BuildCache != "") {
				continue
			}
			shared := 0
			for m := range want {
				if p.modules[m] {
					shared++
				}
			}
			if shared > best {
				best, out[i] = shared, Size{Bytes: p.bytes, Tag: p.tag.String()}
			}
		}
	}
	return out, nil
}

// Weights returns what a shard split weighs each unit by: the bytes of
// its published image, or, for a unit with none, its module count times
// the mean bytes per module of those with one (the module count alone
// when none has one, and then perModule is 0).
func Weights(units []SizeOf, sizes []Size) (w []float64, perModule float64) {
	var bytes, modules float64
	for i, s := range sizes {
		if s.Bytes > 0 {
			bytes += float64(s.Bytes)
			modules += float64(max(1, len(wantedModules(units[i].Key))))
		}
	}
	if modules > 0 {
		perModule = bytes / modules
	}
	w = make([]float64, len(units))
	for i, s := range sizes {
		if s.Bytes > 0 {
			w[i] = float64(s.Bytes)
		} else {
			w[i] = float64(max(1, len(wantedModules(units[i].Key)))) * max(perModule, 1)
		}
	}
	return w, perModule
}
