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
// steps are those the analyzer's own reader finds.
func TestReadTiming(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "analyzer", "buildlog", "testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, ".golden") {
			continue
		}
		n++
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var want []buildlog.Step
			builder := "buildkit"
			switch filepath.Ext(file) {
			case ".rawjson":
				want, err = buildlog.Read(f, buildlog.BuildKitJSON)
			case ".plain":
				want, err = buildlog.Read(f, buildlog.BuildKitPlain)
			case ".log":
				want, err = buildlog.Read(f, buildlog.Buildah)
				builder = "buildah"
			default:
				t.Skipf("unknown log kind %s", file)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := readTiming("x", file)
			if err != nil {
				t.Fatal(err)
			}
			if got.Builder != builder || len(got.Steps) != len(want) {
				t.Fatalf("readTiming: builder %q with %d steps, want %q with %d", got.Builder, len(got.Steps), builder, len(want))
			}
		})
	}
	if n < 3 {
		t.Fatalf("found %d captured logs, want at least 3", n)
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
