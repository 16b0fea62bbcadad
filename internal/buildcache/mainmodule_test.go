package buildcache_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestBuildMainUsesCache compiles the main module's packages of a module
// with a library (lib, which imports lib/deep and a dependency) and two
// main packages on top of the dependencies' layer, and builds from the
// unpacked image: nothing of the module but the main package compiles;
// after an edit of lib/deep, lib/deep and what imports it. From the image
// without the main module's layer, every package of the module compiles,
// so the check can fail. Compiled twice, the layer has the same digest.
func TestBuildMainUsesCache(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into a fresh build cache")
	f, res := fixture(t)
	for name, content := range map[string]string{
		"lib/lib.go":       "package lib\n\nimport (\n\t\"example.com/a\"\n\t\"example.com/app/lib/deep\"\n)\n\nfunc L() string { return a.A() + deep.D() }\n",
		"lib/deep/deep.go": "package deep\n\nfunc D() string { return \"deep\" }\n",
		"lib/unused/u.go":  "package unused\n\nconst U = 1\n",
		"cmd/tool/main.go": "package main\n\nimport \"example.com/app/lib\"\n\nfunc main() { println(lib.L()) }\n",
	} {
		p := filepath.Join(f.App, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := buildcache.Settings{Trimpath: true, CGOEnabled: "0"}
	depsImg, r, depsLayer := warm(t, f, res, s)
	rev := buildcache.Revision{Commit: strings.Repeat("ab", 20), Time: time.Date(2026, 12, 1, 2, 3, 4, 0, time.UTC)}
	build := func() (*buildcache.MainResult, *buildcache.MainLayer) {
		plan, err := buildcache.Prepare(context.Background(), f.App, res, r.Settings, buildcache.WithEnv(f.Env))
		if err != nil {
			t.Fatal(err)
		}
		mr, err := plan.BuildMain(context.Background(), depsLayer)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(mr.GoCache) })
		ml, err := buildcache.NewMainLayer(mr)
		if err != nil {
			t.Fatal(err)
		}
		return mr, ml
	}
	mr, ml := build()
	if want := []string{"example.com/app/lib", "example.com/app/lib/deep"}; !slices.Equal(mr.Packages, want) {
		t.Errorf("main module packages %q, want %q", mr.Packages, want)
	}
	if ml.Files == 0 || ml.RawSize == 0 {
		t.Fatalf("main module layer: %d files, %d bytes", ml.Files, ml.RawSize)
	}
	t.Logf("main module layer: %d files, %d bytes raw", ml.Files, ml.RawSize)
	_, ml2 := build()
	d1, _ := ml.Digest()
	d2, _ := ml2.Digest()
	if d1 != d2 {
		t.Errorf("compiled twice, the main module layer digests differ: %s, %s", d1, d2)
	}

	img, err := buildcache.MainImage(depsImg, ml, mr, rev)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	pub, err := buildcache.ReadPublished(img)
	if err != nil || pub == nil {
		t.Fatalf("ReadPublished of the image with the main module layer: %v, %v", pub, err)
	}
	if got, want := digestOf(t, pub.Layer), digestOf(t, depsLayer); got != want {
		t.Errorf("ReadPublished found layer %s, want the dependencies' %s", got, want)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	mp, err := buildcache.ReadMain(cf.Config.Labels)
	if err != nil || mp == nil || mp.Revision.Commit != rev.Commit || !mp.Revision.Time.Equal(rev.Time) || mp.Packages != 2 || mp.RawSize != ml.RawSize {
		t.Errorf("ReadMain = %+v, %v", mp, err)
	}
	if cf, _ := depsImg.ConfigFile(); cf != nil {
		if mp, err := buildcache.ReadMain(cf.Config.Labels); mp != nil || err != nil {
			t.Errorf("ReadMain of the deps image = %+v, %v, want none", mp, err)
		}
	}

	compiled := func(img v1.Image, edit bool) []string {
		root := t.TempDir()
		t.Cleanup(func() { modloadtest.RemoveAll(root) })
		testenv.Untar(t, mutate.Extract(img), root)
		app := t.TempDir()
		if err := os.CopyFS(app, os.DirFS(f.App)); err != nil {
			t.Fatal(err)
		}
		if edit {
			if err := os.WriteFile(filepath.Join(app, "lib/deep/deep.go"), []byte("package deep\n\nfunc D() string { return \"deeper\" }\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c := newConsumer(t, f, root, r.Settings)
		c.dir = app
		out := c.go_("build", "-v", "-trimpath", "-o", filepath.Join(t.TempDir(), "tool"), "./cmd/tool")
		got := strings.Fields(out)
		slices.Sort(got)
		return got
	}
	for _, tc := range []struct {
		name string
		img  v1.Image
		edit bool
		want []string
	}{
		{"with the main module layer", img, false, []string{"example.com/app/cmd/tool"}},
		{"with the main module layer, lib/deep edited", img, true, []string{"example.com/app/cmd/tool", "example.com/app/lib", "example.com/app/lib/deep"}},
		{"dependencies only", depsImg, false, []string{"example.com/app/cmd/tool", "example.com/app/lib", "example.com/app/lib/deep"}},
	} {
		if got := compiled(tc.img, tc.edit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: go build -v compiled %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestBuildMainRefuses: without -trimpath the main module's directory
// enters the cache keys, and a module whose main packages import nothing
// of it has nothing to compile.
func TestBuildMainRefuses(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into a fresh build cache")
	f, res := fixture(t)
	s := buildcache.Settings{Trimpath: true, CGOEnabled: "0"}
	_, r, l := warm(t, f, res, s)
	plan, err := buildcache.Prepare(context.Background(), f.App, res, r.Settings, buildcache.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	var none *buildcache.NoMainPackagesError
	if _, err := plan.BuildMain(context.Background(), l); !errors.As(err, &none) {
		t.Errorf("BuildMain of a module of one main package: %v, want a NoMainPackagesError", err)
	}
	s.Trimpath = false
	plan, err = buildcache.Prepare(context.Background(), f.App, res, s, buildcache.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.BuildMain(context.Background(), l); err == nil || !strings.Contains(err.Error(), "-trimpath") {
		t.Errorf("BuildMain without -trimpath: %v, want a refusal naming -trimpath", err)
	}
}

func digestOf(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
