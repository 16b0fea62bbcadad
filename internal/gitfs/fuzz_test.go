package gitfs

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"
)

// FuzzParseTree feeds arbitrary 'git ls-tree -r -t -z --long' output to
// parseTree: every entry is one path element under a directory that is a
// valid path, so fs.WalkDir over the tree ends.
func FuzzParseTree(f *testing.F) {
	f.Add([]byte("040000 tree 1111111111111111111111111111111111111111       -\tcmd\x00" +
		"100644 blob 2222222222222222222222222222222222222222      10\tcmd/main.go\x00" +
		"100755 blob 3333333333333333333333333333333333333333       5\trun.sh\x00" +
		"120000 blob 4444444444444444444444444444444444444444       6\tlink\x00" +
		"160000 commit 5555555555555555555555555555555555555555       -\tsub\x00"))
	f.Add([]byte("100644 blob x 1\t.\x00100644 blob x 1\t\x00100644 blob x 1\ta//b\x00100644 blob x -1\t../x\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		dirs := parseTree(out)
		if _, ok := dirs["."]; !ok {
			t.Fatal("no root directory")
		}
		for dir, ents := range dirs {
			if !fs.ValidPath(dir) {
				t.Fatalf("directory %q is not a valid path", dir)
			}
			for _, e := range ents {
				if e.name == "" || e.name == "." || e.name == ".." || strings.Contains(e.name, "/") {
					t.Fatalf("entry %q of %q is not one path element", e.name, dir)
				}
				if p := path.Join(dir, e.name); p == dir {
					t.Fatalf("entry %q of %q names the directory itself", e.name, dir)
				}
			}
		}
	})
}

// FuzzOpen opens arbitrary revision strings in a real repository: Open
// either resolves a commit or says the revision was given wrong
// (ErrNoRevision), never runs git with an option taken from the revision,
// and never panics.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"HEAD", "HEAD~1", "HEAD^{tree}", "main", "--output=x", "-h", "HEAD:go.mod", "@{-1}", "v1..v2", "\x00", ":/init", "HEAD@{0}"} {
		f.Add(s)
	}
	dir := gitRepo(f, map[string]string{"go.mod": "module m\n"})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rev string) {
		if len(rev) > 256 {
			return
		}
		g, err := Open(ctx, dir, rev)
		if err != nil {
			if !errors.Is(err, ErrNoRevision) {
				t.Fatalf("Open(%q) = %v, want an error wrapping ErrNoRevision", rev, err)
			}
			return
		}
		if len(g.Commit()) != 40 {
			t.Fatalf("Open(%q) resolved to %q, not a commit hash", rev, g.Commit())
		}
	})
}
