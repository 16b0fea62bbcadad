package warm_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
)

// TestImageAndNearest warms a module into an OCI layout (built, then a
// hit, then built again with WithForce) and finds that image as the
// nearest of a module that bumped one requirement.
func TestImageAndNearest(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	target, err := publish.ParseTarget("oci:" + filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var phases []string
	first, err := warm.Image(ctx, f.App, warm.WithTarget(target), warm.WithLayers(2),
		warm.WithProgress(func(p warm.Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	if first.Hit || first.Modules != 4 || first.Layers.New == 0 || first.Digest == "" || !strings.HasPrefix(first.Tag, "ck1-") || first.Target != target.String() {
		t.Errorf("first warm = %+v; want 4 modules built into new layers under a ck1- tag of %s", first, target)
	}
	if want := []string{"download", "verify", "pack"}; !slices.Equal(phases, want) {
		t.Errorf("progress phases = %q, want %q", phases, want)
	}
	for _, p := range []string{"lookup", "download", "verify", "pack", "publish", "total"} {
		if _, ok := first.Seconds[p]; !ok {
			t.Errorf("Seconds has no %q: %v", p, first.Seconds)
		}
	}

	again, err := warm.Image(ctx, f.App, warm.WithTarget(target))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Hit || again.Digest != first.Digest || again.Tag != first.Tag || again.Modules != 0 {
		t.Errorf("second warm = %+v; want a hit on %s %s", again, first.Tag, first.Digest)
	}
	forced, err := warm.Image(ctx, f.App, warm.WithTarget(target), warm.WithForce(true), warm.WithLayers(2))
	if err != nil {
		t.Fatal(err)
	}
	if forced.Hit || forced.Digest != first.Digest || forced.Layers.New != 0 {
		t.Errorf("forced warm = %+v; want the same image built again, every layer reused", forced)
	}

	// The bumped module has no image of its own; the first is nearest,
	// holding all its modules but example.com/a.
	bumped := modloadtest.NewFixture(t, "v1.1.0")
	key, err := cachekey.ComputeDir(bumped.App)
	if err != nil {
		t.Fatal(err)
	}
	tag := warm.Tag(key.Key, nil, depsimage.DefaultContents, nil)
	if tag.String() == first.Tag {
		t.Fatalf("the bumped module has the tag %s of the first", tag)
	}
	near, err := warm.Nearest(ctx, target, tag, key)
	if err != nil {
		t.Fatal(err)
	}
	if near == nil || near.Tag.String() != first.Tag || near.Shared != 3 || near.Wanted != 4 {
		t.Errorf("Nearest = %+v; want %s holding 3 of 4 modules", near, first.Tag)
	}
	// Only images with the same contents are candidates.
	if near, err := warm.Nearest(ctx, target, warm.Tag(key.Key, nil, depsimage.ContentsZips, nil), key); err != nil || near != nil {
		t.Errorf("Nearest with zips contents = %+v, %v; want none", near, err)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  warm.Option
		want string
	}{
		{"layers", warm.WithLayers(0), "layers 0 is out of range 1-100"},
		{"stall timeout", warm.WithStallTimeout(-1), "stall timeout -1ns is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := warm.Image(context.Background(), t.TempDir(), tc.opt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Image: %v, want %q", err, tc.want)
			}
		})
	}
}
