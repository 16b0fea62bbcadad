package analyzer

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// FuzzParseIgnore feeds arbitrary .dockerignore text through ParseIgnore and
// Excluded: a parse error names a line of the file; a parsed file matches
// any path without panicking.
func FuzzParseIgnore(f *testing.F) {
	for _, s := range []string{
		".git\n**/*.tmp\n!keep.tmp\nbin/\n",
		"# comment\n\n  spaced  \n/abs\n!\n",
		"[\n", "a\\\n", "\xef\xbb\xbf.git\n", "**\n!**/*.go\n", "a/../../b\n",
	} {
		f.Add([]byte(s), "keep.tmp")
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		if len(data) > 64<<10 {
			return
		}
		var ig *Ignore
		var err error
		quiet(t, func() { ig, err = ParseIgnore(data) })
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != ".dockerignore" {
				t.Fatalf("error %v is not a ParseError naming .dockerignore", err)
			}
			if lines := strings.Count(string(data), "\n") + 1; pe.Line < 0 || pe.Line > lines+1 {
				t.Fatalf("error at line %d of a %d-line file: %v", pe.Line, lines, err)
			}
			return
		}
		if len(ig.Patterns) > maxIgnorePatterns {
			t.Fatalf("%d patterns, over the limit of %d", len(ig.Patterns), maxIgnorePatterns)
		}
		quiet(t, func() {
			for _, p := range []string{name, "a", "a/b/c", ".git/HEAD", "keep.tmp"} {
				ig.Excluded(p)
			}
		})
	})
}

// FuzzExpand feeds arbitrary words and variable values through the bounded
// expansion: when it expands a word, the result is BuildKit's and is no
// longer than the bound; the lexer never runs on a word whose result could
// pass the limits.
func FuzzExpand(f *testing.F) {
	for _, s := range [][3]string{
		{"${A}${A}", "xx", ""},
		{"${A//?/${A}}", "abc", "d"},
		{"${A:-${B}}$B", "", "long value"},
		{"${A#*b}${A%%c*}", "abcabc", ""},
		{"'$A'\"$A\"\\$A", "q", ""},
		{"${A", "x", ""},
		{"$1$@$$${#}", "1", "2"},
		{"${A/\\//x}", "a/b", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, word, a, b string) {
		if len(word) > 4<<10 || len(a) > 64<<10 || len(b) > 64<<10 {
			return
		}
		env := envGetter{"A": a, "B": b}
		x := &expander{lex: shell.NewLex('\\')}
		var got string
		var err error
		quiet(t, func() { got, err = x.expand(word, env) })
		if err != nil {
			return
		}
		bound, _ := wordBound(word, env)
		if int64(len(got)) > bound && strings.Contains(word, "$") {
			t.Fatalf("expand(%q) = %d bytes, over its bound %d", word, len(got), bound)
		}
		want, _, err := shell.NewLex('\\').ProcessWord(word, env)
		if err != nil {
			t.Fatalf("expand(%q) succeeded, BuildKit's lexer fails: %v", word, err)
		}
		if got != want {
			t.Fatalf("expand(%q) = %q, BuildKit's lexer %q", word, got, want)
		}
	})
}

// quiet runs f and fails if it writes to os.Stderr, as text/scanner's
// default error handler does inside BuildKit's lexer and patternmatcher.
func quiet(t *testing.T, f func()) {
	t.Helper()
	if stderrFile == nil {
		tmp, err := os.CreateTemp("", "cachecheck-fuzz-stderr")
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(tmp.Name()) // unlinked: gone when the process ends
		stderrFile = tmp
	}
	if err := stderrFile.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := stderrFile.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = stderrFile
	f()
	os.Stderr = saved
	fi, err := stderrFile.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 0 {
		t.Fatalf("wrote %d bytes to stderr", fi.Size())
	}
}

// stderrFile stands in for os.Stderr in quiet.
var stderrFile *os.File
