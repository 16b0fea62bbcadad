package warm

import (
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestBuildCachePlatforms(t *testing.T) {
	img := func(arch string) v1.Image {
		i, err := random.Image(10, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := i.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		i, err = mutate.ConfigFile(i, cf)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img("amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: img("arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	base := buildcache.Settings{GoVersion: "go1.26.8", Trimpath: true}
	base.Normalize()
	for _, c := range []struct {
		name   string
		base   publish.Artifact
		asked  []string
		want   string // platforms returned, comma-separated
		goarch string // of the settings after
		err    string
	}{
		{"index, default", idx, nil, "linux/amd64", "amd64", ""},
		{"index, two", idx, []string{"linux/arm64/v8", "linux/amd64", "linux/arm64"}, "linux/amd64,linux/arm64", "amd64", ""},
		{"index, absent", idx, []string{"linux/s390x"}, "", "", "the base index has no image for it; it has linux/amd64, linux/arm64"},
		{"image, its own", img("arm64"), []string{"linux/arm64"}, "", "arm64", ""},
		{"image, other", img("amd64"), []string{"linux/arm64"}, "", "", "the base image is for linux/amd64"},
		{"image, two", img("amd64"), []string{"linux/arm64", "linux/amd64"}, "", "", "on a multi-platform --base"},
		{"none, one", nil, []string{"linux/arm64"}, "", "arm64", ""},
		{"bad", nil, []string{"arm64"}, "", "", "want OS/ARCH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := base
			got, err := buildCachePlatforms(c.base, &s, c.asked)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != c.want || s.GOARCH != c.goarch {
				t.Fatalf("got %v, %v, GOARCH=%s; want %s, GOARCH=%s", got, err, s.GOARCH, c.want, c.goarch)
			}
			if c.goarch != "amd64" && s.GOAMD64 != "" {
				t.Errorf("GOAMD64=%s kept for GOARCH=%s", s.GOAMD64, s.GOARCH)
			}
		})
	}
}

func TestPlatformsTagSuffix(t *testing.T) {
	s := buildcache.Settings{GoVersion: "go1.26.8", Trimpath: true}
	s.Normalize()
	arm := s
	arm.GOARCH, arm.GOAMD64 = "arm64", ""
	suffix := func(ps ...string) string {
		t.Helper()
		got, err := buildcache.PlatformsTagSuffix(s, ps)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, want := suffix(), buildcache.TagSuffix(s); got != want {
		t.Errorf("no platforms: %s, want the single image's %s", got, want)
	}
	if got, want := suffix("linux/arm64"), buildcache.TagSuffix(arm); got != want {
		t.Errorf("linux/arm64: %s, want that of the settings for arm64, %s", got, want)
	}
	two := suffix("linux/amd64", "linux/arm64")
	if two != suffix("linux/arm64", "linux/amd64") {
		t.Error("the suffix depends on the order of the platforms")
	}
	for _, other := range []string{suffix(), suffix("linux/arm64"), suffix("linux/amd64", "linux/arm64", "linux/ppc64le")} {
		if other == two {
			t.Errorf("linux/amd64,linux/arm64 has the suffix %s of another set of platforms", two)
		}
	}
}
