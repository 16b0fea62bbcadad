package buildcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// noGoDockerfile builds the fixture service on golang:RELEASE, with no
// deps image: warm takes the release from it.
const noGoDockerfile = `FROM golang:RELEASE AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/api ./cmd/api
`

// TestWarmFetchesToolchain warms the fixture service with --build-cache
// and no --base (so no Go installation to compile with), its Dockerfile
// naming a release other than the go command's here: warm fetches that
// release's official toolchain (the golang.org/toolchain module) into its
// cache, once, and compiles with it; that toolchain, over the image's
// layers, then compiles only the service's own packages.
func TestWarmFetchesToolchain(t *testing.T) {
	testenv.SkipIfShort(t, "downloads a Go toolchain and the fixture's modules through the module proxy")
	release := "go1.27.3"
	if runtime.Version() == release {
		release = "go1.26.8"
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // warm's toolchain cache, fresh
	dir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, os.DirFS(fixtureService)); err != nil {
		t.Fatal(err)
	}
	df := strings.Replace(noGoDockerfile, "RELEASE", strings.TrimPrefix(release, "go"), 1)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	to := "oci:" + t.TempDir()
	warm := func() (ref, toolchain, settings, stderr string) {
		args := []string{"warm", "--build-cache", "--format", "json", "--to", to, "--force", dir}
		var out, errb bytes.Buffer
		start := time.Now()
		if err := cli.Run(ctx, args, nil, &out, &errb); err != nil {
			t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		t.Logf("warm with no Go in the base, for %s: %.1f s", release, time.Since(start).Seconds())
		var w struct {
			Ref        string
			BuildCache *struct{ Settings, Toolchain string } `json:"build_cache"`
		}
		if err := json.Unmarshal(out.Bytes(), &w); err != nil || w.BuildCache == nil {
			t.Fatalf("warm's JSON: %v\n%s", err, out.String())
		}
		return w.Ref, w.BuildCache.Toolchain, w.BuildCache.Settings, errb.String()
	}
	ref, toolchain, settings, stderr := warm()
	if want := "the official toolchain of the golang.org/toolchain module (" + release + ")"; toolchain != want || !strings.HasPrefix(settings, release+" ") {
		t.Errorf("warm compiled with %q for %q; want %q, for %s", toolchain, settings, want, release)
	}
	mod := "golang.org/toolchain@v0.0.1-" + release + "." + runtime.GOOS + "-" + runtime.GOARCH
	if !strings.Contains(stderr, "compiling with the official "+release+" toolchain") || !strings.Contains(stderr, "fetching "+mod+" through GOPROXY") {
		t.Errorf("warm's stderr does not say it fetches %s and compiles with it:\n%s", mod, stderr)
	}
	// Once: a second fetch, with no proxy to fetch from, finds it in the
	// cache.
	cache := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "cachecheck", "goroot")
	var again bytes.Buffer
	g, err := buildcache.FetchToolchain(ctx, release, runtime.GOOS, runtime.GOARCH, cache, append(os.Environ(), "GOPROXY=off"), &again)
	if err != nil || g.Version != release || g.Path != buildcache.ToolchainPath || again.Len() > 0 {
		t.Errorf("second FetchToolchain: %+v, %v, %q; want %s at %s from the cache, nothing fetched", g, err, again.String(), release, buildcache.ToolchainPath)
	}

	a, _, err := publish.ResolveBase(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	img, ok := a.(v1.Image)
	if !ok {
		t.Fatalf("%s is not a single image", ref)
	}
	root := t.TempDir()
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", root).Run() })
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		testenv.Untar(t, rc, root)
	}
	goroot := testenv.Toolchain(t, release)
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), "build", "-trimpath", "-v", "-o", filepath.Join(t.TempDir(), "api"), "./cmd/api")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOCACHE="+filepath.Join(root, "root/.cache/go-build"), "GOMODCACHE="+filepath.Join(root, "go/pkg/mod"),
		"GOROOT="+goroot, "GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s go build: %v\n%s", release, err, b)
	}
	compiled := strings.Fields(string(b))
	t.Logf("%s over the image: compiled %v", release, compiled)
	checkOwn(t, "the "+release+" toolchain over the deps image", compiled)
}
