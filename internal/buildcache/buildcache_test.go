package buildcache_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/testenv"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fixture writes the module fixture of modloadtest, downloads it into a
// fresh module cache and returns both.
func fixture(t *testing.T) (*modloadtest.Fixture, *modload.Result) {
	t.Helper()
	f := modloadtest.NewFixture(t, "v1.0.0")
	cache := filepath.Join(t.TempDir(), "modcache")
	t.Cleanup(func() { modloadtest.RemoveAll(cache) })
	res, err := modload.Download(context.Background(), f.App, modload.WithGoModCache(cache), modload.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	return f, res
}

// warm builds the deps image with a build cache for settings s.
func warm(t *testing.T, f *modloadtest.Fixture, res *modload.Result, s buildcache.Settings) (v1.Image, *buildcache.Result, *buildcache.Layer) {
	t.Helper()
	r, err := buildcache.Build(context.Background(), f.App, res, s, buildcache.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(r.GoCache) })
	ver, err := modload.Verify(context.Background(), f.App, res, modload.TreesWhenRead())
	if err != nil {
		t.Fatal(err)
	}
	ls, err := depsimage.Layers(res, ver, depsimage.WithBuckets(2))
	if err != nil {
		t.Fatal(err)
	}
	img, err := depsimage.Image(nil, ls, depsimage.Metadata{GoVersion: res.GoVersion, Contents: depsimage.ContentsFull})
	if err != nil {
		t.Fatal(err)
	}
	l, err := buildcache.NewLayer(r)
	if err != nil {
		t.Fatal(err)
	}
	img, err = buildcache.Image(img, l, r)
	if err != nil {
		t.Fatal(err)
	}
	return img, r, l
}

// consumer runs go commands the way a Dockerfile FROM the unpacked image
// would: the image's GOCACHE, its module cache at /go/pkg/mod (bind-mounted
// there in a private mount namespace when the settings need that path),
// GOPROXY=off.
type consumer struct {
	t    *testing.T
	dir  string
	env  []string
	bind [2]string // source and target of a bind mount, or empty
}

func newConsumer(t *testing.T, f *modloadtest.Fixture, root string, s buildcache.Settings) *consumer {
	c := &consumer{t: t, dir: f.App}
	c.env = append(slices.Clone(f.Env), "GOPROXY=off", "GOFLAGS=-mod=mod",
		"GOCACHE="+filepath.Join(root, filepath.FromSlash(s.GoCache)), "CGO_ENABLED="+s.CGOEnabled)
	mods := filepath.Join(root, "go/pkg/mod")
	if s.Trimpath {
		c.env = append(c.env, "GOMODCACHE="+mods)
	} else {
		c.env = append(c.env, "GOMODCACHE=/go/pkg/mod")
		c.bind = [2]string{mods, "/go/pkg/mod"}
		// Left in place, as Build leaves it.
		if err := os.MkdirAll("/go/pkg/mod", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *consumer) go_(args ...string) string {
	c.t.Helper()
	name, argv := "go", args
	if c.bind[0] != "" {
		name = "unshare"
		argv = append([]string{"--mount", "--propagation", "private", "--", "sh", "-c",
			`mount --bind "$0" "$1" && shift && exec go "$@"`, c.bind[0], c.bind[1]}, args...)
	}
	cmd := exec.Command(name, argv...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func buildFlags(s buildcache.Settings) []string {
	var f []string
	if s.Trimpath {
		f = append(f, "-trimpath")
	}
	return f
}

// cacheEntries counts the entries (-a and -d files) of a build cache.
func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, "-a") || strings.HasSuffix(p, "-d")) {
			n++
		}
		return nil
	})
	return n
}

