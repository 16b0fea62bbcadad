package depsimage_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// oddModule is a module whose files have the names of the go command's
// temporary state, as real modules ship them: go:embed templates (cel-go's
// templates/authoring.tmpl), testify's *.go.tmpl, flake.lock and
// MODULE.bazel.lock, and a few more.
var oddModule = map[string]string{
	"odd.go": `package odd

import "embed"

//go:embed templates/*.tmpl
var Templates embed.FS

func Names() int { n, _ := Templates.ReadDir("templates"); return len(n) }
`,
	"templates/page.tmpl":         "{{.Page}}\n",
	"templates/mail.go.tmpl":      "package {{.Package}}\n",
	"flake.lock":                  `{"nodes":{}}` + "\n",
	"MODULE.bazel.lock":           "{}\n",
	"notes.partial":               "a file, not a partial download\n",
	"data.tmp":                    "a file, not a temporary one\n",
	"sub/x.tmp.txt":               "x\n",
	"sub/v1.0.0.ziphash":          "not the go command's\n",
	"cache/download/readme.txt":   "a directory named cache inside a module\n",
	"testdata/example.com@v1/a.x": "an @ inside a module tree\n",
}

// oddFixture is an app requiring oddModule, downloaded into a fresh cache.
func oddFixture(t *testing.T) (string, []string, *modload.Result) {
	t.Helper()
	p := modloadtest.NewProxy(t)
	p.Add(t, "example.com/odd", "v1.0.0", oddModule)
	p.Add(t, "example.com/odd", "v0.9.0", map[string]string{"odd.go": "package odd\n"})
	env := p.Env("")
	app := t.TempDir()
	modloadtest.WriteModule(t, app, env, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/odd v1.0.0\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/odd\"\n)\n\nfunc main() { fmt.Println(odd.Names()) }\n",
	})
	cache := filepath.Join(t.TempDir(), "modcache")
	t.Cleanup(func() { modloadtest.RemoveAll(cache) })
	res, err := modload.Download(context.Background(), app, modload.WithGoModCache(cache), modload.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return app, env, res
}

// tarNames returns the names of the regular files in the layers.
func tarNames(t *testing.T, ls []depsimage.Layer) []string {
	t.Helper()
	var names []string
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %q: %v", l.Name, err)
			}
			if h.Typeflag == tar.TypeReg {
				names = append(names, strings.TrimPrefix(h.Name, "go/pkg/mod/"))
			}
		}
		rc.Close()
	}
	slices.Sort(names)
	return names
}

