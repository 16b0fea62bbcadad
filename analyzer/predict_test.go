package analyzer_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
)

const predictDockerfile = `FROM golang:1.26 AS build
ARG VERSION=1
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags "-X main.version=$VERSION" -o /out/api ./cmd/api

FROM alpine:3.20 AS tools
RUN apk add --no-cache ca-certificates

FROM scratch
COPY --from=tools /etc/ssl/certs /etc/ssl/certs
COPY --from=build /out/api /api
`

func predictFiles() fstest.MapFS {
	return fstest.MapFS{
		"Dockerfile":       {Data: []byte(predictDockerfile)},
		".dockerignore":    {Data: []byte(".git\n*.md\nDockerfile\n")},
		"go.mod":           {Data: []byte("module example.com/api\n\ngo 1.24\n\nrequire golang.org/x/sync v0.14.0\n")},
		"go.sum":           {Data: []byte("golang.org/x/sync v0.14.0 h1:abc=\n")},
		"cmd/api/main.go":  {Data: []byte("package main\n\nfunc main() {}\n")},
		"internal/a/a.go":  {Data: []byte("package a\n")},
		"scripts/gen.sh":   {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		"README.md":        {Data: []byte("# api\n")},
		".git/HEAD":        {Data: []byte("ref: refs/heads/main\n")},
		"docs/design.md":   {Data: []byte("design\n")},
		"internal/a/b.txt": {Data: []byte("b\n")},
	}
}

// verdicts renders a prediction as "stage:line:HIT|MISS" words.
func verdicts(p *analyzer.Prediction) string {
	var w []string
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			v := "HIT"
			if !s.Hit {
				v = "MISS"
			}
			w = append(w, fmt.Sprintf("%s:%d:%s", st.Stage, s.Line, v))
		}
	}
	return strings.Join(w, " ")
}

