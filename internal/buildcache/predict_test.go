package buildcache_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/testenv"
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

// TestPredictCompileFromRevision checks the prediction for an image that
// holds the main module's packages compiled at a commit: only the main
// package, the packages whose files changed since (tracked, untracked,
// embedded), those the image lacks and those importing any of them; all
// after a go.mod change; a clear error for a commit the clone lacks.
func TestPredictCompileFromRevision(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{
		"go.mod":              "module example.com/svc\n\ngo 1.22\n",
		"cmd/api/main.go":     "package main\n\nimport (\n\t_ \"example.com/svc/internal/a\"\n\t_ \"example.com/svc/internal/c\"\n)\n\nfunc main() {}\n",
		"internal/a/a.go":     "package a\n\nimport _ \"example.com/svc/internal/b\"\n",
		"internal/b/b.go":     "package b\n",
		"internal/c/c.go":     "package c\n\nimport _ \"embed\"\n\n//go:embed data.txt\nvar Data string\n",
		"internal/c/data.txt": "one\n",
		"README.md":           "docs\n",
	} {
		write(name, data)
	}
	git := func(args ...string) string { return testenv.Git(t, dir, args...) }
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("-c", "user.email=ci@example.com", "-c", "user.name=CI", "commit", "-q", "-m", "base")
	commit := strings.TrimSpace(git("rev-parse", "HEAD"))
	env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOMODCACHE="+t.TempDir())
	s := buildcache.Settings{GOOS: "linux", GOARCH: "amd64", CGOEnabled: "0", Trimpath: true}
	all := []string{"example.com/svc/internal/a", "example.com/svc/internal/b", "example.com/svc/internal/c"}
	predict := func(list []string) []string {
		t.Helper()
		m := &buildcache.MainPublished{Revision: buildcache.Revision{Commit: commit}, List: list}
		got, err := buildcache.PredictCompile(context.Background(), dir, s, []string{"./cmd/api"}, buildcache.WithEnv(env), buildcache.WithImageMain(m))
		if err != nil {
			t.Fatal(err)
		}
		if got.Links != 1 || got.Revision != commit {
			t.Errorf("links %d, revision %q; want 1, %s", got.Links, got.Revision, commit)
		}
		return got.Packages
	}
	check := func(name string, list, want []string) {
		t.Helper()
		if got := predict(list); !slices.Equal(got, want) {
			t.Errorf("%s: predicted %v, want %v", name, got, want)
		}
	}
	check("unchanged", all, []string{"example.com/svc/cmd/api"})
	check("a package the image lacks", all[:2], []string{"example.com/svc/cmd/api", "example.com/svc/internal/c"})
	write("README.md", "more docs\n")
	check("a file of no package", all, []string{"example.com/svc/cmd/api"})
	write("internal/b/b.go", "package b\n\nconst B = 1\n")
	check("a deep change", all, []string{"example.com/svc/cmd/api", "example.com/svc/internal/a", "example.com/svc/internal/b"})
	git("checkout", "-q", "--", "internal/b/b.go")
	write("internal/c/data.txt", "two\n")
	check("an embedded file", all, []string{"example.com/svc/cmd/api", "example.com/svc/internal/c"})
	git("checkout", "-q", "--", "internal/c/data.txt")
	write("internal/b/new.go", "package b\n")
	check("an untracked file", all, []string{"example.com/svc/cmd/api", "example.com/svc/internal/a", "example.com/svc/internal/b"})
	os.Remove(filepath.Join(dir, "internal/b/new.go"))
	write("go.mod", "module example.com/svc\n\ngo 1.23\n")
	check("go.mod", all, []string{"example.com/svc/cmd/api", "example.com/svc/internal/a", "example.com/svc/internal/b", "example.com/svc/internal/c"})

	m := &buildcache.MainPublished{Revision: buildcache.Revision{Commit: strings.Repeat("0", 40)}, List: all}
	_, err := buildcache.PredictCompile(context.Background(), dir, s, []string{"./cmd/api"}, buildcache.WithEnv(env), buildcache.WithImageMain(m))
	if err == nil || !strings.Contains(err.Error(), "git fetch --depth=1 origin") {
		t.Errorf("a commit the clone lacks: %v, want an error saying how to fetch it", err)
	}
}
