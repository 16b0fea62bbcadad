package analyzer_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/reports"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/corpus")

// TestCorpus analyses each realistic Dockerfile of testdata/corpus and
// compares the text, JSON and SARIF renderings with the golden files beside
// it (NAME.txt, NAME.json, NAME.sarif). Run with -update to rewrite them.
//
// The archive comment may hold "dockerfile PATH" and "deps-image REF".
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	meta := reports.Meta{Tool: "cachecheck", Version: "test", Rules: analyzer.Rules}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fsys := fstest.MapFS{}
			for _, f := range ar.Files {
				fsys[f.Name] = &fstest.MapFile{Data: f.Data, Mode: 0o644}
			}
			dockerfile, deps := "Dockerfile", ""
			for _, line := range strings.Split(string(ar.Comment), "\n") {
				if v, ok := strings.CutPrefix(line, "dockerfile "); ok {
					dockerfile = v
				}
				if v, ok := strings.CutPrefix(line, "deps-image "); ok {
					deps = v
				}
			}
			b, err := analyzer.Load(fsys, analyzer.WithDockerfile(nil, dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			var opts []analyzer.Option
			if deps != "" {
				opts = append(opts, analyzer.WithDepsImage(deps))
			}
			findings, err := analyzer.Analyze(b, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for ext, h := range map[string]func(*bytes.Buffer) reports.Handler{
				".txt":   func(w *bytes.Buffer) reports.Handler { return reports.NewText(w) },
				".json":  func(w *bytes.Buffer) reports.Handler { return reports.NewJSON(w, meta) },
				".sarif": func(w *bytes.Buffer) reports.Handler { return reports.NewSARIF(w, meta) },
			} {
				var buf bytes.Buffer
				out := h(&buf)
				for i := range findings {
					if err := out.Finding(&findings[i]); err != nil {
						t.Fatal(err)
					}
				}
				if err := out.Flush(); err != nil {
					t.Fatal(err)
				}
				golden := strings.TrimSuffix(file, ".txtar") + ext
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s differs from the analysis (go test -update rewrites it):\n got:\n%s\nwant:\n%s", golden, buf.Bytes(), want)
				}
			}
		})
	}
}
