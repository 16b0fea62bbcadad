package depsimage

import (
	"reflect"
	"testing"

	"golang.org/x/mod/module"
)

// TestPlan pins the bucketing policy: which file goes into which layer, in
// which order. The buckets are those of fnv-1a of the module path, which
// must not change from one release to the next (a changed bucket sends its
// modules again).
func TestPlan(t *testing.T) {
	type want struct {
		name string
		rels []string
		mods []string
	}
	mb := int64(1 << 20)
	f := func(rel string, size int64) entry { return entry{rel: rel, size: size} }
	downloaded := map[string][]module.Version{
		"example.com/a":              {{Path: "example.com/a", Version: "v1.1.0"}, {Path: "example.com/a", Version: "v1.0.0"}},
		"example.com/b":              {{Path: "example.com/b", Version: "v0.1.0"}},
		"github.com/BurntSushi/toml": {{Path: "github.com/BurntSushi/toml", Version: "v1.3.2"}},
		"golang.org/x/mod":           {{Path: "golang.org/x/mod", Version: "v0.20.0"}},
		"big.example/huge":           {{Path: "big.example/huge", Version: "v2.0.0"}},
		"big.example/other":          {{Path: "big.example/other", Version: "v1.0.0"}},
		"corp.example/secret":        {{Path: "corp.example/secret", Version: "v1.0.0"}},
		"corp.example/huge":          {{Path: "corp.example/huge", Version: "v1.0.0"}},
	}
	for _, tc := range []struct {
		name    string
		files   []entry
		buckets int
		private string
		want    []want
	}{
		{
			name: "metadata, buckets, large modules, private",
			files: []entry{
				f("example.com/b@v0.1.0/b.go", 10),
				f("corp.example/secret@v1.0.0/s.go", 10),
				f("cache/download/sumdb/sum.golang.org/lookup/example.com/a@v1.0.0", 100),
				f("example.com/a@v1.0.0/a.go", 10),
				f("big.example/huge@v2.0.0/data.bin", 30*mb),
				f("cache/download/big.example/huge/@v/v2.0.0.zip", 34*mb),
				f("cache/download/example.com/a/@v/v1.0.0.zip", 20),
				f("github.com/!burnt!sushi/toml@v1.3.2/toml.go", 10),
				f("golang.org/x/mod@v0.20.0/go.mod", 10),
				f("big.example/other@v1.0.0/o.go", 10),
				f("cache/download/corp.example/huge/@v/v1.0.0.zip", 100*mb),
				f("cache/download/example.com/a/@v/v1.1.0.mod", 10),
			},
			buckets: 4,
			private: "corp.example",
			want: []want{
				{"module cache metadata", []string{"cache/download/sumdb/sum.golang.org/lookup/example.com/a@v1.0.0"}, nil},
				{"modules 01 of 04", []string{"big.example/other@v1.0.0/o.go"}, []string{"big.example/other@v1.0.0"}},
				{"modules 03 of 04", []string{"example.com/a@v1.0.0/a.go", "cache/download/example.com/a/@v/v1.0.0.zip", "github.com/!burnt!sushi/toml@v1.3.2/toml.go", "cache/download/example.com/a/@v/v1.1.0.mod"},
					[]string{"example.com/a@v1.0.0", "example.com/a@v1.1.0", "github.com/BurntSushi/toml@v1.3.2"}},
				{"modules 04 of 04", []string{"example.com/b@v0.1.0/b.go", "golang.org/x/mod@v0.20.0/go.mod"}, []string{"example.com/b@v0.1.0", "golang.org/x/mod@v0.20.0"}},
				{"module big.example/huge", []string{"big.example/huge@v2.0.0/data.bin", "cache/download/big.example/huge/@v/v2.0.0.zip"}, []string{"big.example/huge@v2.0.0"}},
				{"private modules", []string{"corp.example/secret@v1.0.0/s.go", "cache/download/corp.example/huge/@v/v1.0.0.zip"}, []string{"corp.example/huge@v1.0.0", "corp.example/secret@v1.0.0"}},
			},
		},
		{
			name: "one bucket, no private patterns",
			files: []entry{
				f("corp.example/secret@v1.0.0/s.go", 10),
				f("example.com/a@v1.0.0/a.go", 10),
			},
			buckets: 1,
			want: []want{
				{"modules 01 of 01", []string{"corp.example/secret@v1.0.0/s.go", "example.com/a@v1.0.0/a.go"}, []string{"corp.example/secret@v1.0.0", "example.com/a@v1.0.0", "example.com/a@v1.1.0"}},
			},
		},
		{
			name: "large from LargeModule bytes on, the zip and the tree together",
			files: []entry{
				f("cache/download/big.example/huge/@v/v2.0.0.zip", LargeModule/2),
				f("big.example/huge@v2.0.0/data.bin", LargeModule/2),
				f("cache/download/big.example/other/@v/v1.0.0.zip", LargeModule/2),
				f("big.example/other@v1.0.0/data.bin", LargeModule/2-1),
			},
			buckets: 2,
			want: []want{
				{"modules 01 of 02", []string{"cache/download/big.example/other/@v/v1.0.0.zip", "big.example/other@v1.0.0/data.bin"}, []string{"big.example/other@v1.0.0"}},
				{"module big.example/huge", []string{"cache/download/big.example/huge/@v/v2.0.0.zip", "big.example/huge@v2.0.0/data.bin"}, []string{"big.example/huge@v2.0.0"}},
			},
		},
		{
			name: "files of no module",
			files: []entry{
				f("cache/download/sumdb/sum.golang.org/supported", 0),
				f("github.com/!!bad@v1.0.0/x.go", 10), // not an escaped path
				f("cache/vcs/0123/config", 10),
			},
			buckets: 16,
			want: []want{
				{"module cache metadata", []string{"cache/download/sumdb/sum.golang.org/supported", "github.com/!!bad@v1.0.0/x.go", "cache/vcs/0123/config"}, nil},
			},
		},
		{name: "nothing", buckets: 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []want
			for _, g := range plan(tc.files, tc.buckets, tc.private, downloaded) {
				w := want{name: g.name}
				for _, e := range g.files {
					w.rels = append(w.rels, e.rel)
				}
				for _, m := range g.mods {
					w.mods = append(w.mods, m.String())
				}
				got = append(got, w)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestOwnerOf(t *testing.T) {
	for _, tc := range []struct{ rel, want string }{
		{"example.com/a@v1.0.0/a.go", "example.com/a"},
		{"example.com/a@v1.0.0", "example.com/a"},
		{"github.com/!burnt!sushi/toml@v1.3.2/toml.go", "github.com/BurntSushi/toml"},
		{"cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.zip", "github.com/BurntSushi/toml"},
		{"cache/download/example.com/a/@v/list", "example.com/a"},
		{"cache/download/sumdb/sum.golang.org/lookup/example.com/a@v1.0.0", ""},
		{"cache/download/example.com/a", ""},
		{"cache/vcs/0123/config", ""},
		{"example.com/a", ""},
		{"github.com/!!bad@v1.0.0/x.go", ""},
	} {
		if got := ownerOf(tc.rel); got != tc.want {
			t.Errorf("ownerOf(%q) = %q, want %q", tc.rel, got, tc.want)
		}
	}
}
