package buildcache_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
)

// TestPredictCompile checks the prediction on a module with the real go
// command: the main module's packages the build's packages import, for
// the build's GOOS and tags, and a link for each main package named; not
// the packages it does not import, nor a dependency missing from the
// module cache, which only ends the walk.
func TestPredictCompile(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/svc\n\ngo 1.22\n\nrequire example.com/missing v1.0.0\n",
		// go list tries to download a module go.sum names and the cache
		// lacks, and says so on its standard error.
		"go.sum":                  "example.com/missing v1.0.0 h1:0000000000000000000000000000000000000000000=\nexample.com/missing v1.0.0/go.mod h1:0000000000000000000000000000000000000000000=\n",
		"cmd/api/main.go":         "package main\n\nimport _ \"example.com/svc/internal/greet\"\n\nfunc main() {}\n",
		"cmd/api/netgo.go":        "//go:build netgo\n\npackage main\n\nimport _ \"example.com/svc/internal/tagged\"\n",
		"cmd/api/v3.go":           "//go:build amd64.v3\n\npackage main\n\nimport _ \"example.com/svc/internal/v3\"\n",
		"internal/v3/v3.go":       "package v3\n",
		"cmd/api/win_windows.go":  "package main\n\nimport _ \"example.com/svc/internal/win\"\n",
		"cmd/tool/main.go":        "package main\n\nfunc main() {}\n",
		"internal/greet/greet.go": "package greet\n\nimport _ \"example.com/missing/pkg\"\n",
		"internal/tagged/t.go":    "package tagged\n",
		"internal/win/w.go":       "package win\n",
		"internal/unused/u.go":    "package unused\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOMODCACHE="+t.TempDir())
	linux := buildcache.Settings{GOOS: "linux", GOARCH: "amd64", CGOEnabled: "0", Trimpath: true}
	netgo := linux
	netgo.Tags = []string{"netgo"}
	windows := linux
	windows.GOOS = "windows"
	v3 := linux
	v3.GOAMD64 = "v3"
	for _, c := range []struct {
		name     string
		s        buildcache.Settings
		patterns []string
		want     []string
		links    int
	}{
		{"one command", linux, []string{"./cmd/api"}, []string{"example.com/svc/cmd/api", "example.com/svc/internal/greet"}, 1},
		{"tags", netgo, []string{"./cmd/api"}, []string{"example.com/svc/cmd/api", "example.com/svc/internal/greet", "example.com/svc/internal/tagged"}, 1},
		{"GOAMD64", v3, []string{"./cmd/api"}, []string{"example.com/svc/cmd/api", "example.com/svc/internal/greet", "example.com/svc/internal/v3"}, 1},
		{"GOOS", windows, []string{"./cmd/api"}, []string{"example.com/svc/cmd/api", "example.com/svc/internal/greet", "example.com/svc/internal/win"}, 1},
		{"two commands", linux, []string{"./cmd/..."}, []string{"example.com/svc/cmd/api", "example.com/svc/cmd/tool", "example.com/svc/internal/greet"}, 2},
		{"a library", linux, []string{"./internal/greet"}, []string{"example.com/svc/internal/greet"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := buildcache.PredictCompile(context.Background(), dir, c.s, c.patterns, buildcache.WithEnv(env))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Packages, c.want) || got.Links != c.links {
				t.Errorf("PredictCompile(%v) = %v, %d links; want %v, %d", c.patterns, got.Packages, got.Links, c.want, c.links)
			}
		})
	}
	if _, err := buildcache.PredictCompile(context.Background(), dir, linux, []string{"./nothing/..."}, buildcache.WithEnv(env)); err == nil {
		t.Error("PredictCompile of a pattern matching nothing: no error")
	}
}