func TestPredict(t *testing.T) {
	tests := []struct {
		name   string
		change func(fstest.MapFS)
		want   string // verdicts
		reason string // in the first miss's reason
	}{
		{"unchanged", func(fstest.MapFS) {},
			"build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:HIT build:7:HIT tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:HIT", ""},
		{"code change", func(m fstest.MapFS) {
			m["cmd/api/main.go"] = &fstest.MapFile{Data: []byte("package main\n\nfunc main() { println() }\n")}
		},
			"build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"COPY . . misses: cmd/api/main.go changed"},
		{"new file", func(m fstest.MapFS) { m["internal/a/c.go"] = &fstest.MapFile{Data: []byte("package a\n")} },
			"build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"internal/a/c.go changed"},
		{"dependency change", func(m fstest.MapFS) {
			m["go.sum"] = &fstest.MapFile{Data: []byte("golang.org/x/sync v0.15.0 h1:def=\n")}
		},
			"build:1:HIT build:3:HIT build:4:MISS build:5:MISS build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"COPY go.mod go.sum ./ misses: go.sum changed"},
		{"ignored files only", func(m fstest.MapFS) {
			m["README.md"] = &fstest.MapFile{Data: []byte("# new\n")}
			m[".git/HEAD"] = &fstest.MapFile{Data: []byte("ref: refs/heads/x\n")}
		}, "build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:HIT build:7:HIT tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:HIT", ""},
		{"mtime only", func(m fstest.MapFS) {
			f := *m["cmd/api/main.go"]
			f.ModTime = time.Unix(1e9, 0)
			m["cmd/api/main.go"] = &f
		}, "build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:HIT build:7:HIT tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:HIT", ""},
		{"mode change", func(m fstest.MapFS) {
			f := *m["internal/a/b.txt"]
			f.Mode = 0o755
			m["internal/a/b.txt"] = &f
		}, "build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"internal/a/b.txt changed"},
		{"build arg default", func(m fstest.MapFS) {
			m["Dockerfile"] = &fstest.MapFile{Data: []byte(strings.Replace(predictDockerfile, "VERSION=1", "VERSION=2", 1))}
		}, // Every RUN after an ARG sees it in its environment, so the
			// download misses too, as BuildKit documents.
			"build:1:HIT build:3:HIT build:4:HIT build:5:MISS build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"RUN go mod download misses: build arg VERSION changed"},
		{"Dockerfile in the context", func(m fstest.MapFS) {
			m[".dockerignore"] = &fstest.MapFile{Data: []byte(".git\n")}
		}, "build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"COPY . . misses: .dockerignore, Dockerfile, README.md changed"},
		{"base image", func(m fstest.MapFS) {
			m["Dockerfile"] = &fstest.MapFile{Data: []byte(strings.Replace(predictDockerfile, "alpine:3.20", "alpine:3.21", 1))}
		}, "build:1:HIT build:3:HIT build:4:HIT build:5:HIT build:6:HIT build:7:HIT tools:9:MISS tools:10:MISS 2:12:HIT 2:13:MISS 2:14:MISS",
			"base image changed from alpine:3.20 to alpine:3.21"},
		{"instruction text", func(m fstest.MapFS) {
			m["Dockerfile"] = &fstest.MapFile{Data: []byte(strings.Replace(predictDockerfile, "go mod download", "go mod download -x", 1))}
		}, "build:1:HIT build:3:HIT build:4:HIT build:5:MISS build:6:MISS build:7:MISS tools:9:HIT tools:10:HIT 2:12:HIT 2:13:HIT 2:14:MISS",
			"instruction changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			baseFS := predictFiles()
			headFS := predictFiles()
			tc.change(headFS)
			base, err := analyzer.Load(baseFS)
			if err != nil {
				t.Fatal(err)
			}
			head, err := analyzer.Load(headFS)
			if err != nil {
				t.Fatal(err)
			}
			p, err := analyzer.Predict(base, head)
			if err != nil {
				t.Fatal(err)
			}
			if got := verdicts(p); got != tc.want {
				t.Errorf("verdicts:\n got %s\nwant %s", got, tc.want)
			}
			var first *analyzer.StepPrediction
			for i := range p.Stages {
				if first = p.Stages[i].FirstMiss(); first != nil {
					break
				}
			}
			switch {
			case tc.reason == "" && first != nil:
				t.Errorf("unexpected miss: %s", first.Reason)
			case tc.reason != "" && (first == nil || !strings.Contains(first.Reason, tc.reason)):
				t.Errorf("first miss %+v, want reason containing %q", first, tc.reason)
			}
			reused, found := p.ModuleDownloadReused()
			wantReused := !strings.Contains(tc.want, "build:5:MISS")
			if !found || reused != wantReused {
				t.Errorf("ModuleDownloadReused = %v, %v; want %v, true", reused, found, wantReused)
			}
		})
	}
}

var _ fs.FS = fstest.MapFS{}

// TestPredictClassic: the classic docker builder decides the layer steps
// as BuildKit does, but caches every instruction one after another, so a
// changed configuration instruction (ARG's default, ENV, LABEL, ...) makes
// every later step miss, COPY included, where BuildKit only reruns what
// sees the change; a --build-arg value leaves the ARG step cached.
func TestPredictClassic(t *testing.T) {
	const df = `FROM golang:1.26 AS build
ARG VERSION=1
WORKDIR /src
ENV MODE=a
COPY go.mod go.sum ./
LABEL version=$VERSION
RUN go mod download
COPY . .
RUN go build -o /out/api ./cmd/api
`
	const all = "build:1:HIT build:3:HIT build:5:HIT build:7:HIT build:8:HIT build:9:HIT"
	tests := []struct {
		name              string
		head              string
		args              map[string]string
		buildkit, classic string
		reason            string // in the classic first miss's reason
	}{
		{"unchanged", df, nil, all, all, ""},
		{"ARG default", strings.Replace(df, "VERSION=1", "VERSION=2", 1), nil,
			"build:1:HIT build:3:HIT build:5:HIT build:7:MISS build:8:MISS build:9:MISS",
			"build:1:HIT build:3:MISS build:5:MISS build:7:MISS build:8:MISS build:9:MISS",
			`ARG VERSION=2 at line 2 misses: instruction changed (was "ARG VERSION=1" at line 2)`},
		{"ENV before a COPY", strings.Replace(df, "MODE=a", "MODE=b", 1), nil,
			"build:1:HIT build:3:HIT build:5:HIT build:7:MISS build:8:MISS build:9:MISS",
			"build:1:HIT build:3:HIT build:5:MISS build:7:MISS build:8:MISS build:9:MISS",
			"ENV MODE=b at line 4 misses: instruction changed"},
		{"LABEL text", strings.Replace(df, "LABEL version=", "LABEL v=", 1), nil,
			all,
			"build:1:HIT build:3:HIT build:5:HIT build:7:MISS build:8:MISS build:9:MISS",
			"LABEL v=$VERSION at line 6 misses: instruction changed"},
		{"build arg value: the ARG step hits, the LABEL that expands it misses", df, map[string]string{"VERSION": "3"},
			"build:1:HIT build:3:HIT build:5:HIT build:7:MISS build:8:MISS build:9:MISS",
			"build:1:HIT build:3:HIT build:5:HIT build:7:MISS build:8:MISS build:9:MISS",
			"LABEL version=$VERSION at line 6 misses: the value it sets changed"},
		{"configuration instruction removed", strings.Replace(df, "ENV MODE=a\n", "", 1), nil,
			"build:1:HIT build:3:HIT build:4:HIT build:6:MISS build:7:MISS build:8:MISS",
			"build:1:HIT build:3:HIT build:4:MISS build:6:MISS build:7:MISS build:8:MISS",
			`COPY go.mod go.sum ./ misses: instruction changed (was "ENV MODE=a" at line 4)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := predictFiles()
			files["Dockerfile"] = &fstest.MapFile{Data: []byte(df)}
			base, err := analyzer.Load(files)
			if err != nil {
				t.Fatal(err)
			}
			headFiles := predictFiles()
			headFiles["Dockerfile"] = &fstest.MapFile{Data: []byte(tc.head)}
			head, err := analyzer.Load(headFiles, analyzer.WithBuildArgs(tc.args))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				opts []analyzer.PredictOption
				want string
			}{{"buildkit", nil, tc.buildkit}, {"classic", []analyzer.PredictOption{analyzer.WithClassicDockerBuilder()}, tc.classic}} {
				p, err := analyzer.Predict(base, head, c.opts...)
				if err != nil {
					t.Fatal(err)
				}
				if got := verdicts(p); got != c.want {
					t.Errorf("%s verdicts:\n got %s\nwant %s", c.name, got, c.want)
				}
				if c.name == "classic" && tc.reason != "" {
					if fm := p.Stages[0].FirstMiss(); fm == nil || !strings.Contains(fm.Reason, tc.reason) {
						t.Errorf("classic first miss %+v, want reason containing %q", fm, tc.reason)
					}
				}
			}
		})
	}
}

func TestPredictHeredoc(t *testing.T) {
	df := "# syntax=docker/dockerfile:1\nFROM alpine:3.20\nRUN <<EOF\necho %s\nEOF\nCOPY <<EOF /etc/motd\nhello\nEOF\n"
	load := func(word string) *analyzer.Build {
		b, err := analyzer.Load(fstest.MapFS{"Dockerfile": {Data: []byte(fmt.Sprintf(df, word))}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p, err := analyzer.Predict(load("a"), load("a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := verdicts(p), "0:2:HIT 0:3:HIT 0:6:HIT"; got != want {
		t.Errorf("unchanged heredoc: %s, want %s", got, want)
	}
	p, err = analyzer.Predict(load("a"), load("b"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := verdicts(p), "0:2:HIT 0:3:MISS 0:6:MISS"; got != want {
		t.Errorf("changed heredoc: %s, want %s", got, want)
	}
}

// FuzzPredict compares arbitrary Dockerfiles: Predict must not panic, and
// a build compared with itself must hit everywhere.
func FuzzPredict(f *testing.F) {
	f.Add([]byte(predictDockerfile), []byte(strings.Replace(predictDockerfile, "alpine", "debian", 1)))
	f.Add([]byte("FROM a AS b\nFROM b\nCOPY --from=b x y\nRUN --mount=type=bind,source=x true\n"), []byte("FROM a\nARG X=1\nRUN x\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ctx := fstest.MapFS{"x": {Data: []byte("x")}}
		load := func(df []byte) *analyzer.Build {
			m := fstest.MapFS{"Dockerfile": {Data: df}}
			for k, v := range ctx {
				m[k] = v
			}
			bd, err := analyzer.Load(m)
			if err != nil {
				return nil
			}
			return bd
		}
		ba, bb := load(a), load(b)
		if ba == nil || bb == nil {
			return
		}
		if _, err := analyzer.Predict(ba, bb); err != nil {
			return
		}
		p, err := analyzer.Predict(ba, load(a))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range p.Stages {
			if fm := st.FirstMiss(); fm != nil {
				t.Fatalf("a build compared with itself misses: %s", fm.Reason)
			}
		}
	})
}

// BenchmarkPredict compares two 10,000-file contexts that differ in one
// file, through the fixture Dockerfile's two COPY steps.
func BenchmarkPredict(b *testing.B) {
	files := predictFiles()
	for i := range 10000 {
		files[fmt.Sprintf("pkg/p%03d/f%02d.go", i/100, i%100)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("package p\n\nconst X = %d\n", i))}
	}
	head := fstest.MapFS{}
	for k, v := range files {
		head[k] = v
	}
	head["pkg/p050/f50.go"] = &fstest.MapFile{Data: []byte("package p\n\nconst X = -1\n")}
	b.ResetTimer()
	for b.Loop() {
		bb, err := analyzer.Load(files)
		if err != nil {
			b.Fatal(err)
		}
		hb, err := analyzer.Load(head)
		if err != nil {
			b.Fatal(err)
		}
		p, err := analyzer.Predict(bb, hb)
		if err != nil {
			b.Fatal(err)
		}
		if fm := p.Stages[0].FirstMiss(); fm == nil || fm.Changed[0] != "pkg/p050/f50.go" {
			b.Fatalf("first miss %+v", fm)
		}
	}
}

func TestGoBuilderStage(t *testing.T) {
	tests := []struct {
		name, dockerfile, want string
	}{
		{"download stage", "FROM golang:1.26 AS build\nRUN go mod download\nFROM scratch\n", "build"},
		{"build only", "FROM alpine AS tools\nRUN apk add git\nFROM golang:1.26\nRUN go build ./...\n", "1"},
		{"derived stage", "FROM golang:1.26 AS base\nWORKDIR /src\nFROM base AS deps\nRUN go mod download\nFROM deps AS build\nRUN go build ./...\n", "base"},
		{"download wins over an earlier build", "FROM golang:1.25 AS a\nRUN go build ./...\nFROM golang:1.26 AS b\nRUN go mod download\n", "b"},
		{"no go", "FROM alpine\nRUN true\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := analyzer.Parse("Dockerfile", []byte(tc.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			st, ok := b.GoBuilderStage()
			got := ""
			if ok {
				got = st.Ref()
			}
			if got != tc.want {
				t.Errorf("GoBuilderStage = %q, want %q", got, tc.want)
			}
		})
	}
}
