package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/analyzer/buildlog"
)

// TestReadTiming reads every build log captured from the real builders in
// analyzer/buildlog/testdata: the format is told from the content and the
// steps are those the format's own reader finds.
func TestReadTiming(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "analyzer", "buildlog", "testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	// The format and builder of each kind of captured log.
	kinds := map[string]struct {
		format  buildlog.Format
		builder string
	}{
		".rawjson": {buildlog.BuildKitJSON, "buildkit"},
		".plain":   {buildlog.BuildKitPlain, "buildkit"},
		".log":     {buildlog.Buildah, "buildah"},
		".podman":  {buildlog.Buildah, "buildah"},
		".docker":  {buildlog.Docker, "docker"},
	}
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, ".golden") || filepath.Base(file) == "README.md" {
			continue
		}
		if filepath.Ext(file) == ".gox" { // the go command's own -x output: no builder's log
			if _, err := readTiming("x", file); err == nil {
				t.Errorf("readTiming(%s) read the go command's log as a build log", file)
			}
			continue
		}
		n++
		t.Run(filepath.Base(file), func(t *testing.T) {
			kind, ok := kinds[filepath.Ext(file)]
			if !ok {
				t.Fatalf("unknown log kind %s: add it to the table", file)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want, err := buildlog.Read(f, kind.format)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readTiming("x", file)
			if err != nil {
				t.Fatal(err)
			}
			if got.Builder != kind.builder || len(got.Steps) != len(want) {
				t.Fatalf("readTiming: builder %q with %d steps, want %q with %d", got.Builder, len(got.Steps), kind.builder, len(want))
			}
		})
	}
	if n < 16 {
		t.Fatalf("found %d captured logs, want at least 16", n)
	}
}

func TestReadTimingErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.log")
	os.WriteFile(bad, []byte("hello\nworld\n"), 0o644)
	if _, err := readTiming("x", bad); err == nil || !strings.Contains(err.Error(), "not a BuildKit") {
		t.Errorf("unknown format: error %v", err)
	}
	trunc := filepath.Join(dir, "trunc.json")
	os.WriteFile(trunc, []byte("{\"vertexes\":[{\"digest\":"), 0o644)
	if _, err := readTiming("x", trunc); err == nil || !strings.Contains(err.Error(), "trunc.json: build log line") {
		t.Errorf("truncated log: error %v", err)
	}
	if _, err := readTiming("x", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "reading build log") {
		t.Errorf("missing log: error %v", err)
	}
}