// TestBuildUsesCache is the proof that the build cache serves: the fixture
// built from the unpacked image, offline, compiles only its main package.
// Before the build, a go command that trims the cache (it finds no
// trim.txt) runs, as a "RUN go run ./gen" step would: the entries it does
// not use must survive it. Without the cache layer, the same build compiles every
// dependency, so the check can fail.
func TestBuildUsesCache(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into fresh build caches, twice")
	f, res := fixture(t)
	for _, tc := range []struct {
		name string
		s    buildcache.Settings
	}{
		{"trimpath", buildcache.Settings{Trimpath: true, CGOEnabled: "0"}},
		{"module cache at /go/pkg/mod", buildcache.Settings{CGOEnabled: "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, r, l := warm(t, f, res, tc.s)
			if err := validate.Image(img); err != nil {
				t.Fatalf("invalid image: %v", err)
			}
			for _, want := range []string{"example.com/a", "example.com/b", "example.com/c", "corp.example/p", "fmt", "runtime"} {
				if !slices.Contains(r.Packages, want) {
					t.Errorf("compiled packages %q lack %s", r.Packages, want)
				}
			}
			if slices.Contains(r.Packages, "example.com/app") {
				t.Errorf("the main module's package was compiled into the cache")
			}
			if !slices.Equal(r.Main, []string{"example.com/app"}) {
				t.Errorf("main packages %q", r.Main)
			}
			t.Logf("%d packages, %d files, %d bytes raw", len(r.Packages), l.Files, l.RawSize)

			root := t.TempDir()
			t.Cleanup(func() { modloadtest.RemoveAll(root) })
			testenv.Untar(t, mutate.Extract(img), root)
			s := r.Settings
			c := newConsumer(t, f, root, s)
			gocache := filepath.Join(root, filepath.FromSlash(s.GoCache))
			before := cacheEntries(t, gocache)
			if before == 0 {
				t.Fatal("no cache entries in the image")
			}
			if _, err := os.Stat(filepath.Join(gocache, "trim.txt")); err == nil {
				t.Fatal("trim.txt is in the image")
			}
			// A go build of one dependency uses few entries and trims the
			// cache at its end.
			c.go_(append(append([]string{"build"}, buildFlags(s)...), "example.com/c")...)
			if _, err := os.Stat(filepath.Join(gocache, "trim.txt")); err != nil {
				t.Fatalf("the go command did not trim the cache: %v", err)
			}
			if after := cacheEntries(t, gocache); after < before {
				t.Fatalf("trimming the cache left %d of %d entries", after, before)
			}
			out := c.go_(append(append([]string{"build", "-v", "-o", filepath.Join(t.TempDir(), "app")}, buildFlags(s)...), ".")...)
			if got := strings.Fields(out); !slices.Equal(got, []string{"example.com/app"}) {
				t.Errorf("go build -v compiled %q, want only example.com/app", got)
			}

			// The same build without the cache compiles the dependencies.
			cold := newConsumer(t, f, root, s)
			cold.env = append(cold.env, "GOCACHE="+t.TempDir())
			out = cold.go_(append(append([]string{"build", "-v", "-o", filepath.Join(t.TempDir(), "app")}, buildFlags(s)...), ".")...)
			for _, dep := range []string{"example.com/a", "example.com/b", "fmt"} {
				if !slices.Contains(strings.Fields(out), dep) {
					t.Errorf("a build with an empty cache did not compile %s: %q", dep, out)
				}
			}
		})
	}
}

// TestTrimKeepsEntries shows why cache entries carry KeepTime: the same
// cache with entries dated at the Unix epoch loses them all to the first
// trim, while dated KeepTime they all survive.
func TestTrimKeepsEntries(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into a fresh build cache")
	f, res := fixture(t)
	s := buildcache.Settings{Trimpath: true, CGOEnabled: "0"}
	img, r, _ := warm(t, f, res, s)
	for _, tc := range []struct {
		name    string
		mtime   time.Time
		survive bool
	}{
		{"KeepTime", buildcache.KeepTime, true},
		{"epoch", time.Unix(0, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			testenv.Untar(t, mutate.Extract(img), root)
			t.Cleanup(func() { modloadtest.RemoveAll(root) })
			gocache := filepath.Join(root, filepath.FromSlash(r.Settings.GoCache))
			filepath.WalkDir(gocache, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && d.Name() != "README" {
					os.Chtimes(p, tc.mtime, tc.mtime)
				}
				return nil
			})
			before := cacheEntries(t, gocache)
			c := newConsumer(t, f, root, r.Settings)
			c.go_("build", "-trimpath", "example.com/c")
			if _, err := os.Stat(filepath.Join(gocache, "trim.txt")); err != nil {
				t.Fatalf("the go command did not trim the cache: %v", err)
			}
			after := cacheEntries(t, gocache)
			if tc.survive && after < before || !tc.survive && after >= before/2 {
				t.Errorf("after the first trim %d of %d entries are left", after, before)
			}
		})
	}
}

