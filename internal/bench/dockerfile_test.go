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
	const off = offlineComment + "\n" + offlineEnv + "\n"
	tests := []struct {
		name, in, want string
		offline, arg   bool
	}{
		{"named stage", "ARG BASE=golang:1.26\nFROM ${BASE} AS build\nRUN go mod download\nFROM scratch\n",
			"ARG BASE=golang:1.26\n# cachecheck bench: was FROM ${BASE} AS build\nFROM deps:1 AS build\nRUN go mod download\nFROM scratch\n", false, false},
		{"platform, unnamed", "FROM --platform=$BUILDPLATFORM golang:1.26\nRUN go build\n",
			"# cachecheck bench: was FROM --platform=$BUILDPLATFORM golang:1.26\nFROM --platform=$BUILDPLATFORM deps:1\nRUN go build\n", false, false},
		{"DEPS_IMAGE declared", "ARG DEPS_IMAGE=golang:1.26\nFROM ${DEPS_IMAGE} AS build\nRUN go build\n",
			"ARG DEPS_IMAGE=golang:1.26\nFROM ${DEPS_IMAGE} AS build\nRUN go build\n", false, true},
		// Offline: GOPROXY=off right after the FROM of the Go builder
		// stage and again after each ARG declaring GOPROXY in the stages
		// built on it (BuildKit lets such an ARG override an earlier
		// ENV), and in no other stage.
		{"offline, multi-stage", "ARG BASE=golang:1.26\nFROM golang:1.26 AS tools\nARG GOPROXY\nRUN go install example.com/tool@v1\nFROM ${BASE} AS build\nARG GOPROXY\nRUN go mod download\nFROM build AS test\nARG GOSUMDB GOPROXY=https://proxy.example.com\nRUN go test ./...\nFROM scratch\nARG GOPROXY\nCOPY --from=build /out /out\n",
			"ARG BASE=golang:1.26\nFROM golang:1.26 AS tools\nARG GOPROXY\nRUN go install example.com/tool@v1\n# cachecheck bench: was FROM ${BASE} AS build\nFROM deps:1 AS build\n" + off + "ARG GOPROXY\n" + off + "RUN go mod download\nFROM build AS test\nARG GOSUMDB GOPROXY=https://proxy.example.com\n" + off + "RUN go test ./...\nFROM scratch\nARG GOPROXY\nCOPY --from=build /out /out\n", true, false},
		{"offline, ARG GOPROXYS is another", "FROM golang:1.26 AS build\nARG GOPROXYS\nRUN go build .\n",
			"# cachecheck bench: was FROM golang:1.26 AS build\nFROM deps:1 AS build\n" + off + "ARG GOPROXYS\nRUN go build .\n", true, false},
		{"offline, FROM on two lines", "FROM --platform=$BUILDPLATFORM \\\n    golang:1.26 AS build\nRUN go build .\n",
			"# cachecheck bench: was FROM --platform=$BUILDPLATFORM golang:1.26 AS build\nFROM --platform=$BUILDPLATFORM deps:1 AS build\n" + off + "RUN go build .\n", true, false},
		{"offline, DEPS_IMAGE declared", "ARG DEPS_IMAGE=golang:1.26\nFROM ${DEPS_IMAGE} AS build\nRUN go build\n",
			"ARG DEPS_IMAGE=golang:1.26\nFROM ${DEPS_IMAGE} AS build\n" + off + "RUN go build\n", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := analyzer.Parse("Dockerfile", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, arg, err := fromDepsImage(b, b.Lines, "deps:1", tc.offline)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || arg != tc.arg {
				t.Errorf("got (%v)\n%s\nwant (%v)\n%s", arg, got, tc.arg, tc.want)
			}
			if _, err := analyzer.Parse("Dockerfile", []byte(got)); err != nil {
				t.Errorf("the derived Dockerfile does not parse: %v", err)
			}
		})
	}
	b, _ := analyzer.Parse("Dockerfile", []byte("FROM alpine\nRUN true\n"))
	if _, _, err := fromDepsImage(b, b.Lines, "deps:1", true); err == nil {
		t.Error("fromDepsImage of a Dockerfile without go: no error")
	}
}

