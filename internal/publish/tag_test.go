package publish

import (
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/cachekey"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const testKey = "ck1-0123456789abcdef0123456789abcdef"

func TestTag(t *testing.T) {
	key, err := cachekey.Parse(testKey)
	if err != nil {
		t.Fatal(err)
	}
	base := v1.Hash{Algorithm: "sha256", Hex: "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"}
	tests := []struct {
		name     string
		base     *v1.Hash
		contents string
		want     string
	}{
		{"scratch", nil, "full", testKey},
		{"scratch-empty-contents", nil, "", testKey},
		{"base", &base, "full", testKey + "-aabbccddeeff"},
		{"zips", nil, "zips", testKey + "-zips"},
		{"base-zips", &base, "zips", testKey + "-aabbccddeeff-zips"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag := NewTag(key, tc.base, tc.contents)
			if got := tag.String(); got != tc.want {
				t.Fatalf("NewTag(...).String() = %q, want %q", got, tc.want)
			}
			back, err := ParseTag(tc.want)
			if err != nil {
				t.Fatalf("ParseTag(%q): %v", tc.want, err)
			}
			if back != tag {
				t.Fatalf("ParseTag(%q) = %+v, want %+v", tc.want, back, tag)
			}
		})
	}
}

func TestParseTagErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"latest", "not a cachecheck tag"},
		{"ck2-0123456789abcdef0123456789abcdef", "want prefix"},
		{"ck1-0123", "want 32 hex digits"},
		{testKey + "-AABBCCDDEEFF", "not 12 lower-case hex"},
		{testKey + "-aabbcc", "not 12 lower-case hex"},
		{testKey + "-zips-aabbccddeeff", "not 12 lower-case hex"},
		{testKey + "-aabbccddeeff-zips-x", "not a cachecheck tag"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseTag(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseTag(%q) = %v, want error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func FuzzParseTag(f *testing.F) {
	f.Add(testKey)
	f.Add(testKey + "-aabbccddeeff-zips")
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := ParseTag(s)
		if err != nil {
			return
		}
		if got := tag.String(); got != s {
			t.Fatalf("ParseTag(%q).String() = %q", s, got)
		}
	})
}

func TestTagBuildCache(t *testing.T) {
	const s = testKey + "-aabbccddeeff-zips-bc0123456789ab"
	tag, err := ParseTag(s)
	if err != nil {
		t.Fatal(err)
	}
	if tag.BuildCache != "bc0123456789ab" || tag.Base != "aabbccddeeff" || tag.Contents != "zips" || tag.String() != s {
		t.Errorf("ParseTag(%q) = %+v", s, tag)
	}
	if _, err := ParseTag(testKey + "-bc0123"); err == nil {
		t.Error("a short build cache part was accepted")
	}
}

func TestTagRevision(t *testing.T) {
	const s = testKey + "-aabbccddeeff-bc0123456789ab-r89abcdef0123"
	tag, err := ParseTag(s)
	if err != nil {
		t.Fatal(err)
	}
	if tag.Revision != "r89abcdef0123" || tag.BuildCache != "bc0123456789ab" || tag.Base != "aabbccddeeff" || tag.String() != s {
		t.Errorf("ParseTag(%q) = %+v", s, tag)
	}
	if got := tag.Deps().String(); got != testKey+"-aabbccddeeff-bc0123456789ab" {
		t.Errorf("Deps() = %q", got)
	}
	if got := tag.Deps().WithRevision("89abcdef0123456789abcdef0123456789abcdef"); got != tag {
		t.Errorf("WithRevision = %+v, want %+v", got, tag)
	}
	for _, bad := range []string{
		testKey + "-r89abcdef0123",                // no build cache
		testKey + "-aabbccddeeff-r89abcdef0123",   // no build cache
		testKey + "-bc0123456789ab-r89abcdef",     // short
		testKey + "-bc0123456789ab-r89ABCDEF0123", // upper case
		testKey + "-bc0123456789ab-r89abcdef0123-r89abcdef0123",
	} {
		if tag, err := ParseTag(bad); err == nil {
			t.Errorf("ParseTag(%q) = %+v, want an error", bad, tag)
		}
	}
}
