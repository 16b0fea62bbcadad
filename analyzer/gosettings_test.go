package analyzer

import (
	"slices"
	"testing"
)

func TestGoBuilds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dockerfile string
		want       string // gosettings.Settings.String of the first go build
		pkgs       []string
	}{
		{"defaults", "FROM golang:1.22.3\nRUN go build -o /app .\n",
			"go1.22.3 GOOS=linux GOARCH=amd64 GOAMD64=v1 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build", []string{"."}},
		{"inline env and flags", "FROM golang:1.22-alpine\nRUN apk add git && CGO_ENABLED=0 GOAMD64=v2 go build -trimpath -tags=netgo,osusergo -race -ldflags='-s -w' -o /app ./cmd/a ./cmd/b\n",
			"go1.22 GOOS=linux GOARCH=amd64 GOAMD64=v2 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath -tags=netgo,osusergo -race", []string{"./cmd/a", "./cmd/b"}},
		{"ENV, GOFLAGS and the command line wins", "FROM golang:1.23\nENV GOFLAGS=\"-trimpath -tags=a\" GOCACHE=/cache\nRUN go install -tags b -gcflags all=-N ./...\n",
			"go1.23 GOOS=linux GOARCH=amd64 GOAMD64=v1 GOMODCACHE=/go/pkg/mod GOCACHE=/cache -trimpath -tags=b -gcflags=all=-N", []string{"./..."}},
		{"platform and ARG expansion", "FROM --platform=linux/arm64 golang:1.22 AS b\nARG TARGETOS=linux\nRUN GOOS=$TARGETOS go build -o /x .\n",
			"go1.22 GOOS=linux GOARCH=arm64 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build", []string{"."}},
		{"unknown variable", "FROM golang:1.22\nRUN GOARCH=$TARGETARCH go build .\n",
			"go1.22 GOOS=linux GOARCH=amd64 GOAMD64=v1 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build", []string{"."}},
		{"export and GOTOOLCHAIN", "FROM debian\nENV GOTOOLCHAIN=go1.24.1 HOME=/home/u\nRUN export CGO_ENABLED=1; go build ./cmd/x\n",
			"go1.24.1 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=1 GOMODCACHE=/home/u/go/pkg/mod GOCACHE=/home/u/.cache/go-build", []string{"./cmd/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse("Dockerfile", []byte(tc.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			gbs := b.GoBuilds()
			if len(gbs) == 0 {
				t.Fatal("no go build found")
			}
			if got := gbs[0].Settings.String(); got != tc.want {
				t.Errorf("settings\n got %s\nwant %s", got, tc.want)
			}
			if !slices.Equal(gbs[0].Packages, tc.pkgs) {
				t.Errorf("packages %q, want %q", gbs[0].Packages, tc.pkgs)
			}
		})
	}
}
