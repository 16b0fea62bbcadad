package warm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
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
		if e.Tag.Base != tag.Base || e.Tag.Contents != tag.Contents || e.Tag.BuildCache != tag.BuildCache {
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
