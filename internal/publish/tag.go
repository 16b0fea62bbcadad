package publish

import (
	"fmt"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BaseDigestLen is the number of hex digits of the base image's digest that
// a tag keeps: 48 bits, enough to tell the bases of one repository apart.
const BaseDigestLen = 12

// Tag names a deps image in a target. Its string form is
//
//	ck1-<32 hex>                  the key, on no base (scratch)
//	ck1-<32 hex>-<12 hex>         on a base whose digest starts with those 12 hex
//	ck1-<32 hex>[-<12 hex>]-zips  the same, holding only the module zips
//	ck1-<...>-bc<12 hex>          with a Go build cache compiled with the
//	                              settings of that digest (buildcache.TagSuffix)
//	ck1-<...>-bc<12 hex>-r<12 hex> with that build cache and, in a layer of
//	                              its own, the main module's packages compiled
//	                              at the commit whose hash starts with those
//	                              12 hex (warm --build-cache=all)
//
// The key says which modules the image holds; the base part, on what it
// stands; the contents part, in which form. Neither the layer count nor the
// compression is part of the tag: images that differ only there serve the
// same builds, and the first one published wins (warm --force replaces it).
type Tag struct {
	Key cachekey.Key
	// Base is the first BaseDigestLen hex digits of the base image's
	// digest (an index's digest for a multi-platform base), or "" for none.
	Base string
	// Contents is "" for full contents (what 'go mod download' leaves) or
	// "zips" for module zips only.
	Contents string
	// BuildCache is "bc" and 12 hex digits of the digest of the build
	// settings of the image's build cache layer, or "" for none.
	BuildCache string
	// Revision is "r" and the first RevisionLen hex digits of the commit
	// whose main module packages the image's build cache also holds, or
	// "" for none. Only a tag with a BuildCache has one.
	Revision string
}

// RevisionLen is the number of hex digits of a commit hash a tag keeps.
const RevisionLen = 12

// WithRevision returns t naming, in addition, the main module's packages
// compiled at commit (a hex commit hash, at least RevisionLen digits).
func (t Tag) WithRevision(commit string) Tag {
	t.Revision = "r" + commit[:RevisionLen]
	return t
}

// Deps returns t without its revision: the tag of the deps image a
// revision image adds its layer to.
func (t Tag) Deps() Tag {
	t.Revision = ""
	return t
}

// NewTag returns the tag of a deps image with key, on base (nil for none),
// holding contents ("full" or "" for everything, "zips" for zips only).
func NewTag(key cachekey.Key, base *v1.Hash, contents string) Tag {
	t := Tag{Key: key}
	if base != nil {
		t.Base = base.Hex[:BaseDigestLen]
	}
	if contents != "full" {
		t.Contents = contents
	}
	return t
}

// String returns the tag's string form, a valid OCI tag.
func (t Tag) String() string {
	s := t.Key.String()
	if t.Base != "" {
		s += "-" + t.Base
	}
	if t.Contents != "" {
		s += "-" + t.Contents
	}
	if t.BuildCache != "" {
		s += "-" + t.BuildCache
	}
	if t.Revision != "" {
		s += "-" + t.Revision
	}
	return s
}

// ParseTag parses the string form of a tag, as returned by [Tag.String].
func ParseTag(s string) (Tag, error) {
	parts := strings.Split(s, "-")
	var revision string
	if n := len(parts); n >= 4 && strings.HasPrefix(parts[n-1], "r") && strings.HasPrefix(parts[n-2], "bc") {
		revision = parts[n-1]
		if len(revision) != 1+RevisionLen || !isLowerHex(revision[1:]) {
			return Tag{}, fmt.Errorf("parsing tag %q: revision part %q is not r and %d lower-case hex digits", s, revision, RevisionLen)
		}
		parts = parts[:n-1]
	}
	if n := len(parts); n == 5 && !strings.HasPrefix(parts[4], "bc") || n < 2 || n > 5 {
		return Tag{}, fmt.Errorf("parsing tag %q: not a cachecheck tag (ck1-<key>[-<base>][-zips][-bc<settings>[-r<commit>]])", s)
	}
	key, err := cachekey.Parse(parts[0] + "-" + parts[1])
	if err != nil {
		return Tag{}, fmt.Errorf("parsing tag %q: %w", s, err)
	}
	t := Tag{Key: key, Revision: revision}
	rest := parts[2:]
	if n := len(rest); n > 0 && strings.HasPrefix(rest[n-1], "bc") && len(rest[n-1]) == 2+BaseDigestLen && isLowerHex(rest[n-1][2:]) {
		t.BuildCache = rest[n-1]
		rest = rest[:n-1]
	}
	if len(rest) > 0 && rest[len(rest)-1] == "zips" {
		t.Contents = "zips"
		rest = rest[:len(rest)-1]
	}
	if len(rest) > 0 {
		if !isLowerHex(rest[0]) || len(rest[0]) != BaseDigestLen {
			return Tag{}, fmt.Errorf("parsing tag %q: base part %q is not %d lower-case hex digits", s, rest[0], BaseDigestLen)
		}
		t.Base = rest[0]
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return Tag{}, fmt.Errorf("parsing tag %q: unexpected %q", s, strings.Join(rest, "-"))
	}
	if t.Revision != "" && t.BuildCache == "" {
		return Tag{}, fmt.Errorf("parsing tag %q: a revision part without a build cache part", s)
	}
	return t, nil
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}
