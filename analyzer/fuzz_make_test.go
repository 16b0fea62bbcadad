package analyzer

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/tools/txtar"
)

// FuzzMakefile feeds arbitrary Makefile and script text, and a make command
// line, through the Makefile reader and the shell walker: following must
// end quickly with go commands or reasons, never panic. Seeds are the
// Makefiles and scripts of testdata/rules, plus
// testdata/fuzz/FuzzMakefile.
func FuzzMakefile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/rules/*.txtar")
	for _, file := range seeds {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, x := range ar.Files {
			switch {
			case strings.HasSuffix(x.Name, "Makefile"), strings.HasSuffix(x.Name, ".mk"):
				f.Add(x.Data, []byte("#!/bin/sh\ngo build ./...\n"), "build")
			case strings.HasSuffix(x.Name, ".sh"):
				f.Add([]byte("all:\n\t./build.sh\n"), x.Data, "")
			}
		}
	}
	f.Add([]byte("include inc.mk\nA = $(A)\nB := $(foreach x,1 2 3,$(call f,$(x)))\n%.o: %.c ; go build $*\nall: a.o\n"), []byte("f() { f; }\nf\n"), "all")
	f.Fuzz(func(t *testing.T, makefile, script []byte, goal string) {
		if len(makefile) > 16<<10 || len(script) > 8<<10 || len(goal) > 100 {
			return
		}
		fsys := fstest.MapFS{
			"Dockerfile": {Data: []byte("FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN make " + strings.ReplaceAll(goal, "\n", " ") + "\n")},
			"go.mod":     {Data: []byte(goModule)},
			"Makefile":   {Data: makefile},
			"inc.mk":     {Data: makefile},
			"build.sh":   {Data: script, Mode: 0o755},
		}
		b, err := Load(fsys)
		if err != nil {
			return
		}
		start := time.Now()
		for _, st := range b.Stages {
			for _, in := range st.Instructions {
				for _, c := range b.runCalls(st, in) {
					if c.from != nil && (c.sub == "" || c.from.via == "") {
						t.Fatalf("malformed go command %+v %+v", c, *c.from)
					}
				}
			}
		}
		findings, err := Analyze(b)
		if err != nil {
			return
		}
		for _, fd := range findings {
			if fd.Line < 1 || fd.EndLine < fd.Line || fd.Message == "" || fd.Fix == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("following took %v", d)
		}
	})
}
