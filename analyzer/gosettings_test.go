package analyzer

import (
	"slices"
	"testing"
)

func TestGoBuilds(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dockerfile string
		want       string // GoSettings.String of the first go build
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

func TestParseGoSettings(t *testing.T) {
	s, err := ParseGoSettings(`CGO_ENABLED=0 GOTOOLCHAIN=go1.22.3 -trimpath -tags "netgo osusergo" -o out -v -pgo=off ./cmd/x`)
	if err != nil {
		t.Fatal(err)
	}
	s.Normalize()
	const want = "go1.22.3 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath -tags=netgo,osusergo -pgo=off"
	if got := s.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// What CC012 suggests passing to warm --build-flags: the same settings
	// as flags warm reads back, the caches left out.
	const wantFlags = "GOTOOLCHAIN=go1.22.3 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 -trimpath -tags=netgo,osusergo -pgo=off"
	if got := flagsOf(s); got != wantFlags {
		t.Errorf("flagsOf: got  %s\nwant %s", got, wantFlags)
	}
	back, err := ParseGoSettings(flagsOf(s))
	if err != nil {
		t.Fatalf("ParseGoSettings(flagsOf): %v", err)
	}
	back.Normalize()
	if back.String() != s.String() {
		t.Errorf("flagsOf does not parse back:\ngot  %s\nwant %s", back, s)
	}
	if _, err := ParseGoSettings(`-tags "netgo`); err == nil {
		t.Error("unterminated quote accepted")
	}
	if mm := s.Mismatches(s); len(mm) != 0 {
		t.Errorf("settings differ from themselves: %q", mm)
	}
}

func TestDifferences(t *testing.T) {
	parse := func(line string) GoSettings {
		t.Helper()
		s, err := ParseGoSettings(line)
		if err != nil {
			t.Fatal(err)
		}
		s.Normalize()
		return s
	}
	for _, tc := range []struct {
		name, build, cache string
		// want is each difference as "Setting|BuildWords|CacheWords|String".
		want []string
	}{
		{"same", "GOTOOLCHAIN=go1.26.8 -trimpath", "GOTOOLCHAIN=go1.26.8 -trimpath", nil},
		{"release of the language version", "GOTOOLCHAIN=go1.26 -trimpath", "GOTOOLCHAIN=go1.26.8 -trimpath", nil},
		{"unknown cgo is not compared", "-trimpath", "CGO_ENABLED=0 -trimpath", nil},
		{"go version and trimpath", "GOTOOLCHAIN=go1.25", "GOTOOLCHAIN=go1.26.8 -trimpath", []string{
			"Go version|go1.25|go1.26.8|Go version: the build uses go1.25, the cache was built with go1.26.8",
			"-trimpath|no -trimpath|-trimpath|-trimpath: the cache was built with it, the build does not use it",
		}},
		{"tags, flags and arch", "GOARCH=arm64 -trimpath -tags=netgo -race", "-trimpath", []string{
			"GOARCH|GOARCH=arm64|GOARCH=amd64|GOARCH: the build uses arm64, the cache was built with amd64",
			"build tags|-tags=netgo|no build tags|build tags: the build uses netgo, the cache was built with none",
			"build flags|-race|no compile flags|build flags: the build uses -race, the cache was built with none",
		}},
		{"module cache without trimpath", "GOMODCACHE=/root/go/pkg/mod", "", []string{
			"GOMODCACHE|GOMODCACHE=/root/go/pkg/mod|GOMODCACHE=/go/pkg/mod|GOMODCACHE: the build uses /root/go/pkg/mod, the cache was built with /go/pkg/mod",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c := parse(tc.build), parse(tc.cache)
			var got []string
			for _, d := range b.Differences(c) {
				got = append(got, d.Setting+"|"+d.BuildWords()+"|"+d.CacheWords()+"|"+d.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Differences:\n got %q\nwant %q", got, tc.want)
			}
			if mm := b.Mismatches(c); len(mm) != len(got) {
				t.Errorf("Mismatches gives %d, Differences %d", len(mm), len(got))
			}
		})
	}
}