// TestReproducible builds the cache twice from two downloads and two
// copies of the module in different directories, a second apart, and wants
// the same layer digest.
func TestReproducible(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into a fresh build cache, twice")
	s := buildcache.Settings{CGOEnabled: "1"}
	var digests []string
	for i := range 2 {
		f, res := fixture(t)
		// Files as old as a checkout's: the go command caches facts about
		// directories whose files are not new, keyed by their path.
		old := time.Now().Add(-time.Hour)
		err := filepath.WalkDir(f.App, func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				err = os.Chtimes(p, old, old)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, _, l := warm(t, f, res, s)
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
		if i == 0 {
			time.Sleep(time.Second)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("layer digests differ: %s", digests)
	}
}

// TestVersionMismatch refuses to fill a cache for another Go release.
func TestVersionMismatch(t *testing.T) {
	f, res := fixture(t)
	_, err := buildcache.Build(context.Background(), f.App, res, buildcache.Settings{GoVersion: "go1.19.13"}, buildcache.WithEnv(f.Env))
	var ve *buildcache.VersionError
	if !errors.As(err, &ve) || ve.Want != "go1.19.13" {
		t.Fatalf("Build for go1.19.13: %v, want a VersionError", err)
	}
	if !strings.Contains(err.Error(), "GOTOOLCHAIN=go1.19.13") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
}

// TestSettingsLabels round-trips the settings through the image labels and
// wants the tag suffix to change with every setting.
func TestSettingsLabels(t *testing.T) {
	base := buildcache.Settings{GoVersion: "go1.22.3", CGOEnabled: "0", Tags: []string{"netgo"}}
	base.Normalize()
	got, ok, err := buildcache.ReadSettings(buildcache.Labels(base))
	if err != nil || !ok {
		t.Fatalf("ReadSettings: %v %v", ok, err)
	}
	if got.Digest() != base.Digest() || got.String() != base.String() {
		t.Errorf("round trip: %s, want %s", got, base)
	}
	seen := map[string]string{buildcache.TagSuffix(base): "base"}
	for name, mod := range map[string]func(*buildcache.Settings){
		"go":          func(s *buildcache.Settings) { s.GoVersion = "go1.22.4" },
		"GOOS":        func(s *buildcache.Settings) { s.GOOS = "darwin" },
		"GOARCH":      func(s *buildcache.Settings) { s.GOARCH = "arm64"; s.GOAMD64 = "" },
		"GOAMD64":     func(s *buildcache.Settings) { s.GOAMD64 = "v3" },
		"CGO_ENABLED": func(s *buildcache.Settings) { s.CGOEnabled = "1" },
		"trimpath":    func(s *buildcache.Settings) { s.Trimpath = true },
		"tags":        func(s *buildcache.Settings) { s.Tags = []string{"netgo", "osusergo"} },
		"flags":       func(s *buildcache.Settings) { s.Flags = []string{"-race"} },
		"GOMODCACHE":  func(s *buildcache.Settings) { s.ModCache = "/root/go/pkg/mod" },
		"GOCACHE":     func(s *buildcache.Settings) { s.GoCache = "/cache" },
	} {
		s := base
		mod(&s)
		suffix := buildcache.TagSuffix(s)
		if other, dup := seen[suffix]; dup {
			t.Errorf("%s and %s give the same tag suffix %s", name, other, suffix)
		}
		seen[suffix] = name
	}
	labels := buildcache.Labels(base)
	labels[buildcache.LabelTags] = "osusergo"
	if _, _, err := buildcache.ReadSettings(labels); err == nil {
		t.Error("edited labels were accepted")
	}
	if _, ok, _ := buildcache.ReadSettings(map[string]string{}); ok {
		t.Error("an image without a build cache reads as one")
	}
}
