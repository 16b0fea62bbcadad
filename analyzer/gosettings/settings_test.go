package gosettings

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	s, err := Parse(`CGO_ENABLED=0 GOTOOLCHAIN=go1.22.3 -trimpath -tags "netgo osusergo" -o out -v -pgo=off ./cmd/x`)
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
	if got := s.BuildFlags(); got != wantFlags {
		t.Errorf("BuildFlags: got  %s\nwant %s", got, wantFlags)
	}
	back, err := Parse(s.BuildFlags())
	if err != nil {
		t.Fatalf("Parse(BuildFlags): %v", err)
	}
	back.Normalize()
	if back.String() != s.String() {
		t.Errorf("BuildFlags does not parse back:\ngot  %s\nwant %s", back, s)
	}
	if _, err := Parse(`-tags "netgo`); err == nil {
		t.Error("unterminated quote accepted")
	}
	if mm := s.Mismatches(s); len(mm) != 0 {
		t.Errorf("settings differ from themselves: %q", mm)
	}
}

func TestDifferences(t *testing.T) {
	parse := func(line string) Settings {
		t.Helper()
		s, err := Parse(line)
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
