package warm_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestBuildCacheReuse warms a module with a build cache (full contents),
// then with zips contents and the same settings, into an OCI layout and a
// registry: the second reuses the first's build cache layer without
// compiling, and its image is the one a compile (--force) publishes, byte
// for byte. When anything a fresh compile depends on differs, warm
// compiles.
func TestBuildCacheReuse(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	// The standard library packages of fmt would take most of each
	// compile; the key (go.mod and go.sum) is the same without them.
	modloadtest.WriteModule(t, f.App, f.Env, map[string]string{"main.go": `package main

import (
	"corp.example/p"
	"example.com/a"
	"example.com/b"
)

func main() { println(a.A(), b.B(), p.P()) }
`})
	ctx := context.Background()
	s := buildcache.Settings{Trimpath: true, CGOEnabled: "0"}
	settings := func(s buildcache.Settings) warm.Option {
		return warm.WithBuildCache(func(publish.Artifact) (*buildcache.Settings, error) { return &s, nil })
	}
	run := func(t *testing.T, target publish.Target, opts ...warm.Option) (*warm.Result, error) {
		t.Helper()
		var stderr strings.Builder
		var from string
		progress := warm.WithProgress(func(p warm.Progress) {
			if p.Phase == "build-cache" && p.From != "" {
				from = p.From
			}
		})
		r, err := warm.Image(ctx, f.App, append([]warm.Option{warm.WithTarget(target), warm.WithLayers(2), warm.WithStderr(&stderr), progress}, opts...)...)
		if err != nil {
			return nil, err
		}
		if r.BuildCache == nil {
			t.Fatalf("warm: no build cache")
		}
		if reused := r.BuildCache.ReusedFrom; reused != "" && !strings.Contains(stderr.String(), "build cache: reusing the layer of "+reused) {
			t.Errorf("warm reused %s and said on stderr %q", reused, stderr.String())
		}
		if from != r.BuildCache.ReusedFrom {
			t.Errorf("warm reused %q, its progress said %q", r.BuildCache.ReusedFrom, from)
		}
		return r, nil
	}
	mustRun := func(t *testing.T, target publish.Target, opts ...warm.Option) *warm.Result {
		t.Helper()
		r, err := run(t, target, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	zips := warm.WithContents(depsimage.ContentsZips)

	layout := parseTarget(t, "oci:"+filepath.Join(t.TempDir(), "oci"))
	compiles := warm.HookCompile(t, true)
	full := mustRun(t, layout, settings(s))
	if *compiles != 1 || full.BuildCache.ReusedFrom != "" {
		t.Fatalf("first warm: %d compiles, reused from %q; want one compile", *compiles, full.BuildCache.ReusedFrom)
	}
	fullImg := image(t, layout, full.Tag)

	t.Run("oci layout", func(t *testing.T) {
		z := mustRun(t, layout, settings(s), zips)
		if *compiles != 1 || z.BuildCache.ReusedFrom != full.Ref {
			t.Errorf("zips warm: %d compiles, reused from %q; want none, the layer of %s", *compiles, z.BuildCache.ReusedFrom, full.Ref)
		}
		checkReused(t, full, z, layout)
		// A compile gives the same image: the reused layer's config and
		// manifest are what compiling writes.
		forced := mustRun(t, layout, settings(s), zips, warm.WithForce(true))
		if *compiles != 2 || forced.BuildCache.ReusedFrom != "" {
			t.Errorf("forced warm: %d compiles, reused from %q; want a second compile", *compiles, forced.BuildCache.ReusedFrom)
		}
		if forced.Digest != z.Digest {
			t.Errorf("compiled zips image %s, reused %s; want the same image", forced.Digest, z.Digest)
		}
	})

	t.Run("registry", func(t *testing.T) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		reg := parseTarget(t, strings.TrimPrefix(srv.URL, "http://")+"/app-deps", publish.WithInsecure(true))
		rfull := publishImage(t, reg, full.Tag, fullImg)
		n := *compiles
		z := mustRun(t, reg, settings(s), zips)
		if *compiles != n || z.BuildCache.ReusedFrom != rfull {
			t.Errorf("zips warm: %d compiles, reused from %q; want none, the layer of %s", *compiles-n, z.BuildCache.ReusedFrom, rfull)
		}
		checkReused(t, full, z, reg)
	})

	// Each case holds the full image, perhaps changed, under its tag in a
	// new layout, and warms zips contents: warm must compile.
	relabel := func(edit func(labels map[string]string)) func(t *testing.T) v1.Image {
		return func(t *testing.T) v1.Image {
			cf, err := fullImg.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			labels := map[string]string{}
			for k, v := range cf.Config.Labels {
				labels[k] = v
			}
			edit(labels)
			img, err := depsimage.Label(fullImg, func(*v1.ConfigFile) {}, labels, nil)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	otherGo := s
	otherGo.GoVersion = "go1.21.0"
	otherGo.Normalize()
	netgo := s
	netgo.Tags = []string{"netgo"}
	for _, tc := range []struct {
		name  string
		image func(t *testing.T) v1.Image
		opts  []warm.Option
	}{
		{"other settings", nil, []warm.Option{settings(netgo)}},
		{"other compression", nil, []warm.Option{settings(s), warm.WithCompression(depsimage.Zstd)}},
		{"other Go release", relabel(func(l map[string]string) {
			pkgs, bytes := l[buildcache.LabelPackages], l[buildcache.LabelBytes]
			for k, v := range buildcache.Labels(otherGo) {
				l[k] = v
			}
			l[buildcache.LabelPackages], l[buildcache.LabelBytes] = pkgs, bytes
		}), []warm.Option{settings(s)}},
		{"other packages", relabel(func(l map[string]string) {
			n, _ := strconv.Atoi(l[buildcache.LabelPackages])
			l[buildcache.LabelPackages] = strconv.Itoa(n + 1)
		}), []warm.Option{settings(s)}},
		{"edited settings", relabel(func(l map[string]string) { l[buildcache.LabelTags] = "netgo" }), []warm.Option{settings(s)}},
		{"other time", func(t *testing.T) v1.Image {
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			return fullImg
		}, []warm.Option{settings(s)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compiles := warm.HookCompile(t, false)
			target := parseTarget(t, "oci:"+filepath.Join(t.TempDir(), "oci"))
			img := fullImg
			if tc.image != nil {
				img = tc.image(t)
			}
			publishImage(t, target, full.Tag, img)
			_, err := run(t, target, append(tc.opts, zips)...)
			if !errors.Is(err, warm.ErrNotCompiled) || *compiles != 1 {
				t.Errorf("zips warm: %v after %d compiles; want it to compile", err, *compiles)
			}
		})
	}
}

// checkReused checks that the warm z reused the build cache layer of the
// warm full, published in target.
func checkReused(t *testing.T, full, z *warm.Result, target publish.Target) {
	t.Helper()
	if z.BuildCache.Digest != full.BuildCache.Digest || z.BuildCache.Packages != full.BuildCache.Packages || z.BuildCache.Bytes != full.BuildCache.Bytes {
		t.Errorf("zips build cache = %+v, want that of full %+v", z.BuildCache, full.BuildCache)
	}
	// The layer was in the target already: nothing was written for it.
	if z.Layers.Reused < 1 {
		t.Errorf("zips warm reused %d layers; want the build cache layer at least", z.Layers.Reused)
	}
	if a, b := lastLayer(t, image(t, target, full.Tag)), lastLayer(t, image(t, target, z.Tag)); a != b {
		t.Errorf("build cache layers: full %s, zips %s; want the same", a, b)
	}
}

func parseTarget(t *testing.T, spec string, opts ...publish.Option) publish.Target {
	t.Helper()
	target, err := publish.ParseTarget(spec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// publishImage writes img to target under tag and returns its reference.
func publishImage(t *testing.T, target publish.Target, tag string, img v1.Image) string {
	t.Helper()
	rep, err := target.Write(context.Background(), tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Ref
}

func image(t *testing.T, target publish.Target, tag string) v1.Image {
	t.Helper()
	desc, err := target.Lookup(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := target.Image(context.Background(), tag, *desc)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func lastLayer(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[len(ls)-1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
