package buildcache

import (
	"fmt"
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