func TestDerivedDockerfile(t *testing.T) {
	b, err := analyzer.Parse("Dockerfile", []byte("FROM golang:1.26 AS build\nRUN --mount=type=cache,target=/go/pkg/mod go mod download\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := DerivedDockerfile(b, "deps:1")
	if err != nil {
		t.Fatal(err)
	}
	want := "# cachecheck bench: was FROM golang:1.26 AS build\nFROM deps:1 AS build\n" + offlineComment + "\n" + offlineEnv + "\nRUN go mod download\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWithoutHidingMounts(t *testing.T) {
	const mc = "hides the deps image's module cache /go/pkg/mod"
	tests := []struct {
		name, in, want string
		buildCache     bool
		dropped        []string
	}{
		{"GOCACHE, continuation line",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN --mount=type=cache,target=/root/.cache/go-build \\\n    go build -o /out/api ./cmd/api\nFROM scratch\n",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN \\\n    go build -o /out/api ./cmd/api\nFROM scratch\n",
			true, []string{"Dockerfile:3 (/root/.cache/go-build): hides the deps image's build cache (GOCACHE /root/.cache/go-build)"}},
		{"GOCACHE kept without a build cache",
			"FROM golang:1.26 AS build\nRUN --mount=type=cache,target=/root/.cache/go-build go build .\n",
			"FROM golang:1.26 AS build\nRUN --mount=type=cache,target=/root/.cache/go-build go build .\n",
			false, nil},
		{"GOMODCACHE on go mod download",
			"FROM golang:1.26 AS build\nRUN --mount=type=cache,target=/go/pkg/mod go mod download\nRUN --mount=type=cache,target=/go/pkg/mod/ --mount=type=cache,target=/root/.cache/go-build go build .\n",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN --mount=type=cache,target=/root/.cache/go-build go build .\n",
			false, []string{"Dockerfile:2 (/go/pkg/mod): " + mc, "Dockerfile:3 (/go/pkg/mod): " + mc}},
		{"GOPATH and GOCACHE's parent, build cache",
			"FROM golang:1.26 AS build\nRUN --mount=type=cache,target=/go --mount=type=cache,target=/root/.cache go build .\n",
			"FROM golang:1.26 AS build\nRUN go build .\n",
			true, []string{"Dockerfile:2 (/go): " + mc, "Dockerfile:2 (/root/.cache): hides the deps image's build cache (GOCACHE /root/.cache/go-build)"}},
		{"parent of GOCACHE from ENV, dst=",
			"FROM golang:1.26\nENV GOCACHE=/cache/gobuild\nRUN --mount=type=cache,dst=/cache,id=gb go build .\n",
			"FROM golang:1.26\nENV GOCACHE=/cache/gobuild\nRUN go build .\n",
			true, []string{"Dockerfile:3 (/cache): hides the deps image's build cache (GOCACHE /cache/gobuild)"}},
		{"mounts on other paths kept",
			"FROM golang:1.26\nRUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/go/pkg/modx --mount=type=cache,target=/root/.cache/golangci-lint --mount=type=bind,target=/go go build .\n",
			"FROM golang:1.26\nRUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/go/pkg/modx --mount=type=cache,target=/root/.cache/golangci-lint --mount=type=bind,target=/go go build .\n",
			true, nil},
		{"other stage's mounts kept",
			"FROM golang:1.26 AS build\nRUN go mod download\nFROM alpine AS tools\nRUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build go build .\n",
			"FROM golang:1.26 AS build\nRUN go mod download\nFROM alpine AS tools\nRUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build go build .\n",
			true, nil},
		{"stage built on the builder stage",
			"FROM golang:1.26 AS base\nRUN go mod download\nFROM base AS build\nRUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod go build .\n",
			"FROM golang:1.26 AS base\nRUN go mod download\nFROM base AS build\nRUN go build .\n",
			true, []string{"Dockerfile:4 (/root/.cache/go-build): hides the deps image's build cache (GOCACHE /root/.cache/go-build)", "Dockerfile:4 (/go/pkg/mod): " + mc}},
		{"no mount", "FROM golang:1.26\nRUN go build .\n", "FROM golang:1.26\nRUN go build .\n", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := analyzer.Parse("Dockerfile", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			lines, dropped := withoutHidingMounts(b, tc.buildCache)
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

func TestWithDownloadX(t *testing.T) {
	tests := []struct{ in, want string }{
		{"RUN go mod download\n", "RUN go mod download -x\n"},
		{"RUN go mod download -x\n", "RUN go mod download -x\n"},
		{"RUN go mod download && go build .\n", "RUN go mod download -x && go build .\n"},
		{"RUN go mod download golang.org/x/sync\n", "RUN go mod download -x golang.org/x/sync\n"},
		{"RUN go  mod\tdownload -json\n", "RUN go  mod\tdownload -x -json\n"},
		{"# RUN go mod download\nRUN go build .\n", "# RUN go mod download\nRUN go build .\n"},
		{"RUN go mod downloads\n", "RUN go mod downloads\n"},
	}
	for _, tc := range tests {
		if got := withDownloadX(tc.in); got != tc.want {
			t.Errorf("withDownloadX(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDepsModCache(t *testing.T) {
	if depsModCache != "/go/pkg/mod" {
		t.Errorf("depsModCache %q: the deps image's GOMODCACHE is /go/pkg/mod (GOPATH /go); bench would drop the wrong mounts", depsModCache)
	}
}

func TestWithoutRunFlags(t *testing.T) {
	tests := []struct {
		name, in, want string
		taken          []string
	}{
		{"the fixture's cache mount, continuation line",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN --mount=type=cache,target=/root/.cache/go-build \\\n    CGO_ENABLED=0 go build -o /out/api ./cmd/api\nFROM scratch\n",
			"FROM golang:1.26 AS build\nRUN go mod download\nRUN \\\n    CGO_ENABLED=0 go build -o /out/api ./cmd/api\nFROM scratch\n",
			[]string{"Dockerfile:3 --mount=type=cache,target=/root/.cache/go-build"}},
		{"every flag, lower-case run, on the command's line",
			"FROM golang:1.26\nrun --mount=type=bind,target=. --network=none --security=sandbox go build .\n",
			"FROM golang:1.26\nrun go build .\n",
			[]string{"Dockerfile:2 --mount=type=bind,target=.", "Dockerfile:2 --network=none", "Dockerfile:2 --security=sandbox"}},
		{"flags on the continuation lines before the command",
			"FROM golang:1.26\nRUN \\\n  --mount=type=cache,target=/go/pkg/mod \\\n  --mount=type=cache,target=/root/.cache/go-build \\\n  go build .\n",
			"FROM golang:1.26\nRUN \\\n  \\\n  \\\n  go build .\n",
			[]string{"Dockerfile:3 --mount=type=cache,target=/go/pkg/mod", "Dockerfile:4 --mount=type=cache,target=/root/.cache/go-build"}},
		{"flags in the command kept",
			"FROM golang:1.26\nRUN go test --count=1 ./... && \\\n  docker run --network=host x\n",
			"FROM golang:1.26\nRUN go test --count=1 ./... && \\\n  docker run --network=host x\n",
			nil},
		{"exec form and other instructions",
			"FROM --platform=linux/amd64 golang:1.26\nCOPY --link . .\nRUN [\"go\", \"build\", \".\"]\n",
			"FROM --platform=linux/amd64 golang:1.26\nCOPY --link . .\nRUN [\"go\", \"build\", \".\"]\n",
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := analyzer.Parse("Dockerfile", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			lines, taken := withoutRunFlags(b, b.Lines)
			if got := strings.Join(lines, "\n"); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !slices.Equal(taken, tc.taken) {
				t.Errorf("taken %q, want %q", taken, tc.taken)
			}
			if strings.Join(b.Lines, "\n") != tc.in {
				t.Error("the Build's own lines changed")
			}
			// What is left parses, and has no RUN flag.
			after, err := analyzer.Parse("Dockerfile", []byte(strings.Join(lines, "\n")))
			if err != nil {
				t.Fatalf("the Dockerfile without RUN flags does not parse: %v", err)
			}
			for _, st := range after.Stages {
				for _, in := range st.Instructions {
					if in.Run() != nil && len(in.Mounts()) > 0 {
						t.Errorf("line %d keeps a mount: %q", in.Line, in.Text)
					}
				}
			}
		})
	}
}
