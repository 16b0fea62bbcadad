package gosettings

import (
	"fmt"
	"strings"
)

// Mismatches compares the settings of a build (s) with those a build cache
// was made for (cache) and describes each difference that makes the
// cache's entries unusable, such as "-trimpath: the build uses it, the
// cache was built without it": the [Difference.String] of each of
// [Settings.Differences].
func (s Settings) Mismatches(cache Settings) []string {
	var out []string
	for _, d := range s.Differences(cache) {
		out = append(out, d.String())
	}
	return out
}

// Difference is one setting in which a build differs from the settings a
// build cache was made for.
type Difference struct {
	// Setting is "Go version", "GOOS", "GOARCH", "GOAMD64", "CGO_ENABLED",
	// "GOEXPERIMENT", "-trimpath", "build tags", "build flags",
	// "GOMODCACHE" or "GOCACHE".
	Setting string
	// Build and Cache are the values of the build and of the cache, ""
	// for none; for -trimpath "true" or "".
	Build, Cache string
}

// String describes the difference as a sentence part: "GOOS: the build
// uses linux, the cache was built with windows".
func (d Difference) String() string {
	switch d.Setting {
	case "-trimpath":
		if d.Build != "" {
			return "-trimpath: the build uses it, the cache was built without it"
		}
		return "-trimpath: the cache was built with it, the build does not use it"
	case "Go version":
		return fmt.Sprintf("Go version: the build uses %s, the cache was built with %s", d.Build, d.Cache)
	}
	return fmt.Sprintf("%s: the build uses %s, the cache was built with %s", d.Setting, orNone(d.Build), orNone(d.Cache))
}

// BuildWords and CacheWords say the value of the build or of the cache as
// it reads on a go command line: "go1.26", "-trimpath", "no -trimpath",
// "-tags=netgo", "no build tags", "GOARCH=arm64", "no GOEXPERIMENT".
func (d Difference) BuildWords() string { return d.words(d.Build) }

// CacheWords: see [Difference.BuildWords].
func (d Difference) CacheWords() string { return d.words(d.Cache) }

func (d Difference) words(v string) string {
	switch d.Setting {
	case "Go version":
		return v
	case "-trimpath":
		if v == "" {
			return "no -trimpath"
		}
		return "-trimpath"
	case "build tags":
		if v == "" {
			return "no build tags"
		}
		return "-tags=" + v
	case "build flags":
		if v == "" {
			return "no compile flags"
		}
		return v
	}
	if v == "" {
		return "no " + d.Setting
	}
	return d.Setting + "=" + v
}

// Differences compares the settings of a build (s) with those a build
// cache was made for (cache) and returns each difference that makes the
// cache's entries unusable, in the order of [Settings.Lines]. Settings s
// leaves unknown ("" GoVersion or CGOEnabled) are not compared; a
// GoVersion of the form go1.22 matches any go1.22.x.
func (s Settings) Differences(cache Settings) []Difference {
	var out []Difference
	diff := func(name, build, cached string) {
		if build != cached {
			out = append(out, Difference{Setting: name, Build: build, Cache: cached})
		}
	}
	if s.GoVersion != "" && cache.GoVersion != "" && !sameRelease(s.GoVersion, cache.GoVersion) {
		out = append(out, Difference{Setting: "Go version", Build: s.GoVersion, Cache: cache.GoVersion})
	}
	diff("GOOS", s.GOOS, cache.GOOS)
	diff("GOARCH", s.GOARCH, cache.GOARCH)
	if s.GOARCH == cache.GOARCH {
		diff("GOAMD64", s.GOAMD64, cache.GOAMD64)
	}
	if s.CGOEnabled != "" && cache.CGOEnabled != "" {
		diff("CGO_ENABLED", s.CGOEnabled, cache.CGOEnabled)
	}
	diff("GOEXPERIMENT", s.GOEXPERIMENT, cache.GOEXPERIMENT)
	if s.Trimpath != cache.Trimpath {
		out = append(out, Difference{Setting: "-trimpath", Build: trueOrNone(s.Trimpath), Cache: trueOrNone(cache.Trimpath)})
	}
	diff("build tags", strings.Join(s.Tags, ","), strings.Join(cache.Tags, ","))
	diff("build flags", strings.Join(s.Flags, " "), strings.Join(cache.Flags, " "))
	if !s.Trimpath && !cache.Trimpath {
		diff("GOMODCACHE", s.ModCache, cache.ModCache)
	}
	diff("GOCACHE", s.GoCache, cache.GoCache)
	return out
}

func trueOrNone(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// sameRelease reports whether a (perhaps only "go1.22") and b name the same
// release: equal, or a is a language version and b a release or
// prerelease of it.
func sameRelease(a, b string) bool {
	if a == b {
		return true
	}
	va, ok1 := ParseVersion(a)
	vb, ok2 := ParseVersion(b)
	if !ok1 || !ok2 {
		return false
	}
	if va.IsLang() {
		return va == vb.Lang()
	}
	return va == vb
}
