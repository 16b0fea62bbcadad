package warm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/mod/module"
)

// keyOf computes the key of a module requiring mods (path@version), with
// a go.sum line for the content of each.
func keyOf(t *testing.T, mods ...string) *cachekey.Result {
	t.Helper()
	var gomod, gosum strings.Builder
	gomod.WriteString("module example.com/app\n\ngo 1.22\n")
	for i, m := range mods {
		path, version, _ := strings.Cut(m, "@")
		fmt.Fprintf(&gomod, "require %s %s\n", path, version)
		h := fmt.Sprintf("h1:%043d=", i)
		fmt.Fprintf(&gosum, "%s %s %s\n%s %s/go.mod %s\n", path, version, h, path, version, h)
	}
	res, err := cachekey.Compute(fstest.MapFS{
		"app/go.mod": {Data: []byte(gomod.String())},
		"app/go.sum": {Data: []byte(gosum.String())},
	}, "app")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// publishDeps writes a deps image of key holding mods under tag, with the
// build cache labels of s when not nil.
func publishDeps(t *testing.T, target publish.Target, tag publish.Tag, key *cachekey.Result, s *buildcache.Settings, mods ...string) {
	t.Helper()
	md := depsimage.Metadata{Key: key.Key, InputsDigest: depsimage.InputsDigest(key.Inputs), Contents: depsimage.DefaultContents}
	for _, m := range mods {
		path, version, _ := strings.Cut(m, "@")
		md.Modules = append(md.Modules, module.Version{Path: path, Version: version})
	}
	img, err := depsimage.Image(nil, nil, md)
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		labels := buildcache.Labels(*s)
		labels[buildcache.LabelPackages] = "57"
		if img, err = depsimage.Label(img, func(*v1.ConfigFile) {}, labels, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := target.Write(context.Background(), tag.String(), img); err != nil {
		t.Fatal(err)
	}
}

// TestLookup looks keys up in go-containerregistry's in-memory registry:
// the key published (exact), a key sharing modules with one published
// (nearest, unless WithNearest(false)), and keys sharing nothing, or only
// images on another build cache (none).
func TestLookup(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	target, err := publish.ParseTarget(strings.TrimPrefix(srv.URL, "http://")+"/app-deps", publish.WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	settings := buildcache.Settings{GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", CGOEnabled: "0", Trimpath: true}
	settings.Normalize()

	published := keyOf(t, "example.com/a@v1.0.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0")
	publishDeps(t, target, warm.Tag(published.Key, nil, depsimage.DefaultContents, nil), published, nil,
		"example.com/a@v1.0.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0")
	withCache := keyOf(t, "example.com/d@v1.0.0")
	publishDeps(t, target, warm.Tag(withCache.Key, nil, depsimage.DefaultContents, &settings), withCache, &settings, "example.com/d@v1.0.0")

	bumped := keyOf(t, "example.com/a@v1.1.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0")
	unrelated := keyOf(t, "example.com/z@v1.0.0")
	dBumped := keyOf(t, "example.com/d@v1.0.0", "example.com/e@v1.0.0")
	for _, tc := range []struct {
		name     string
		key      *cachekey.Result
		settings *buildcache.Settings
		opts     []warm.LookupOption
		match    warm.Match
		tag      *cachekey.Result // the key of the image found
		shared   int
		wanted   int
		packages int // of the build cache found; 0 for none
	}{
		{name: "exact", key: published, match: warm.MatchExact, tag: published},
		{name: "exact with build cache", key: withCache, settings: &settings, match: warm.MatchExact, tag: withCache, packages: 57},
		{name: "nearest", key: bumped, match: warm.MatchNearest, tag: published, shared: 2, wanted: 3},
		{name: "nearest with build cache", key: dBumped, settings: &settings, match: warm.MatchNearest, tag: withCache, shared: 1, wanted: 2, packages: 57},
		{name: "nearest off", key: bumped, opts: []warm.LookupOption{warm.WithNearest(false)}, match: warm.MatchNone},
		{name: "none shared", key: unrelated, match: warm.MatchNone},
		// The image of d has a build cache: it is no candidate without one.
		{name: "none on this build cache", key: dBumped, match: warm.MatchNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := warm.Tag(tc.key.Key, nil, depsimage.DefaultContents, tc.settings)
			found, err := warm.Lookup(context.Background(), target, tag, tc.key, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if found.Match != tc.match || found.Shared != tc.shared || found.Wanted != tc.wanted || found.Incomplete != nil {
				t.Errorf("Lookup = %s, %d of %d modules, incomplete %v; want %s, %d of %d", found.Match, found.Shared, found.Wanted, found.Incomplete, tc.match, tc.shared, tc.wanted)
			}
			bc, err := found.BuildCache()
			if err != nil {
				t.Fatal(err)
			}
			if tc.match == warm.MatchNone {
				if found.Ref != "" || bc != nil {
					t.Errorf("Lookup found nothing, but Ref = %q, build cache %+v", found.Ref, bc)
				}
				return
			}
			want := warm.Tag(tc.tag.Key, nil, depsimage.DefaultContents, tc.settings)
			if found.Tag != want {
				t.Errorf("found %s, want %s", found.Tag, want)
			}
			if wantRef := target.Ref(want.String(), found.Descriptor); found.Ref != wantRef || !strings.Contains(found.Ref, want.String()+"@sha256:") {
				t.Errorf("Ref = %q, want %q", found.Ref, wantRef)
			}
			switch {
			case tc.packages == 0 && bc != nil:
				t.Errorf("build cache %+v, want none", bc)
			case tc.packages != 0 && (bc == nil || bc.Packages != tc.packages || bc.Settings.Digest() != settings.Digest()):
				t.Errorf("build cache %+v, want %d packages for %s", bc, tc.packages, settings)
			}
		})
	}
}

// TestLookupErrors: a registry refusing the manifest fails the lookup;
// one refusing the list of tags fails the search for the nearest image
// with a NearestError.
func TestLookupErrors(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	key := keyOf(t, "example.com/a@v1.0.0")
	tag := warm.Tag(key.Key, nil, depsimage.DefaultContents, nil)
	for _, tc := range []struct {
		name, refuse string // the requests refused, by path
		nearest      bool
	}{
		{"manifest", "/manifests/", false},
		{"tags", "/tags/list", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, tc.refuse) {
					http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
					return
				}
				reg.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			target, err := publish.ParseTarget(strings.TrimPrefix(srv.URL, "http://")+"/app-deps", publish.WithInsecure(true))
			if err != nil {
				t.Fatal(err)
			}
			found, err := warm.Lookup(context.Background(), target, tag, key)
			var ne *warm.NearestError
			if err == nil || errors.As(err, &ne) != tc.nearest {
				t.Fatalf("Lookup = %+v, %v; want an error, a NearestError: %v", found, err, tc.nearest)
			}
			if tc.nearest && (found == nil || found.Match != warm.MatchNone || !strings.Contains(err.Error(), "listing "+target.String()+" for the nearest image: ")) {
				t.Errorf("Lookup = %+v, %v; want no match and the listing error", found, err)
			}
		})
	}
}

// TestLookupIndexBuildCaches publishes a multi-platform deps image (an
// index of images for linux/amd64 and linux/arm64 with a build cache, and
// one for linux/s390x its annotation marks as without) to the in-memory
// registry and to an OCI layout: BuildCaches reads each platform's labels,
// in the index's order, and passes over the one without.
func TestLookupIndexBuildCaches(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg, err := publish.ParseTarget(strings.TrimPrefix(srv.URL, "http://")+"/app-deps", publish.WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	lay, err := publish.ParseTarget("oci:" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := keyOf(t, "example.com/a@v1.0.0")
	md := depsimage.Metadata{Key: key.Key, InputsDigest: depsimage.InputsDigest(key.Inputs), Contents: depsimage.DefaultContents,
		Modules: []module.Version{{Path: "example.com/a", Version: "v1.0.0"}}}
	var adds []mutate.IndexAddendum
	for i, arch := range []string{"amd64", "arm64", "s390x"} {
		img, err := depsimage.Image(nil, nil, md)
		if err != nil {
			t.Fatal(err)
		}
		d := v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}
		if arch == "s390x" {
			// Labelled, as an image of the base may be: the annotation
			// alone says it has no build cache.
			d.Annotations = map[string]string{buildcache.LabelAbsent: "not asked"}
		}
		s := buildcache.Settings{GoVersion: "go1.27.3", GOOS: "linux", GOARCH: arch, CGOEnabled: "0", Trimpath: true}
		s.Normalize()
		labels := buildcache.Labels(s)
		labels[buildcache.LabelPackages] = fmt.Sprint(50 + i)
		if img, err = depsimage.Label(img, func(*v1.ConfigFile) {}, labels, nil); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: d})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	tag := warm.Tag(key.Key, nil, depsimage.DefaultContents, nil)
	tag.BuildCache = "bc0123456789ab"
	for _, target := range []publish.Target{reg, lay} {
		t.Run(target.String(), func(t *testing.T) {
			if _, err := target.Write(context.Background(), tag.String(), idx); err != nil {
				t.Fatal(err)
			}
			found, err := warm.Lookup(context.Background(), target, tag, key)
			if err != nil || found.Match != warm.MatchExact {
				t.Fatalf("Lookup: %+v, %v", found, err)
			}
			bcs, err := found.BuildCaches()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, bc := range bcs {
				got = append(got, fmt.Sprintf("%s %s %d", bc.Platform, bc.Settings.GOARCH, bc.Packages))
			}
			if want := []string{"linux/amd64 amd64 50", "linux/arm64 arm64 51"}; !slices.Equal(got, want) {
				t.Errorf("BuildCaches = %q; want %q", got, want)
			}
		})
	}
}
