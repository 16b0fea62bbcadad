package analyzer

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/internal/testenv"

	"github.com/cachecheck/cachecheck/internal/gitfs"
)

func TestSources(t *testing.T) {
	fsys := fstest.MapFS{
		"Dockerfile":       {Data: []byte("FROM x\n")},
		".dockerignore":    {Data: []byte("**/*.log\n!keep.log\nsecret/\n")},
		"a/y":              {},
		"a-b/x":            {},
		"a/keep.log":       {},
		"a/drop.log":       {},
		"keep.log":         {},
		"secret/k":         {},
		"cmd/api/main.go":  {},
		"cmd/tool/main.go": {},
		"go.mod":           {},
	}
	tests := []struct {
		dockerfile string
		want       []string
	}{
		{"COPY a ./", []string{"a/y"}},
		{"COPY a-b/ ./", []string{"a-b/x"}},
		{"COPY ./cmd/*/main.go ./", []string{"cmd/api/main.go", "cmd/tool/main.go"}},
		{"COPY cmd/* ./", []string{"cmd/api/main.go", "cmd/tool/main.go"}},
		{"COPY *.log go.mod ./", []string{"go.mod", "keep.log"}},
		{"COPY secret /s", nil},
		{"COPY --exclude=cmd/tool . .", []string{".dockerignore", "Dockerfile", "a-b/x", "a/y", "cmd/api/main.go", "go.mod", "keep.log"}},
		{"COPY --from=other / /", nil},
		{"ADD https://example.com/x.tar.gz /", nil},
	}
	for _, tc := range tests {
		t.Run(tc.dockerfile, func(t *testing.T) {
			fsys["Dockerfile"] = &fstest.MapFile{Data: []byte("# syntax=docker/dockerfile:1.10\nFROM x\n" + tc.dockerfile + "\n")}
			b, err := Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Sources(b.Stages[0].Instructions[0])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Sources = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestArgExpansion(t *testing.T) {
	src := "ARG BASE=golang:1.22\nARG DIR=src\nFROM ${BASE} AS build\nARG DIR\nENV OUT=/out/$DIR\nCOPY ${DIR}/go.mod $OUT/\nFROM build\nRUN echo\n"
	b, err := Parse("Dockerfile", []byte(src), WithBuildArgs(map[string]string{"DIR": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	if b.Stages[0].Base != "golang:1.22" || b.Stages[1].BaseStage != 0 {
		t.Fatalf("stages: %+v %+v", b.Stages[0], b.Stages[1])
	}
	c, _ := b.Stages[0].Instructions[2].Copy()
	if !slices.Equal(c.Sources, []string{"app/go.mod"}) || c.Dest != "/out/app/" {
		t.Errorf("COPY expanded to %q -> %q", c.Sources, c.Dest)
	}
	if got := b.Stages[1].Instructions[0].Env["OUT"]; got != "/out/app" {
		t.Errorf("inherited ENV OUT = %q", got)
	}
	if in := b.Stages[0].Instructions[2]; in.Line != 6 || in.Kind != "COPY" {
		t.Errorf("COPY at line %d kind %s", in.Line, in.Kind)
	}
}

func TestParseErrorLine(t *testing.T) {
	for _, src := range []string{"FROM a\nRUN x\nCOPY onlyone\n", "FROM a\n\nFOO bar\n"} {
		_, err := Parse("Dockerfile", []byte(src))
		pe, ok := err.(*ParseError)
		if !ok || pe.Line != 3 {
			t.Errorf("Parse(%q) = %v, want a ParseError at line 3", src, err)
		}
	}
}

// TestGitContext checks that a git revision read through gitfs is a build
// context like the directory it was committed from.
func TestGitContext(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	files := map[string]string{
		"Dockerfile":    "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go mod download\n",
		".dockerignore": "bin\n",
		"go.mod":        "module m\n\ngo 1.22\n",
		"go.sum":        "",
		"main.go":       "package main\n",
		"bin/tool":      "x",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "x"}} {
		testenv.Git(t, dir, args...)
	}
	tree, err := gitfs.Open(context.Background(), dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	var got [2][]Finding
	var gotFiles [2][]string
	for i, ctxFS := range []fs.FS{os.DirFS(dir), tree} {
		b, err := Load(ctxFS)
		if err != nil {
			t.Fatal(err)
		}
		if got[i], err = Analyze(b); err != nil {
			t.Fatal(err)
		}
		all, _ := b.Files()
		// The directory also holds the repository itself.
		gotFiles[i] = slices.DeleteFunc(slices.Clone(all), func(p string) bool { return strings.HasPrefix(p, ".git/") })
	}
	if !slices.Equal(gotFiles[0], gotFiles[1]) {
		t.Errorf("files: directory %q, git %q", gotFiles[0], gotFiles[1])
	}
	if len(got[0]) == 0 || len(got[0]) != len(got[1]) {
		t.Fatalf("findings: directory %v, git %v", got[0], got[1])
	}
	for i := range got[0] {
		if !reflect.DeepEqual(got[0][i], got[1][i]) {
			t.Errorf("finding %d: directory %+v, git %+v", i, got[0][i], got[1][i])
		}
	}
}

// readDirFS records the directories listed through it.
type readDirFS struct {
	fstest.MapFS
	read []string
}

func (f *readDirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.read = append(f.read, name)
	return f.MapFS.ReadDir(name)
}

// TestFilesSkipsExcludedDirs checks that the context listing skips an
// excluded directory exactly when BuildKit's walker does (no exception
// could bring back a file inside it), and that the listing is the same as
// matching every file of the context against the .dockerignore.
func TestFilesSkipsExcludedDirs(t *testing.T) {
	tree := []string{
		".git/HEAD", ".git/keep", ".git/objects/ab/cd", "node_modules/x/index.js",
		"docs/api.md", "docs/guide.md", "cmd/a/main.go", "cmd/keep",
		"vendor/modules.txt", "vendor/x/y.go", "go.mod", "keep", "Dockerfile",
	}
	tests := []struct {
		ignore string
		read   []string // the excluded directories listed, sorted
	}{
		{".git\nnode_modules\n", nil},
		{".git\nnode_modules\ndocs/\n!docs/api.md\n*.md\n!README.md\n", []string{"docs"}},
		{".git\n!.git/HEAD\n", []string{".git"}},
		{".git\n!.git/objects/**\n", []string{".git", ".git/objects"}},
		{".git\nnode_modules\n!**/keep\n", []string{".git", ".git/objects", ".git/objects/ab", "node_modules", "node_modules/x"}},
		{"*\n!cmd/*\n!go.mod\n!Dockerfile\n", []string{"cmd"}},
		{"vendor/**\n!vendor/modules.txt\n", nil},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.ignore, "\n", " "), func(t *testing.T) {
			fsys := &readDirFS{MapFS: fstest.MapFS{".dockerignore": {Data: []byte(tc.ignore)}}}
			for _, name := range tree {
				fsys.MapFS[name] = &fstest.MapFile{Data: []byte("FROM x\n")}
			}
			b, err := Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Files()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, name := range append([]string{".dockerignore"}, tree...) {
				if !b.Excluded(name) {
					want = append(want, name)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Files() = %q\nwant (every file matched) %q", got, want)
			}
			var read []string
			for _, d := range fsys.read {
				if d != "." && b.Excluded(d) {
					read = append(read, d)
				}
			}
			slices.Sort(read)
			if !slices.Equal(read, tc.read) {
				t.Errorf("excluded directories listed: %q, want %q", read, tc.read)
			}
		})
	}
}
