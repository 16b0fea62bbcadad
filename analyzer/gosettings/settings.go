package gosettings

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"slices"
	"strings"
)

// Settings are the settings of a go build that decide whether a compiled
// package in the build cache can be reused: two builds share cache entries
// for a dependency package only when all of them are equal. Flags that
// affect only the main packages or the link (-o, -ldflags, -v, -mod, ...)
// are not part of it.
type Settings struct {
	// GoVersion is the Go release, as `go env GOVERSION` prints it
	// ("go1.22.3"), or as far as a Dockerfile tells it ("go1.22" for
	// golang:1.22). "" when unknown.
	GoVersion string
	GOOS      string // default linux
	GOARCH    string // default amd64, or the stage's --platform
	// GOAMD64 is the amd64 microarchitecture level (v1 to v4); "" on other
	// architectures. Default v1.
	GOAMD64 string
	// CGOEnabled is "0" or "1"; "" when the build leaves it to the
	// toolchain's default (on when a C compiler is found).
	CGOEnabled   string
	GOEXPERIMENT string
	Trimpath     bool
	// Tags are the build tags (-tags), sorted, without duplicates.
	Tags []string
	// Flags are the other go build flags that change how dependency
	// packages compile, as -name or -name=value, sorted: -race, -msan,
	// -asan, -gcflags, -asmflags, -buildmode, -pgo, -cover, -covermode,
	// -coverpkg, -installsuffix, -linkshared, -compiler, -gccgoflags.
	Flags []string
	// ModCache is the module cache directory of the build (GOMODCACHE):
	// without -trimpath a package's directory enters its cache key.
	// Default /go/pkg/mod.
	ModCache string
	// GoCache is the build cache directory of the build (GOCACHE). It does
	// not enter cache keys; it says where the cache must lie. Default
	// /root/.cache/go-build.
	GoCache string
}

// Normalize fills in the defaults: GOOS linux, GOARCH amd64, GOAMD64 v1 on
// amd64, GOMODCACHE /go/pkg/mod, GOCACHE /root/.cache/go-build. It sorts
// the tags and flags.
func (s *Settings) Normalize() {
	if s.GOOS == "" {
		s.GOOS = "linux"
	}
	if s.GOARCH == "" {
		s.GOARCH = "amd64"
	}
	if s.GOARCH == "amd64" && s.GOAMD64 == "" {
		s.GOAMD64 = "v1"
	}
	if s.GOARCH != "amd64" {
		s.GOAMD64 = ""
	}
	if s.ModCache == "" {
		s.ModCache = "/go/pkg/mod"
	}
	if s.GoCache == "" {
		s.GoCache = "/root/.cache/go-build"
	}
	s.ModCache, s.GoCache = path.Clean(s.ModCache), path.Clean(s.GoCache)
	slices.Sort(s.Tags)
	s.Tags = slices.Compact(s.Tags)
	slices.Sort(s.Flags)
	s.Flags = slices.Compact(s.Flags)
}

// Lines returns the settings as canonical "name value" lines, the text
// [Settings.Digest] hashes. Empty values are left out.
func (s Settings) Lines() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+" "+v)
		}
	}
	add("go", s.GoVersion)
	add("GOOS", s.GOOS)
	add("GOARCH", s.GOARCH)
	add("GOAMD64", s.GOAMD64)
	add("CGO_ENABLED", s.CGOEnabled)
	add("GOEXPERIMENT", s.GOEXPERIMENT)
	if s.Trimpath {
		add("trimpath", "true")
	}
	add("tags", strings.Join(s.Tags, ","))
	for _, f := range s.Flags {
		add("flag", f)
	}
	add("GOMODCACHE", s.ModCache)
	add("GOCACHE", s.GoCache)
	return out
}

// Digest returns "sha256:" and the hex SHA-256 of the canonical lines, each
// ending in a newline.
func (s Settings) Digest() string {
	h := sha256.New()
	for _, l := range s.Lines() {
		h.Write([]byte(l + "\n"))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// String returns the settings on one line, as a go command would be run:
// "go1.22.3 GOOS=linux GOARCH=amd64 ... -trimpath -tags=netgo".
func (s Settings) String() string {
	var w []string
	if s.GoVersion != "" {
		w = append(w, s.GoVersion)
	}
	w = s.appendWords(w, true)
	return strings.Join(w, " ")
}

// BuildFlags returns the settings as [Parse] reads them back, the value of
// cachecheck warm --build-flags that warms a build cache for them:
// GOTOOLCHAIN when GoVersion is a release (go1.22.3), the environment
// variables set but GOMODCACHE and GOCACHE, -trimpath, -tags and the other
// flags.
func (s Settings) BuildFlags() string {
	var w []string
	if strings.Count(s.GoVersion, ".") == 2 {
		w = append(w, "GOTOOLCHAIN="+s.GoVersion)
	}
	return strings.Join(s.appendWords(w, false), " ")
}

// appendWords appends to w the settings after the Go release, as a go
// command would be run: the environment variables set (GOMODCACHE and
// GOCACHE too when caches is true), -trimpath, -tags and the other flags.
func (s Settings) appendWords(w []string, caches bool) []string {
	env := [][2]string{{"GOOS", s.GOOS}, {"GOARCH", s.GOARCH}, {"GOAMD64", s.GOAMD64}, {"CGO_ENABLED", s.CGOEnabled}, {"GOEXPERIMENT", s.GOEXPERIMENT}}
	if caches {
		env = append(env, [2]string{"GOMODCACHE", s.ModCache}, [2]string{"GOCACHE", s.GoCache})
	}
	for _, kv := range env {
		if kv[1] != "" {
			w = append(w, kv[0]+"="+kv[1])
		}
	}
	if s.Trimpath {
		w = append(w, "-trimpath")
	}
	if len(s.Tags) > 0 {
		w = append(w, "-tags="+strings.Join(s.Tags, ","))
	}
	return append(w, s.Flags...)
}
