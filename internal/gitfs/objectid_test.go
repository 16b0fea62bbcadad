package gitfs

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cachecheck/cachecheck/internal/testenv"
)

func TestObjectID(t *testing.T) {
	dir := t.TempDir()
	testenv.Git(t, dir, "init", "-q")
	if err := os.MkdirAll(filepath.Join(dir, "cmd"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cmd/main.go"), []byte("package main\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("run.sh", filepath.Join(dir, "link"))
	testenv.Git(t, dir, "add", ".")
	testenv.Git(t, dir, "commit", "-qm", "one")
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
		if want := testenv.Git(t, dir, "rev-parse", "HEAD:"+tc.name); oid != want || mode != tc.mode {
			t.Errorf("ObjectID(%q) = %s, %v; want %s, %v", tc.name, oid, mode, want, tc.mode)
		}
	}
	if _, _, err := f.ObjectID("missing.go"); err == nil {
		t.Error("ObjectID of a missing file: no error")
	}
}
