package warm

import (
	"context"
	"errors"

	"github.com/cachecheck/cachecheck/internal/publish"
)

// OnAnyBase returns the complete deps images in target tagged for tag's
// key and contents on any base (scratch too): the lookup of a reader that
// does not know which --base the nightly warm used, since a tag carries
// only the first digits of its base's digest. See [anyBase] for which
// build caches qualify and their order.
func OnAnyBase(ctx context.Context, target publish.Target, tag publish.Tag) ([]publish.Entry, error) {
	entries, err := target.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []publish.Entry
	for _, e := range anyBase(entries, tag) {
		if _, err := target.Lookup(ctx, e.Tag.String()); errors.Is(err, publish.ErrNotFound) {
			continue // incomplete: no client could copy it
		} else if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// anyBase picks from entries those of tag's key and contents, on any
// base, without a revision (the main module's layer of warm
// --build-cache=all, which [Newest] finds). Without a build cache in tag, only the images without one; with
// one, first the images with the same build cache suffix, then those with
// another build cache (whose settings the caller compares: the settings
// of a reader without the base image lack its exact Go release). Within
// each group the entries keep their order.
func anyBase(entries []publish.Entry, tag publish.Tag) []publish.Entry {
	var same, other []publish.Entry
	for _, e := range entries {
		switch {
		case e.Tag.Key != tag.Key || e.Tag.Contents != tag.Contents || e.Tag.Revision != "":
		case e.Tag.BuildCache == tag.BuildCache:
			same = append(same, e)
		case tag.BuildCache != "" && e.Tag.BuildCache != "":
			other = append(other, e)
		}
	}
	return append(same, other...)
}
