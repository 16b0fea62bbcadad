package gitfs

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cachecheck/cachecheck/internal/testenv"
)

func gitRepo(t *testing.T, files map[string]string, exe ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if slices.Contains(exe, name) {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, dir, "init", "-q")
	testenv.Git(t, dir, "add", ".")
	testenv.Git(t, dir, "commit", "-q", "-m", "init")
	return dir
}

func TestReadDirWalk(t *testing.T) {
	dir := gitRepo(t, map[string]string{
		"go.mod":           "module m\n",
		"cmd/api/main.go":  "package main\n",
		"cmd/tool/main.go": "package main\n",
		"scripts/run.sh":   "#!/bin/sh\n",
		"a-b/x":            "x",
		"a/y":              "y",
	}, "scripts/run.sh")
	f, err := Open(context.Background(), dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = fs.WalkDir(f, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			got = append(got, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// WalkDir visits each directory in name order: "a" before "a-b".
	want := []string{"a/y", "a-b/x", "cmd/api/main.go", "cmd/tool/main.go", "go.mod", "scripts/run.sh"}
	if !slices.Equal(got, want) {
		t.Errorf("WalkDir found %q, want %q", got, want)
	}
	ents, err := f.ReadDir("scripts")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Type() != 0 {
		t.Fatalf("ReadDir(scripts) = %v", ents)
	}
	if info, _ := ents[0].Info(); info.Mode().Perm() != 0o755 || info.Size() != int64(len("#!/bin/sh\n")) {
		t.Errorf("scripts/run.sh: mode %v size %d, want 0755 and %d", info.Mode(), info.Size(), len("#!/bin/sh\n"))
	}
	if _, err := f.ReadDir("nope"); !os.IsNotExist(err) {
		t.Errorf("ReadDir(nope) = %v, want not-exist", err)
	}
}
