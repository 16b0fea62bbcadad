package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFilesAtomic checks that when one of the fixed files cannot be
// written, none is changed and no temporary file is left.
func TestWriteFilesAtomic(t *testing.T) {
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		second  string
		wantErr bool
	}{
		{"a file in a missing directory", filepath.Join(dir, "missing", ".dockerignore"), true},
		{"both written", filepath.Join(dir, ".dockerignore"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ov := newOverlay()
			ov.set(filepath.ToSlash(df), []byte("FROM b\n"))
			ov.set(filepath.ToSlash(tc.second), []byte(".git\n"))
			err := writeFiles(ov)
			if (err != nil) != tc.wantErr {
				t.Fatalf("writeFiles: %v, want error %v", err, tc.wantErr)
			}
			data, _ := os.ReadFile(df)
			want := "FROM a\n"
			if !tc.wantErr {
				want = "FROM b\n"
			}
			if string(data) != want {
				t.Errorf("Dockerfile holds %q, want %q", data, want)
			}
			if fi, err := os.Stat(df); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("Dockerfile mode: %v %v, want 0600", fi.Mode(), err)
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*.cachecheck-*"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
