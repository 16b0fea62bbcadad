package analyzer

import (
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/moby/patternmatcher"
)

// walkMatcherTree is the context the walk matcher tests walk.
var walkMatcherTree = []string{
	"README.md", "a.md", "docs/api.md", "docs/guide/x.md", "a/b", "a/x/y/b", "ab", "b",
	"bin/t.o", "bin/sub/t.o", "foo.log", "x/foo.log", "foo\\.log", "xzy", "ac/k", "bc/k/l",
	"web/node_modules/p/index.js", "node_modules/q", "keep", "x/y/keep", "a^b1", "z/x^y",
	".git/HEAD", ".git/objects/ab/cd", "vendor/modules.txt", "vendor/m/x.go", "cmd/api/main.go",
}

// checkWalkMatcher walks tree under the patterns with both walkMatcher and
// patternmatcher's MatchesUsingParentResults and reports every path where
// they differ.
func checkWalkMatcher(t *testing.T, patterns []string, tree []string) {
	t.Helper()
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return
	}
	wm := newWalkMatcher(pm)
	fsys := fstest.MapFS{}
	for _, name := range tree {
		if fs.ValidPath(name) && name != "." {
			fsys[name] = &fstest.MapFile{}
		}
	}
	want := map[string]patternmatcher.MatchInfo{}
	got := map[string]walkInfo{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		wm1, wantInfo, wantErr := pm.MatchesUsingParentResults(p, want[path.Dir(p)])
		gm, gotInfo, gotErr := wm.match(p, d.IsDir(), got[path.Dir(p)])
		if gm != wm1 || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("patterns %q, path %q: walkMatcher says excluded=%v (err %v), patternmatcher %v (err %v)", patterns, p, gm, gotErr, wm1, wantErr)
		}
		if d.IsDir() {
			want[p], got[p] = wantInfo, gotInfo
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWalkMatcher(t *testing.T) {
	for _, patterns := range []string{
		".git\n**/node_modules\n**/*.log\n*.md\n!README.md\ndocs/\n!docs/api.md\n",
		"a/**/b\n**b\nbin/*.o\nfoo\\.log\nx?y\n[ab]c/*\n",
		"**\n!**/keep\n!cmd/**\n",
		"*\n!*.md\n!docs\ndocs/guide\n",
		"a*/b\n*/x^y\na^b*\nvendor/*\n!vendor/modules.txt\n",
		"**/k\n!bc/**\n**/*.go\n!**/main.go\n",
		"x/**/keep\n**/y/*\n*/*/b\n",
	} {
		t.Run(strings.ReplaceAll(patterns, "\n", " "), func(t *testing.T) {
			ig, err := ParseIgnore([]byte(patterns))
			if err != nil {
				t.Fatal(err)
			}
			checkWalkMatcher(t, ig.Patterns, walkMatcherTree)
		})
	}
}

// FuzzWalkMatcher checks that walkMatcher agrees with patternmatcher on
// any .dockerignore and any extra path.
func FuzzWalkMatcher(f *testing.F) {
	f.Add([]byte("**/*.log\n!keep.log\n"), "a/b/keep.log")
	f.Add([]byte("**/node_modules\n*.md\n!README.md\n"), "web/node_modules/x")
	f.Add([]byte("a/**/b\n[ab]c/*\n!**/k\n"), "ac/x/k")
	f.Fuzz(func(t *testing.T, ignore []byte, extra string) {
		if len(ignore) > 1<<10 || len(extra) > 256 {
			return
		}
		ig, err := ParseIgnore(ignore)
		if err != nil {
			return
		}
		checkWalkMatcher(t, ig.Patterns, append([]string{extra}, walkMatcherTree...))
	})
}
