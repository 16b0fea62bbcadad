package analyzer

import (
	"path/filepath"
	"testing"
	"testing/fstest"

	"golang.org/x/tools/txtar"
)

// FuzzAnalyze feeds arbitrary Dockerfile and .dockerignore text through
// Load and Analyze: they must return findings or an error, never panic.
// Seeds are the Dockerfiles and .dockerignore files of testdata/rules and
// testdata/corpus, plus testdata/fuzz/FuzzAnalyze.
func FuzzAnalyze(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.txtar")
	for _, file := range seeds {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var df, ig []byte
		for _, x := range ar.Files {
			switch filepath.Base(x.Name) {
			case "Dockerfile":
				df = x.Data
			case ".dockerignore":
				ig = x.Data
			}
		}
		if df != nil {
			f.Add(df, ig)
		}
	}
	f.Fuzz(func(t *testing.T, dockerfile, ignore []byte) {
		// Keep each input small enough that a slow path shows up as a
		// hang rather than as a big input.
		if len(dockerfile) > 16<<10 || len(ignore) > 4<<10 {
			return
		}
		fsys := fstest.MapFS{
			"Dockerfile":         {Data: dockerfile},
			".dockerignore":      {Data: ignore},
			"go.mod":             {Data: []byte("module example.com/m\n\ngo 1.22\n\nrequire example.com/d v1.0.0\n\nreplace example.com/d => ./d\n")},
			"go.sum":             {Data: []byte("example.com/d v1.0.0 h1:AAAA\n")},
			"go.work":            {Data: []byte("go 1.22\n\nuse (\n\t.\n\t./d\n\t../out\n)\n")},
			"d/go.mod":           {Data: []byte("module example.com/d\n")},
			"main.go":            {Data: []byte("package main\n")},
			"vendor/modules.txt": {Data: []byte("# example.com/d v1.0.0\n")},
			".git/HEAD":          {Data: []byte("ref: refs/heads/main\n")},
		}
		b, err := Load(fsys)
		if err != nil {
			return
		}
		findings, err := Analyze(b, WithDepsImage("registry.example.com/deps:ck1-0"))
		if err != nil {
			return
		}
		for _, fd := range findings {
			if fd.Line < 1 || fd.EndLine < fd.Line || fd.Message == "" || fd.Fix == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
		}
		for _, st := range b.Stages {
			for _, in := range st.Instructions {
				if _, err := b.Sources(in); err != nil {
					return
				}
			}
		}
	})
}
