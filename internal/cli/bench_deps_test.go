package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/bench"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
