package gitfs

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestObjectID(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	if err := os.MkdirAll(filepath.Join(dir, "cmd"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cmd/main.go"), []byte("package main\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("run.sh", filepath.Join(dir, "link"))
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "one")
	f, err := Open(context.Background(), dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mode fs.FileMode
	}{
		{"cmd/main.go", 0o644},
		{"run.sh", 0o755},
		{"link", fs.ModeSymlink | 0o777},
	}
	for _, tc := range tests {
		oid, mode, err := f.ObjectID(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if want := git(t, dir, "rev-parse", "HEAD:"+tc.name); oid != want || mode != tc.mode {
			t.Errorf("ObjectID(%q) = %s, %v; want %s, %v", tc.name, oid, mode, want, tc.mode)
		}
	}
	if _, _, err := f.ObjectID("missing.go"); err == nil {
		t.Error("ObjectID of a missing file: no error")
	}
}
