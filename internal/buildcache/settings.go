package buildcache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
)

// Settings are the build settings a build cache is made for; see
// [gosettings.Settings].
type Settings = gosettings.Settings

// Labels of a deps image with a build cache layer, set on the config and
// as manifest annotations.
const (
	LabelSettingsDigest = "org.cachecheck.build-cache.settings-digest"
	LabelGoVersion      = "org.cachecheck.build-cache.go-version"
	LabelGOOS           = "org.cachecheck.build-cache.goos"
	LabelGOARCH         = "org.cachecheck.build-cache.goarch"
	LabelGOAMD64        = "org.cachecheck.build-cache.goamd64"
	LabelCGOEnabled     = "org.cachecheck.build-cache.cgo-enabled"
	LabelGOEXPERIMENT   = "org.cachecheck.build-cache.goexperiment"
	LabelTrimpath       = "org.cachecheck.build-cache.trimpath"
	LabelTags           = "org.cachecheck.build-cache.tags"
	LabelFlags          = "org.cachecheck.build-cache.flags"
	LabelGoModCache     = "org.cachecheck.build-cache.gomodcache"
	LabelGoCache        = "org.cachecheck.build-cache.gocache"
	LabelPackages       = "org.cachecheck.build-cache.packages.count"
	LabelBytes          = "org.cachecheck.build-cache.bytes"
)

// Labels returns the settings as image labels.
func Labels(s Settings) map[string]string {
	m := map[string]string{
		LabelSettingsDigest: s.Digest(),
		LabelGoVersion:      s.GoVersion,
		LabelGOOS:           s.GOOS,
		LabelGOARCH:         s.GOARCH,
		LabelCGOEnabled:     s.CGOEnabled,
		LabelTrimpath:       fmt.Sprint(s.Trimpath),
		LabelTags:           strings.Join(s.Tags, ","),
		LabelFlags:          strings.Join(s.Flags, " "),
		LabelGoModCache:     s.ModCache,
		LabelGoCache:        s.GoCache,
	}
	if s.GOAMD64 != "" {
		m[LabelGOAMD64] = s.GOAMD64
	}
	if s.GOEXPERIMENT != "" {
		m[LabelGOEXPERIMENT] = s.GOEXPERIMENT
	}
	return m
}

// ReadSettings returns the build settings recorded in the labels of a deps
// image; ok is false when the image has no build cache. It checks the
// recorded digest against the settings.
func ReadSettings(labels map[string]string) (s Settings, ok bool, err error) {
	d := labels[LabelSettingsDigest]
	if d == "" {
		return s, false, nil
	}
	s = Settings{
		GoVersion:    labels[LabelGoVersion],
		GOOS:         labels[LabelGOOS],
		GOARCH:       labels[LabelGOARCH],
		GOAMD64:      labels[LabelGOAMD64],
		CGOEnabled:   labels[LabelCGOEnabled],
		GOEXPERIMENT: labels[LabelGOEXPERIMENT],
		Trimpath:     labels[LabelTrimpath] == "true",
		Tags:         splitNonEmpty(labels[LabelTags], ","),
		Flags:        strings.Fields(labels[LabelFlags]),
		ModCache:     labels[LabelGoModCache],
		GoCache:      labels[LabelGoCache],
	}
	if got := s.Digest(); got != d {
		return s, true, fmt.Errorf("label %s=%s does not match the recorded settings (%s): the labels were edited", LabelSettingsDigest, d, got)
	}
	return s, true, nil
}

func splitNonEmpty(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// TagSuffix returns the part a build cache adds to a deps image tag: "bc"
// and the first 12 hex digits of the settings digest, so that images for
// different settings never share a tag.
func TagSuffix(s Settings) string {
	return "bc" + strings.TrimPrefix(s.Digest(), "sha256:")[:12]
}

// LabelPlatforms is the annotation of a deps index with build cache
// layers: the platforms that have one, comma-separated ("linux/amd64,
// linux/arm64"). LabelAbsent annotates, in the index, each platform image
// that has none, saying so.
const (
	LabelPlatforms = "org.cachecheck.build-cache.platforms"
	LabelAbsent    = "org.cachecheck.build-cache.absent"
)

// ParsePlatform returns the GOOS and GOARCH of an OCI platform "os/arch",
// as --platform gives it ("linux/arm64"; "linux/arm64/v8" is arm64 too).
// Other variants are refused: the settings have no GOARM.
func ParsePlatform(p string) (goos, goarch string, err error) {
	f := strings.Split(p, "/")
	if len(f) == 3 && f[1] == "arm64" && f[2] == "v8" {
		f = f[:2]
	}
	if len(f) != 2 || f[0] == "" || f[1] == "" {
		return "", "", fmt.Errorf("platform %q: want OS/ARCH, such as linux/arm64", p)
	}
	return f[0], f[1], nil
}

// ForPlatform returns the settings s for the platform "os/arch": GOOS and
// GOARCH set, GOAMD64 kept for amd64 (default v1) and dropped otherwise.
func ForPlatform(s Settings, platform string) (Settings, error) {
	goos, goarch, err := ParsePlatform(platform)
	if err != nil {
		return s, err
	}
	if goarch != s.GOARCH {
		s.GOAMD64 = ""
	}
	s.GOOS, s.GOARCH = goos, goarch
	s.Normalize()
	return s, nil
}

// Platform returns the platform the settings compile for, "GOOS/GOARCH".
func Platform(s Settings) string { return s.GOOS + "/" + s.GOARCH }

// PlatformsTagSuffix returns the part build caches for several platforms
// add to the tag of a deps index: for none, or one, the [TagSuffix] of s
// for that platform, as for a single image; for more, "bc" and the first
// 12 hex digits of the SHA-256 of the settings digests of each platform,
// one a line, in the order of the sorted platforms.
func PlatformsTagSuffix(s Settings, platforms []string) (string, error) {
	switch len(platforms) {
	case 0:
		return TagSuffix(s), nil
	case 1:
		sp, err := ForPlatform(s, platforms[0])
		if err != nil {
			return "", err
		}
		return TagSuffix(sp), nil
	}
	sorted := slices.Clone(platforms)
	slices.Sort(sorted)
	h := sha256.New()
	for _, p := range sorted {
		sp, err := ForPlatform(s, p)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(h, sp.Digest())
	}
	return "bc" + hex.EncodeToString(h.Sum(nil))[:12], nil
}
