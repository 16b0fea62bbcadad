package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/bench"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestCLIDepsBuildCacheRefused checks that cliDeps.Ensure tells warm
// refusing the build cache (bench skips its buildcache scenario) from warm
// failing (bench fails), with the real warm against an in-memory registry.
func TestCLIDepsBuildCacheRefused(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	host := memRegistry(t)
	// A Go image of another release than the go command's.
	img, err := random.Image(200, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"PATH=/usr/local/go/bin:/usr/bin", "GOLANG_VERSION=1.19.13"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	oldGo := host + "/mirror/golang:1.19"
	if err := remote.Write(mustRef(t, oldGo), img); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withBuild := write("Dockerfile", "FROM golang:1.19 AS build\nRUN go mod download\nRUN CGO_ENABLED=0 go build -trimpath ./...\n")
	otherRelease := write("Dockerfile.118", "FROM golang:1.18 AS build\nRUN go mod download\nRUN CGO_ENABLED=0 go build -trimpath ./...\n")
	noBuild := write("Dockerfile.nobuild", "FROM golang:1.19 AS build\nRUN go mod download\n")

	tests := []struct {
		name    string
		to      string
		w       bench.Warm
		refused string // "" for an error that is not a refusal
	}{
		{"base image of another Go release than the go command's", host + "/team/app-deps", bench.Warm{BuildCache: true, Dockerfile: withBuild}, "the build uses go1.19.13 but the go command here is"},
		{"Dockerfile naming another Go release than the base image's", host + "/team/app-deps", bench.Warm{BuildCache: true, Dockerfile: otherRelease}, "names go1.18 but the base image has go1.19.13"},
		{"no go build", host + "/team/app-deps", bench.Warm{BuildCache: true, Dockerfile: noBuild}, "has no go build"},
		{"registry down", "127.0.0.1:1/team/app-deps", bench.Warm{BuildCache: true, BuildFlags: "CGO_ENABLED=0 -trimpath"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &cliDeps{to: tc.to, registry: registryFlags{insecure: true, timeout: time.Second}, tags: map[string]string{}}
			_, err := d.Ensure(context.Background(), f.App, oldGo, tc.w)
			if err == nil {
				t.Fatal("Ensure: no error")
			}
			refused := errors.Is(err, bench.ErrNoBuildCache)
			switch {
			case tc.refused == "" && refused:
				t.Errorf("Ensure: %v; want a failure, not a refusal", err)
			case tc.refused != "" && (!refused || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("Ensure: %v; want a refusal saying %q", err, tc.refused)
			}
		})
	}
}

// TestCLIDepsIndexBase is bench's deps image on a multi-platform base, as
// the official golang images are: Ensure warms an index with a build
// cache for the build's platform (linux/amd64 by default), and Unpack,
// for the go builder, unpacks that platform's module and build caches,
// with which go build compiles only the module's own package.
func TestCLIDepsIndexBase(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into a fresh build cache")
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the build's default platform is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	host := memRegistry(t)
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(200, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	base := host + "/mirror/base:multi"
	if err := remote.WriteIndex(mustRef(t, base), mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := &cliDeps{to: host + "/team/app-deps", registry: registryFlags{insecure: true, timeout: 10 * time.Second}, tags: map[string]string{}}
	ref, err := d.Ensure(ctx, f.App, base, bench.Warm{BuildCache: true, BuildFlags: "CGO_ENABLED=0 -trimpath"})
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	desc, err := remote.Get(mustRef(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := desc.ImageIndex()
	if err != nil || !desc.MediaType.IsIndex() {
		t.Fatalf("the deps image %s is a %s (%v); want an index, as its base", ref, desc.MediaType, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Annotations[buildcache.LabelPlatforms]; got != "linux/amd64" {
		t.Errorf("the index's build cache platforms: %q; want linux/amd64", got)
	}
	gomod, gocache := t.TempDir(), t.TempDir()
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", gomod).Run() })
	if err := d.Unpack(ctx, ref, gomod, gocache); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	cmd := exec.Command("go", "build", "-v", "-trimpath", "-o", filepath.Join(t.TempDir(), "app"), ".")
	cmd.Dir = f.App
	cmd.Env = append(os.Environ(), "GOCACHE="+gocache, "GOMODCACHE="+gomod, "GOPROXY=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build over the unpacked caches: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"example.com/app"}) {
		t.Errorf("go build over the caches Unpack gave compiled %q; want only example.com/app", got)
	}
}
