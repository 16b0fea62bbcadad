package bench

import (
	"slices"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/analyzer"
)

func TestIsolateCacheMounts(t *testing.T) {
	tests := []struct{ in, want string }{
		{"RUN --mount=type=cache,target=/root/.cache/go-build go build",
			"RUN --mount=type=cache,target=/root/.cache/go-build,id=/root/.cache/go-build-x1 go build"},
		{"RUN --mount=type=cache,id=gomod,target=/go/pkg/mod --mount=type=bind,target=. go mod download",
			"RUN --mount=type=cache,id=gomod-x1,target=/go/pkg/mod --mount=type=bind,target=. go mod download"},
		{"RUN --mount=target=/go/pkg/mod,type=cache go build", "RUN --mount=target=/go/pkg/mod,type=cache,id=/go/pkg/mod-x1 go build"},
		{"RUN go build", "RUN go build"},
	}
	for _, tc := range tests {
		if got := isolateCacheMounts(tc.in, "x1"); got != tc.want {
			t.Errorf("isolateCacheMounts(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestFromDepsImage(t *testing.T) {
	tests := []struct {
		name, in, want string
		arg            bool
	}{
		{"named stage", "ARG BASE=golang:1.26\nFROM ${BASE} AS build\nRUN go mod download\nFROM scratch\n",
			"ARG BASE=golang:1.26\n# cachecheck bench: was FROM ${BASE} AS build\nFROM deps:1 AS build\nRUN go mod download\nFROM scratch\n", false},
		{"platform, unnamed", "FROM --platform=$BUILDPLATFORM golang:1.26\nRUN go build\n",
			"# cachecheck bench: was FROM --platform=$BUILDPLATFORM golang:1.26\nFROM --platform=$BUILDPLATFORM deps:1\nRUN go build\n", false},
		{"DEPS_IMAGE declared", "ARG DEPS_IMAGE=golang:1.26\nFROM ${DEPS_IMAGE} AS build\nRUN go build\n",
			"ARG DEPS_IMAGE=golang:1.26\nFROM ${DEPS_IMAGE} AS build\nRUN go build\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := analyzer.Parse("Dockerfile", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, arg, err := fromDepsImage(b, b.Lines, "deps:1")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || arg != tc.arg {
				t.Errorf("got (%v)\n%s\nwant (%v)\n%s", arg, got, tc.arg, tc.want)
			}
		})
	}
	b, _ := analyzer.Parse("Dockerfile", []byte("FROM alpine\nRUN true\n"))
	if _, _, err := fromDepsImage(b, b.Lines, "deps:1"); err == nil {
		t.Error("fromDepsImage of a Dockerfile without go: no error")
	}
}

func TestWithoutGoCacheMounts(t *testing.T) {
	tests := []struct {
		name, in, want string
		dropped        []string
	}{
		{"continuation line",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN --mount=type=cache,target=/root/.cache/go-build \\\n    go build -o /out/api ./cmd/api\nFROM scratch\n",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN \\\n    go build -o /out/api ./cmd/api\nFROM scratch\n",
			[]string{"Dockerfile:3 (/root/.cache/go-build)"}},
		{"module cache mount kept, GOCACHE from ENV",
			"FROM golang:1.26\nENV GOCACHE=/cache\nRUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,id=gb,target=/cache/ go build .\n",
			"FROM golang:1.26\nENV GOCACHE=/cache\nRUN --mount=type=cache,target=/go/pkg/mod go build .\n",
			[]string{"Dockerfile:3 (/cache)"}},
		{"other stage's builds kept",
			"FROM golang:1.26 AS build\nRUN go mod download\nFROM alpine AS tools\nRUN --mount=type=cache,target=/root/.cache/go-build go build .\n",
			"FROM golang:1.26 AS build\nRUN go mod download\nFROM alpine AS tools\nRUN --mount=type=cache,target=/root/.cache/go-build go build .\n",
			nil},
		{"stage built on the builder stage",
			"FROM golang:1.26 AS base\nRUN go mod download\nFROM base AS build\nRUN --mount=type=cache,target=/root/.cache/go-build go build .\n",
			"FROM golang:1.26 AS base\nRUN go mod download\nFROM base AS build\nRUN go build .\n",
			[]string{"Dockerfile:4 (/root/.cache/go-build)"}},
		{"no mount", "FROM golang:1.26\nRUN go build .\n", "FROM golang:1.26\nRUN go build .\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := analyzer.Parse("Dockerfile", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			lines, dropped := withoutGoCacheMounts(b)
			if got := strings.Join(lines, "\n"); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !slices.Equal(dropped, tc.dropped) {
				t.Errorf("dropped %q, want %q", dropped, tc.dropped)
			}
			if strings.Join(b.Lines, "\n") != tc.in {
				t.Error("the Build's own lines changed")
			}
		})
	}
}
