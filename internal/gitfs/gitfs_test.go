package gitfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/testenv"
)

func gitRepo(t testing.TB, files map[string]string, exe ...string) string {
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

// TestOpenErrors checks how Open classifies a revision it cannot open: a
// missing revision or a directory outside any repository (the revision
// was given wrong), against a repository whose objects are damaged (the
// repository is broken).
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := gitRepo(t, map[string]string{"go.mod": "module m\n"})
	outside := t.TempDir()
	damaged := gitRepo(t, map[string]string{"go.mod": "module m\n"})
	objs, _ := filepath.Glob(filepath.Join(damaged, ".git", "objects", "??", "*"))
	if len(objs) == 0 {
		t.Fatal("no loose objects to damage")
	}
	for _, p := range objs {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, dir, rev string
		is             error  // the sentinel wrapped, or nil
		want           string // a part of the message
	}{
		{"missing revision", dir, "no-such-rev", ErrNoRevision, `git revision "no-such-rev"`},
		{"missing parent", dir, "HEAD~5", ErrNoRevision, `git revision "HEAD~5"`},
		{"a tree", dir, "HEAD^{tree}", ErrNoRevision, "names a tree, not a commit"},
		{"option", dir, "--output=x", ErrNoRevision, "must not start with '-'"},
		{"outside", outside, "HEAD", ErrNotRepository, outside},
		{"damaged", damaged, "HEAD", nil, "the repository is damaged, run 'git fsck' there: reading object "},
		{"damaged parent", damaged, "HEAD~1", nil, "the repository is damaged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.dir, tc.rev)
			if err == nil {
				t.Fatalf("Open(%q) succeeded", tc.rev)
			}
			for _, s := range []error{ErrNoRevision, ErrNotRepository} {
				if got, want := errors.Is(err, s), s == tc.is; got != want {
					t.Errorf("errors.Is(%v, %v) = %t, want %t", err, s, got, want)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want it to contain %q", tc.rev, err, tc.want)
			}
		})
	}
}
