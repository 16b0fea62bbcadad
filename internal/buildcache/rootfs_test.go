package buildcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestCgoInBaseRootFS compiles the dependencies of a cgo build (the
// fixture with net and os/user, whose cgo files and runtime/cgo need the C
// compiler) twice with CGO_ENABLED=1: inside the root filesystem of the
// gcc test image (gcc 11, .ci/setup.d/21-gccimage.sh) and here, with this
// machine's gcc 12. Then it builds the fixture inside that root
// filesystem, as a Dockerfile FROM the image would, with each cache: from
// the first nothing but the main package compiles; from the second the
// cgo packages do (the C compiler's identity is in their cache keys),
// which shows why the compile runs in the image.
func TestCgoInBaseRootFS(t *testing.T) {
	ref := testenv.Getenv(t, "CACHECHECK_GCC_BASE_IMAGE", "the gcc test base image (.ci/setup.d/21-gccimage.sh)")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rf, err := buildcache.UnpackRootFS(ctx, img, d, t.TempDir())
	if err != nil || rf == nil {
		t.Fatalf("UnpackRootFS: %v, %v", rf, err)
	}
	t.Logf("unpacked %s in %.1fs; its Go: %s at %s", ref, time.Since(start).Seconds(), rf.GoRoot.Version, rf.GoRoot.Path)

	f, res := fixture(t)
	if err := os.WriteFile(filepath.Join(f.App, "cgo.go"), []byte("package main\n\nimport (\n\t_ \"net\"\n\t_ \"os/user\"\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := buildcache.Settings{CGOEnabled: "1", Trimpath: true}
	inImage, err := buildcache.Build(ctx, f.App, res, s, buildcache.WithGoRoot(rf.GoRoot), buildcache.WithRootFS(rf))
	if err != nil {
		t.Fatalf("compiling in the image's root filesystem: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(inImage.GoCache) })
	here, err := buildcache.Build(ctx, f.App, res, s, buildcache.WithGoRoot(rf.GoRoot), buildcache.WithEnv(f.Env))
	if err != nil {
		t.Fatalf("compiling here: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(here.GoCache) })
	for _, want := range []string{"runtime/cgo", "net", "os/user"} {
		if !slices.Contains(inImage.Packages, want) {
			t.Fatalf("the compiled packages lack %s: %v", want, inImage.Packages)
		}
	}
	if inImage.Settings.CGOEnabled != "1" {
		t.Fatalf("compiled with CGO_ENABLED=%s", inImage.Settings.CGOEnabled)
	}

	// build runs go build -v of the fixture inside rf with a copy of the
	// build cache gocache and returns what it compiled.
	build := func(gocache string) []string {
		t.Helper()
		cache := t.TempDir()
		if out, err := exec.Command("cp", "-a", gocache+"/.", cache).CombinedOutput(); err != nil {
			t.Fatalf("copying the build cache: %v\n%s", err, out)
		}
		script := `mount --bind "$0" "$1" && mount --bind "$2" "$3" && mount --bind "$4" "$5" && ` +
			`mount --rbind /dev "$6/dev" && mount -t proc proc "$6/proc" && mount -t tmpfs tmpfs "$6/tmp" && ` +
			`root=$6 && shift 6 && exec unshare --root="$root" --wd=/cachecheck/src "$@"`
		cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script,
			res.GoModCache, filepath.Join(rf.Dir, "go/pkg/mod"),
			cache, filepath.Join(rf.Dir, "root/.cache/go-build"),
			f.App, filepath.Join(rf.Dir, "cachecheck/src"),
			rf.Dir, filepath.Join(rf.GoRoot.Path, "bin/go"), "build", "-v", "-trimpath", "-o", "/tmp/app", ".")
		cmd.Env = append(slices.Clone(rf.Env), "GOCACHE=/root/.cache/go-build", "GOMODCACHE=/go/pkg/mod",
			"GOPROXY=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=1", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go build in the image's root filesystem: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	for _, d := range []string{"go/pkg/mod", "root/.cache/go-build", "cachecheck/src"} {
		if err := os.MkdirAll(filepath.Join(rf.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { modloadtest.RemoveAll(rf.Dir) })
	if got := build(inImage.GoCache); !slices.Equal(got, []string{"example.com/app"}) {
		t.Errorf("FROM the cache compiled in the image's root filesystem, go build -v compiled %q, want only example.com/app", got)
	}
	got := build(here.GoCache)
	for _, want := range []string{"runtime/cgo", "net", "os/user", "example.com/app"} {
		if !slices.Contains(got, want) {
			t.Errorf("FROM the cache compiled with this machine's gcc, go build -v did not compile %s (%q): the C compiler's identity should miss", want, got)
		}
	}
	t.Logf("FROM the cache compiled here with this machine's C compiler, the build in the image compiles %d packages: %q", len(got), got)
}

// TestBuildKitCgo warms the fixture service with CGO_ENABLED=1 onto the
// gcc test image: warm compiles in the image's root filesystem, and a
// BuildKit build FROM the deps image with CGO_ENABLED=1 (net/http's net
// and runtime/cgo are cgo packages) compiles only the service's own
// packages. It logs the hit rate: dependency packages the build took
// from the image, of all it needs.
func TestBuildKitCgo(t *testing.T) {
	e := newBuildKitEnv(t)
	base := testenv.Getenv(t, "CACHECHECK_GCC_BASE_IMAGE", "the gcc test base image (.ci/setup.d/21-gccimage.sh)")
	dir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, os.DirFS(fixtureService)); err != nil {
		t.Fatal(err)
	}
	args := []string{"warm", "--build-cache", "--format", "json", "--base", base, "--to", e.registry + "/cachecheck/buildcache-cgo",
		"--build-flags", "CGO_ENABLED=1 -trimpath", dir}
	var out, errb bytes.Buffer
	start := time.Now()
	if err := cli.Run(context.Background(), args, nil, &out, &errb); err != nil {
		t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	var w struct {
		Ref        string
		BuildCache struct {
			Settings, Toolchain string
			Packages            int
		} `json:"build_cache"`
	}
	if err := json.Unmarshal(out.Bytes(), &w); err != nil {
		t.Fatal(err)
	}
	t.Logf("warm --build-cache with CGO_ENABLED=1: %.1fs, %d packages, compiled with %s", time.Since(start).Seconds(), w.BuildCache.Packages, w.BuildCache.Toolchain)
	if !strings.Contains(w.BuildCache.Toolchain, "in its root filesystem, with its C compiler") || !strings.Contains(w.BuildCache.Settings, "CGO_ENABLED=1") {
		t.Fatalf("warm: build cache for %q compiled with %q; want CGO_ENABLED=1, in the base image's root filesystem with its C compiler\n%s", w.BuildCache.Settings, w.BuildCache.Toolchain, errb.String())
	}
	cgoDockerfile := strings.Replace(consumerDockerfile, "CGO_ENABLED=0 go build", "CGO_ENABLED=1 go build", 1)
	run := e.buildFile(t, dir, cgoDockerfile, goBuildStep, w.Ref, nil)
	deps := modloadtest.Deps(t, dir, "./cmd/api")
	hits := 0
	for _, p := range deps {
		if !slices.Contains(run.Compiled, p) {
			hits++
		}
	}
	t.Logf("BuildKit FROM the cgo deps image, CGO_ENABLED=1: go build %.1fs, compiled %v; %d of %d dependency packages from the image", run.GoBuild.Seconds(), run.Compiled, hits, len(deps))
	checkOwn(t, "BuildKit FROM the cgo deps image with CGO_ENABLED=1", run.Compiled)
}
