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
	return s
}

// ParseTag parses the string form of a tag, as returned by [Tag.String].
func ParseTag(s string) (Tag, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 2 || len(parts) > 4 {
		return Tag{}, fmt.Errorf("parsing tag %q: not a cachecheck tag (ck1-<key>[-<base>][-zips])", s)
	}
	key, err := cachekey.Parse(parts[0] + "-" + parts[1])
	if err != nil {
		return Tag{}, fmt.Errorf("parsing tag %q: %w", s, err)
	}
	t := Tag{Key: key}
	rest := parts[2:]
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