// writeCacheFile writes a file into the read-only module cache.
func writeCacheFile(t *testing.T, cache, rel, content string) {
	t.Helper()
	name := filepath.Join(cache, filepath.FromSlash(rel))
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(name, 0o644)
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPublishesWholeTrees packs a module whose files are named like the go
// command's temporary state, next to real temporary state, unverified
// modules and the VCS cache in the module cache, and wants exactly the
// verified module's files in the image: all of them, and nothing else. The
// unpacked image must pass `go mod verify` and build offline.
func TestPublishesWholeTrees(t *testing.T) {
	app, env, res := oddFixture(t)
	cache := res.GoModCache
	// What the go command leaves while it works, and what a cache shared
	// with other builds holds besides the modules of this one.
	for rel, content := range map[string]string{
		"cache/download/example.com/odd/@v/v1.0.0.lock":        "",
		"cache/download/example.com/odd/@v/v1.0.0.zip.partial": "half a zip",
		"cache/download/example.com/odd/@v/v1.0.0.zip.tmp-123": "half a zip",
		"cache/download/example.com/odd/@v/v1.0.0.mod.tmp-9":   "module x",
		"cache/download/example.com/odd/@v/list.lock":          "",
		"example.com/odd@v1.0.0.partial":                       "",
		"example.com/odd@v1.0.0.tmp-4567/odd.go":               "package odd // half extracted",
		"cache/vcs/0123abcd/config":                            "[remote] url = https://user:secret@example.com/x",
		"example.com/evil@v1.0.0/evil.go":                      "package evil",
		"cache/download/example.com/evil/@v/v1.0.0.mod":        "module example.com/evil\n",
		"cache/download/example.com/evil/@v/v1.0.0.info":       `{"Version":"v1.0.0"}`,
		"cache/download/example.com/evil/@v/v1.0.0.zip":        "PK",
		"example.com/odd@v0.9.0/odd.go":                        "package odd",
		"cache/download/example.com/odd/@v/v0.9.0.zip":         "PK",
		"cache/download/example.com/odd/@v/v0.9.0.ziphash":     "h1:x",
		"stray.txt": "not a module",
		"cache/download/sumdb/sum.golang.org/lookup/example.com/x@1": "kept: the checksum database cache",
	} {
		writeCacheFile(t, cache, rel, content)
	}
	ver, err := modload.Verify(context.Background(), app, res, modload.TreesWhenRead())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cache/download/example.com/odd/@v/v1.0.0.info",
		"cache/download/example.com/odd/@v/v1.0.0.mod",
		"cache/download/example.com/odd/@v/v1.0.0.zip",
		"cache/download/example.com/odd/@v/v1.0.0.ziphash",
		"cache/download/sumdb/sum.golang.org/lookup/example.com/x@1",
	}
	var tree []string
	for name := range oddModule {
		tree = append(tree, "example.com/odd@v1.0.0/"+name)
	}
	tree = append(tree, "example.com/odd@v1.0.0/go.mod")
	for _, contents := range []string{depsimage.ContentsFull, depsimage.ContentsZips} {
		t.Run(contents, func(t *testing.T) {
			ls, err := depsimage.Layers(res, ver, depsimage.WithContents(contents), depsimage.WithBuckets(2))
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(want)
			if contents == depsimage.ContentsFull {
				want = append(want, tree...)
			}
			slices.Sort(want)
			if got := tarNames(t, ls); !slices.Equal(got, want) {
				t.Errorf("files in the image:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			img, err := depsimage.Image(nil, ls, depsimage.Metadata{Contents: contents, GoVersion: res.GoVersion})
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			t.Cleanup(func() { modloadtest.RemoveAll(root) })
			testenv.Untar(t, mutate.Extract(img), root)
			offline := append(slices.Clone(env), "GOMODCACHE="+filepath.Join(root, "go/pkg/mod"), "GOPROXY=off", "GOFLAGS=-mod=mod")
			if contents == depsimage.ContentsFull {
				// go mod verify checks the zips and the trees; with zips
				// only, the build below extracts them first.
				out := modloadtest.Go(t, app, offline, "mod", "verify")
				if strings.TrimSpace(out) != "all modules verified" {
					t.Errorf("go mod verify: %s", out)
				}
			}
			if out := modloadtest.Go(t, app, offline, "run", "."); strings.TrimSpace(out) != "2" {
				t.Errorf("the app printed %q, want the 2 embedded templates", out)
			}
			if contents == depsimage.ContentsZips {
				out := modloadtest.Go(t, app, offline, "mod", "verify")
				if strings.TrimSpace(out) != "all modules verified" {
					t.Errorf("go mod verify: %s", out)
				}
			}
		})
	}
}

// TestRefusesChangedCache changes the module cache after Verify, each time
// in another way, and wants packing to fail naming the module: what is
// published is what was verified, or nothing.
func TestRefusesChangedCache(t *testing.T) {
	const (
		tree = "example.com/odd@v1.0.0/"
		dl   = "cache/download/example.com/odd/@v/v1.0.0"
	)
	for _, tc := range []struct {
		name     string
		change   func(t *testing.T, cache string)
		contents string
		want     string // in the error
	}{
		{"file changed", func(t *testing.T, c string) { writeCacheFile(t, c, tree+"odd.go", "package odd // changed\n") }, depsimage.ContentsFull, "dir as packed"},
		{"same size", func(t *testing.T, c string) { writeCacheFile(t, c, tree+"flake.lock", `{"nodes":[]}`+"\n") }, depsimage.ContentsFull, "dir as packed"},
		{"file added", func(t *testing.T, c string) { writeCacheFile(t, c, tree+"backdoor.go", "package odd\n") }, depsimage.ContentsFull, "dir as packed"},
		{"file removed", func(t *testing.T, c string) {
			name := filepath.Join(c, tree, "templates", "page.tmpl")
			os.Chmod(filepath.Dir(name), 0o755)
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
		}, depsimage.ContentsFull, "dir as packed"},
		{"tree removed", func(t *testing.T, c string) { modloadtest.RemoveAll(filepath.Join(c, tree)) }, depsimage.ContentsFull, "extracted tree"},
		{"zip changed", func(t *testing.T, c string) { writeCacheFile(t, c, dl+".zip", "PK not the zip") }, depsimage.ContentsZips, "zip as packed"},
		{"zip removed", func(t *testing.T, c string) { os.Remove(filepath.Join(c, dl+".zip")) }, depsimage.ContentsZips, "zip"},
		{"go.mod changed", func(t *testing.T, c string) {
			writeCacheFile(t, c, dl+".mod", "module example.com/odd\n\nrequire example.com/evil v1.0.0\n")
		}, depsimage.ContentsZips, "go.mod as packed"},
		{"ziphash changed", func(t *testing.T, c string) { writeCacheFile(t, c, dl+".ziphash", "h1:AAAA") }, depsimage.ContentsZips, "ziphash as packed"},
		{"info of another version", func(t *testing.T, c string) { writeCacheFile(t, c, dl+".info", `{"Version":"v9.9.9"}`) }, depsimage.ContentsZips, "names version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, _, res := oddFixture(t)
			ver, err := modload.Verify(context.Background(), app, res, modload.TreesWhenRead())
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, res.GoModCache)
			ls, err := depsimage.Layers(res, ver, depsimage.WithContents(tc.contents), depsimage.WithBuckets(2))
			if err == nil {
				_, err = depsimage.Pack(ls)
			}
			if err == nil {
				t.Fatal("packed a changed module cache")
			}
			if !strings.Contains(err.Error(), "example.com/odd@v1.0.0") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name example.com/odd@v1.0.0 and %q", err, tc.want)
			}
			var ve *modload.VerifyError
			if strings.Contains(tc.want, "as packed") && !errors.As(err, &ve) {
				t.Errorf("error %q is not a *modload.VerifyError", err)
			}
		})
	}
}
