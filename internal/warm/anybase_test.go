package warm_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestOnAnyBase publishes a key's deps images on two bases, with and
// without build caches and contents zips, and another key's, in
// go-containerregistry's in-memory registry: OnAnyBase finds those of the
// key and contents looked up on every base, build caches as documented.
func TestOnAnyBase(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	target, err := publish.ParseTarget(strings.TrimPrefix(srv.URL, "http://")+"/app-deps", publish.WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	base1 := &v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
	base2 := &v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("2", 64)}
	s1 := buildcache.Settings{GoVersion: "go1.26.8", CGOEnabled: "0", Trimpath: true}
	s1.Normalize()
	s2 := s1
	s2.Tags = []string{"netgo"}

	key := keyOf(t, "example.com/a@v1.0.0")
	other := keyOf(t, "example.com/b@v1.0.0")
	type image struct {
		base     *v1.Hash
		contents string
		s        *buildcache.Settings
	}
	for _, im := range []image{
		{base2, "full", nil}, {base1, "full", nil}, {base1, "zips", nil}, {base1, "full", &s1}, {base2, "full", &s2},
	} {
		publishDeps(t, target, warm.Tag(key.Key, im.base, im.contents, im.s), key, im.s, "example.com/a@v1.0.0")
	}
	publishDeps(t, target, warm.Tag(other.Key, base1, "full", nil), other, nil, "example.com/b@v1.0.0")

	tagOf := func(base *v1.Hash, contents string, s *buildcache.Settings) string {
		return warm.Tag(key.Key, base, contents, s).String()
	}
	for _, tc := range []struct {
		name     string
		contents string
		s        *buildcache.Settings
		want     []string
	}{
		{"full", "full", nil, []string{tagOf(base1, "full", nil), tagOf(base2, "full", nil)}},
		{"zips", "zips", nil, []string{tagOf(base1, "zips", nil)}},
		// The same build cache first, then the others.
		{"build cache", "full", &s2, []string{tagOf(base2, "full", &s2), tagOf(base1, "full", &s1)}},
		{"no zips with a build cache", "zips", &s1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found, err := warm.OnAnyBase(context.Background(), target, warm.Tag(key.Key, nil, tc.contents, tc.s))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range found {
				got = append(got, e.Tag.String())
			}
			// The registry lists tags in its own order: compare the
			// groups as sets, in order.
			if tc.s == nil {
				slices.Sort(got)
				slices.Sort(tc.want)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("OnAnyBase = %q, want %q", got, tc.want)
			}
		})
	}
}
