package publish

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target  string
		wantErr string // "" for writable
	}{
		{"tarball:" + filepath.Join(dir, "deps.tar"), ""},
		{"tarball:" + file, ""}, // replaced on write
		{"oci:" + filepath.Join(dir, "oci"), ""},
		{"oci:" + filepath.Join(dir, "a", "b", "c"), ""}, // created on write
		{"oci:" + dir, ""},
		{"registry.example.com/team/app-deps", ""},
		{"tarball:" + filepath.Join(dir, "missing", "deps.tar"), "directory " + filepath.Join(dir, "missing") + " does not exist; create it"},
		{"tarball:" + dir, "is a directory; name a file, as in tarball:" + filepath.Join(dir, "deps.tar")},
		{"tarball:" + filepath.Join(file, "deps.tar"), file + " is not a directory"},
		{"oci:" + filepath.Join(file, "oci"), file + " is not a directory; name a directory for the OCI layout"},
	}
	if runtime.GOOS == "linux" {
		// Not even root creates files in /proc.
		tests = append(tests, struct{ target, wantErr string }{"tarball:/proc/deps.tar", "cannot create files in /proc"},
			struct{ target, wantErr string }{"oci:/proc/cachecheck/oci", "cannot create files in /proc"})
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			tgt, err := ParseTarget(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckWritable(tgt)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckWritable: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CheckWritable = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	// The probe leaves nothing behind and creates no directory.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "file" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %q after the probes, want only \"file\"", names)
	}
}
