package gosettings

import (
	"go/version"
	"regexp"
	"strings"
)

// Version is a Go version: a language version (1.22), a prerelease
// (1.23rc1, 1.23beta2) or a release (1.22.3). Versions compare in the go
// command's order (go/version): 1.21 < 1.21beta1 < 1.21rc1 < 1.21.0 <
// 1.21.1. The zero Version is no version; ParseVersion never returns it.
type Version struct {
	v string // in Go toolchain name syntax, as go/version takes it: "go1.22.3"
}

// versionRE matches the Go version at the start of a string; go/version
// only takes whole toolchain names, and an image tag ("1.22-alpine") or
// a GOVERSION ("go1.26.8 X:nodwarf5") holds more.
var versionRE = regexp.MustCompile(`^(?:go)?(\d+\.\d+(?:\.\d+|(?:rc|beta)\d+)?)`)

// ParseVersion parses the Go version at the start of s: the value of a go
// or toolchain directive ("1.22", "go1.22.3"), a GOVERSION or GOTOOLCHAIN
// ("go1.23rc1"), or a golang image tag ("1.22-alpine", "1.22.3-bookworm").
// ok is false when s does not start with one.
func ParseVersion(s string) (v Version, ok bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil || !version.IsValid("go"+m[1]) {
		return Version{}, false
	}
	return Version{"go" + m[1]}, true
}

// String returns the version as a go directive writes it: "1.22.3",
// "1.23rc1", "1.22"; "" for the zero Version.
func (v Version) String() string { return strings.TrimPrefix(v.v, "go") }

// Compare returns -1, 0 or +1 as v is older than, the same as or newer
// than w, as go/version.Compare orders them.
func (v Version) Compare(w Version) int { return version.Compare(v.v, w.v) }

// Lang returns the language version of v: 1.22 for 1.22.3 and 1.22rc1.
func (v Version) Lang() Version { return Version{version.Lang(v.v)} }

// IsLang reports whether v is a language version (1.22), which names no
// release; releases before Go 1.21 (1.20) are language versions too.
func (v Version) IsLang() bool { return v.v != "" && version.Lang(v.v) == v.v }
