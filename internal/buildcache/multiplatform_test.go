package buildcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/internal/testimage"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestMultiPlatformBase warms the fixture service with --build-cache on a
// multi-platform base like the official golang images: an index of a
// linux/amd64 and a linux/arm64 image, each with the official toolchain of
// a release other than the go command's here (the golang.org/toolchain
// module). warm publishes an index whose two images share the module
// cache layers and each end in a build cache layer for its platform; the
// arm64 one is cross-compiled by the base's amd64 toolchain. A BuildKit
// build FROM the index (linux/amd64) compiles only the service's own
// packages, and so does the arm64 toolchain, run under
// qemu-aarch64-static, over the arm64 image's layers.
func TestMultiPlatformBase(t *testing.T) {
	e := newBuildKitEnv(t)
	qemu := testenv.Getenv(t, "CACHECHECK_QEMU_AARCH64", "qemu-user-static (.ci/setup.d/25-qemu.sh)")
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skipf("the index's native image is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	release := "go1.27.3"
	if runtime.Version() == release {
		release = "go1.26.8"
	}
	amd64 := testenv.ToolchainFor(t, release, "linux", "amd64")
	arm64 := testenv.ToolchainFor(t, release, "linux", "arm64")
	ctx := context.Background()
	pushCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	baseRef, err := testimage.PushIndex(pushCtx, e.registry+"/cachecheck/golang-multi:"+release,
		[]testimage.Option{testimage.WithGoRoot(amd64), testimage.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"})},
		[]testimage.Option{testimage.WithGoRoot(arm64), testimage.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})})
	if err != nil {
		t.Fatalf("pushing a multi-platform test base with %s: %v", release, err)
	}

	dir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, os.DirFS(fixtureService)); err != nil {
		t.Fatal(err)
	}
	args := []string{"warm", "--build-cache", "--format", "json", "--base", baseRef.String(),
		"--platform", "linux/arm64,linux/amd64", "--to", e.registry + "/cachecheck/buildcache-multi",
		// The fixture's Dockerfile names golang:1.26, which warm holds
		// against a base of another release.
		"--build-flags", "CGO_ENABLED=0 -trimpath", dir}
	var out, errb bytes.Buffer
	start := time.Now()
	if err := cli.Run(ctx, args, nil, &out, &errb); err != nil {
		t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	t.Logf("warm on the %s index: %.1f s", release, time.Since(start).Seconds())
	var w struct {
		Ref         string
		BuildCache  *struct{} `json:"build_cache"`
		BuildCaches []struct {
			Platform, Settings, Toolchain string
			Packages                      int
		} `json:"build_caches"`
	}
	if err := json.Unmarshal(out.Bytes(), &w); err != nil {
		t.Fatal(err)
	}
	if w.BuildCache != nil || len(w.BuildCaches) != 2 {
		t.Fatalf("warm's JSON has build_cache %v and %d build_caches; want none and 2:\n%s", w.BuildCache, len(w.BuildCaches), out.String())
	}
	want := map[string]string{
		"linux/amd64": "the base image's /usr/local/go (" + release + ")",
		"linux/arm64": "the base's linux/amd64 image's /usr/local/go (" + release + "), cross-compiling",
	}
	for _, bc := range w.BuildCaches {
		if bc.Toolchain != want[bc.Platform] || !strings.HasPrefix(bc.Settings, release+" ") || !strings.Contains(bc.Settings, "GOARCH="+strings.TrimPrefix(bc.Platform, "linux/")) || bc.Packages < 100 {
			t.Errorf("build cache for %s: %d packages, settings %q, compiled with %q; want >= 100 packages, %s for its GOARCH, compiled with %q", bc.Platform, bc.Packages, bc.Settings, bc.Toolchain, release, want[bc.Platform])
		}
	}

	// ref finds the index for the same flags, and only for them.
	refArgs := []string{"ref", "--build-cache", "--base", baseRef.String(), "--to", e.registry + "/cachecheck/buildcache-multi",
		"--build-flags", "CGO_ENABLED=0 -trimpath"}
	for _, c := range []struct {
		platform string
		found    bool
	}{{"linux/amd64,linux/arm64", true}, {"linux/arm64,linux/amd64", true}, {"linux/amd64", false}} {
		var rout, rerr bytes.Buffer
		err := cli.Run(ctx, append(refArgs, "--platform", c.platform, dir), nil, &rout, &rerr)
		switch got := strings.TrimSpace(rout.String()); {
		case c.found && (err != nil || got != w.Ref):
			t.Errorf("ref --platform %s: %q, %v; want %s\n%s", c.platform, got, err, w.Ref, rerr.String())
		case !c.found && err == nil:
			t.Errorf("ref --platform %s found %q; the index holds build caches for two platforms, so its tag is not this one's", c.platform, got)
		}
	}

	// ref --format json and report read each platform's image of the
	// index, and report compares the Dockerfile's go build (for the
	// default platform) with the linux/amd64 image's.
	var rout, rerr bytes.Buffer
	if err := cli.Run(ctx, append(refArgs, "--platform", "linux/amd64,linux/arm64", "--format", "json", dir), nil, &rout, &rerr); err != nil {
		t.Fatalf("ref --format json: %v\n%s", err, rerr.String())
	}
	var rj struct {
		BuildCache  struct{ Platform string } `json:"build_cache"`
		BuildCaches []struct {
			Platform string
			Packages int
		} `json:"build_caches"`
	}
	if err := json.Unmarshal(rout.Bytes(), &rj); err != nil {
		t.Fatal(err)
	}
	if len(rj.BuildCaches) != 2 || rj.BuildCaches[0].Platform != "linux/amd64" || rj.BuildCaches[1].Platform != "linux/arm64" || rj.BuildCache.Platform != "linux/"+runtime.GOARCH {
		t.Errorf("ref --format json: build_cache for %q, build_caches %+v; want this machine's and one for each platform\n%s", rj.BuildCache.Platform, rj.BuildCaches, rout.String())
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.email=ci@example.com", "-c", "user.name=CI", "commit", "-q", "-m", "base"}} {
		if b, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	rout.Reset()
	rerr.Reset()
	reportArgs := []string{"report", "--base", "HEAD", "--to", e.registry + "/cachecheck/buildcache-multi", "--deps-base", baseRef.String(),
		"--build-cache", "--platform", "linux/amd64,linux/arm64", "--build-flags", "CGO_ENABLED=0 -trimpath", "--format", "json", dir}
	if err := cli.Run(ctx, reportArgs, nil, &rout, &rerr); err != nil {
		t.Fatalf("cachecheck %s: %v\n%s", strings.Join(reportArgs, " "), err, rerr.String())
	}
	var rep struct {
		Deps struct {
			Hit        bool
			BuildCache *struct {
				Platforms []struct{ Platform string }
				Builds    []struct{ Platform string }
			} `json:"build_cache"`
		} `json:"deps_image"`
	}
	if err := json.Unmarshal(rout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if bc := rep.Deps.BuildCache; !rep.Deps.Hit || bc == nil || len(bc.Platforms) != 2 || len(bc.Builds) == 0 || bc.Builds[0].Platform != "linux/amd64" {
		t.Errorf("report: want a hit on the index, its two platforms' build caches, and the go build compared with linux/amd64's:\n%s", rout.String())
	}

	// The index: each platform's image ends in its own build cache
	// layer, after the same module cache layers.
	ref, err := name.ParseReference(w.Ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("reading the deps index %s: %v", w.Ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Annotations[buildcache.LabelPlatforms]; got != "linux/amd64,linux/arm64" {
		t.Errorf("index annotation %s = %q, want linux/amd64,linux/arm64", buildcache.LabelPlatforms, got)
	}
	var modLayers [][]v1.Hash
	images := map[string]v1.Image{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := buildcache.ReadPublished(img)
		if err != nil || pub == nil {
			t.Fatalf("the %s image of the deps index has no build cache layer (%v)", d.Platform, err)
		}
		if pub.Settings.GOARCH != d.Platform.Architecture {
			t.Errorf("the %s image's build cache is for GOARCH=%s", d.Platform, pub.Settings.GOARCH)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		// Base (2 layers), module cache, build cache.
		var ds []v1.Hash
		for _, l := range m.Layers[2 : len(m.Layers)-1] {
			ds = append(ds, l.Digest)
		}
		modLayers = append(modLayers, ds)
		images[d.Platform.Architecture] = img
	}
	if len(modLayers) != 2 || !slices.Equal(modLayers[0], modLayers[1]) || len(modLayers[0]) == 0 {
		t.Errorf("the images of the deps index do not share their module cache layers: %v", modLayers)
	}

	t.Run("buildkit amd64", func(t *testing.T) {
		cached := e.build(t, dir, w.Ref, nil)
		t.Logf("FROM the deps index (linux/amd64): go build %.1f s, compiled %v", cached.GoBuild.Seconds(), cached.Compiled)
		checkOwn(t, "BuildKit FROM the deps index for linux/amd64", cached.Compiled)
	})

	// qemuBuild builds the service with the arm64 toolchain under qemu
	// over the layers of img, the arm64 image of a deps index, and
	// returns what go build -v printed.
	qemuBuild := func(t *testing.T, img v1.Image) []string {
		t.Helper()
		if img == nil {
			t.Fatal("no arm64 image in the deps index")
		}
		root := t.TempDir()
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls[2:] { // the deps image's own layers
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			testenv.Untar(t, rc, root)
		}
		t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", root).Run() })
		cmd := exec.CommandContext(ctx, qemu, filepath.Join(arm64, "bin", "go"), "build", "-toolexec="+qemu, "-trimpath", "-v", "-o", filepath.Join(t.TempDir(), "api"), "./cmd/api")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOCACHE="+filepath.Join(root, "root/.cache/go-build"), "GOMODCACHE="+filepath.Join(root, "go/pkg/mod"),
			"GOROOT="+arm64, "GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOTOOLCHAIN=local")
		start := time.Now()
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the arm64 toolchain under qemu: go build: %v\n%s", err, b)
		}
		compiled := strings.Fields(string(b))
		t.Logf("the arm64 %s under qemu over the arm64 image: go build %.1f s, compiled %v", release, time.Since(start).Seconds(), compiled)
		return compiled
	}
	t.Run("arm64 under qemu", func(t *testing.T) {
		checkOwn(t, "the arm64 toolchain over the arm64 image", qemuBuild(t, images["arm64"]))
	})

	// warm --build-cache=all on the index: the deps index is found, and
	// each platform's image gets the main module's layer, the arm64 one
	// cross-compiled; FROM the new index BuildKit (linux/amd64) and the
	// arm64 toolchain under qemu compile only the main package.
	t.Run("main module", func(t *testing.T) {
		allArgs := slices.Clone(args)
		allArgs[1] = "--build-cache=all"
		var out, errb bytes.Buffer
		if err := cli.Run(ctx, allArgs, nil, &out, &errb); err != nil {
			t.Fatalf("cachecheck %s: %v\n%s", strings.Join(allArgs, " "), err, errb.String())
		}
		var wa struct {
			Ref        string
			DepsHit    bool `json:"deps_hit"`
			MainModule []struct {
				Platform, Toolchain string
				Packages            int
			} `json:"main_module"`
		}
		if err := json.Unmarshal(out.Bytes(), &wa); err != nil {
			t.Fatal(err)
		}
		if !wa.DepsHit || len(wa.MainModule) != 2 {
			t.Fatalf("warm --build-cache=all on the index: deps hit %v, %d main module layers; want the deps index found and 2:\n%s", wa.DepsHit, len(wa.MainModule), out.String())
		}
		for _, m := range wa.MainModule {
			if m.Packages != 1 || m.Toolchain != want[m.Platform] {
				t.Errorf("main module layer for %s: %d packages, compiled with %q; want 1, %q", m.Platform, m.Packages, m.Toolchain, want[m.Platform])
			}
		}
		onlyMain := []string{"example.com/service/cmd/api"}
		if got := e.build(t, dir, wa.Ref, nil).Compiled; !slices.Equal(got, onlyMain) {
			t.Errorf("BuildKit FROM the index with the main module's layers compiled %q, want %q", got, onlyMain)
		}
		ridx, err := remote.Index(mustParse(t, wa.Ref))
		if err != nil {
			t.Fatal(err)
		}
		rim, err := ridx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range rim.Manifests {
			if d.Platform.Architecture != "arm64" {
				continue
			}
			img, err := ridx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if got := qemuBuild(t, img); !slices.Equal(got, onlyMain) {
				t.Errorf("the arm64 toolchain under qemu over the arm64 image with the main module's layer compiled %q, want %q", got, onlyMain)
			}
		}
	})
}

func mustParse(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// checkOwn fails the test unless compiled, what go build -v printed,
// names the service's main package and nothing outside the service.
func checkOwn(t *testing.T, what string, compiled []string) {
	t.Helper()
	const own = "example.com/service/"
	if !slices.Contains(compiled, own+"cmd/api") {
		t.Errorf("%s: go build -v did not print %scmd/api; its output: %q", what, own, compiled)
	}
	for _, p := range compiled {
		if !strings.HasPrefix(p, own) {
			t.Errorf("%s: go build compiled %q: the build cache misses it", what, p)
		}
	}
}
