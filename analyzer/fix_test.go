package analyzer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
	"github.com/cachecheck/cachecheck/reports"
	"golang.org/x/tools/txtar"
)

// fixCase is one build of the fix corpus: a context and how to analyze it.
type fixCase struct {
	name       string
	fsys       fstest.MapFS
	dockerfile string
	opts       []Option
}

// realCorpus is the real-world corpus; its cases are picked up when it
// exists.
const realCorpus = "../testdata/dockerfiles/real"

// fixCases gathers every context of the corpus: analyzer/testdata/corpus,
// testdata/rules and testdata/fixes (one archive each, directives in the comment), the
// contexts (directories holding a Dockerfile) of testdata/script/corpus_*
// and the cases of testdata/dockerfiles/real (archives, or directories
// holding a Dockerfile). Contexts that do not load are left out: there is
// nothing to fix in them.
func fixCases(t *testing.T) []fixCase {
	t.Helper()
	var cases []fixCase
	archive := func(file string) {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c := fixCase{name: file, fsys: txtarFS(ar), dockerfile: "Dockerfile"}
		for _, line := range strings.Split(string(ar.Comment), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "dockerfile":
				c.dockerfile = f[1]
			case len(f) == 2 && f[0] == "deps-image":
				c.opts = append(c.opts, WithDepsImage(f[1]))
			case len(f) > 1 && f[0] == "deps-settings":
				s, err := gosettings.Parse(strings.TrimSpace(strings.TrimPrefix(line, "deps-settings")))
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				c.opts = append(c.opts, WithDepsImageSettings(s))
			}
		}
		if _, err := c.fsys.Stat(c.dockerfile); err == nil {
			cases = append(cases, c)
			return
		}
		// An archive of several contexts: each directory with a Dockerfile.
		for name := range c.fsys {
			if path.Base(name) != "Dockerfile" {
				continue
			}
			sub, err := fs.Sub(c.fsys, path.Dir(name))
			if err != nil {
				t.Fatal(err)
			}
			m := fstest.MapFS{}
			if err := fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := fs.ReadFile(sub, p)
				m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, fixCase{name: file + ":" + path.Dir(name), fsys: m, dockerfile: "Dockerfile"})
		}
	}
	for _, glob := range []string{"testdata/corpus/*.txtar", "testdata/rules/*.txtar", "testdata/fixes/*.txtar", "../testdata/script/corpus_*.txtar", realCorpus + "/*.txtar", realCorpus + "/*/*.txtar"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			archive(f)
		}
	}
	// Real-world cases kept as directories.
	dirs, _ := filepath.Glob(realCorpus + "/*/Dockerfile")
	for _, df := range dirs {
		dir := filepath.Dir(df)
		m := fstest.MapFS{}
		if err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(filepath.Join(dir, p))
			m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, fixCase{name: dir, fsys: m, dockerfile: "Dockerfile"})
	}
	if len(cases) < 40 {
		t.Fatalf("only %d corpus cases found", len(cases))
	}
	return cases
}

// analyzeCase loads and analyzes fsys; ok false when it does not load.
func analyzeCase(c fixCase, fsys fstest.MapFS) (*Build, []Finding, error) {
	b, err := Load(fsys, WithDockerfile(nil, c.dockerfile))
	if err != nil {
		return nil, nil, err
	}
	findings, err := Analyze(b, c.opts...)
	return b, findings, err
}

// applyTo applies findings' edits to fsys and returns the new context.
func applyTo(t *testing.T, fsys fstest.MapFS, findings []Finding) (fstest.MapFS, *Fixed) {
	t.Helper()
	fixed, err := ApplyFixes(findings, func(name string) ([]byte, error) {
		f, ok := fsys[name]
		if !ok {
			return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		return f.Data, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for k, v := range fsys {
		out[k] = v
	}
	for name, data := range fixed.Files {
		out[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return out, fixed
}

var digitsRE = regexp.MustCompile(`\d+`)

// findingKey identifies a finding across edits that move lines.
func findingKey(f Finding) string { return f.Rule + " " + digitsRE.ReplaceAllString(f.Message, "N") }

func countKeys(fs []Finding, min reports.Severity) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		if f.Severity >= min {
			m[findingKey(f)]++
		}
	}
	return m
}

// checkFixed checks the fixed build: BuildKit's parser reads it, every
// COPY of several sources has a directory destination, no two context
// files land on one path of the image and no file is placed where another
// is a directory; then, against the findings before, no new warning or
// error and fewer findings of each key in gone.
func checkFixed(t *testing.T, c fixCase, fsys fstest.MapFS, before []Finding, gone []Finding) []Finding {
	t.Helper()
	b, after, err := analyzeCase(c, fsys)
	if err != nil {
		t.Errorf("the fixed Dockerfile does not parse: %v\n%s", err, fsys[c.dockerfile].Data)
		return nil
	}
	for _, p := range layoutProblems(b) {
		t.Errorf("fixed Dockerfile: %s\n%s", p, fsys[c.dockerfile].Data)
	}
	was, now := countKeys(before, reports.Info), countKeys(after, reports.Info)
	for _, g := range gone {
		k := findingKey(g)
		if now[k] >= was[k] {
			t.Errorf("%s:%d %s is still reported after its fix %q\n%s", g.Rule, g.Line, g.Message, g.Fix, fsys[c.dockerfile].Data)
		}
	}
	was, now = countKeys(before, reports.Warning), countKeys(after, reports.Warning)
	for _, f := range after {
		if k := findingKey(f); f.Severity >= reports.Warning && now[k] > was[k] {
			t.Errorf("new %s after the fix: %s:%d %s\n%s", f.Severity, f.Rule, f.Line, f.Message, fsys[c.dockerfile].Data)
			now[k]--
		}
	}
	return after
}

// layoutProblems simulates each stage's copies from the context: BuildKit
// refuses several sources into a destination without a trailing slash; a
// go.mod, go.sum, go.work or go.work.sum put where another context file of
// that kind already is overwrites a module with another's; a file put
// where the image has a directory, or under a path that is a file, is a
// garbage destination.
func layoutProblems(b *Build) []string {
	a := &analysis{b: b, mods: map[string]*modInfo{}}
	a.computeWorkdirs()
	var out []string
	for _, st := range b.Stages {
		img := map[string]string{} // image path -> context file
		dirs := map[string]bool{}
		for _, in := range st.Instructions {
			ci, ok := in.Copy()
			if !ok {
				continue
			}
			wild := false
			for _, s := range ci.Sources {
				wild = wild || strings.ContainsAny(s, "*?[")
			}
			if (len(ci.Sources) > 1 || wild) && !strings.HasSuffix(ci.Dest, "/") {
				out = append(out, fmt.Sprintf("line %d: %q copies several sources to %q, which does not end in /", in.Line, in.Text, ci.Dest))
			}
			cf, ok := a.copyFactOf(in)
			if !ok {
				continue
			}
			for _, f := range cf.files {
				ip, ok := a.place(cf, f)
				if !ok {
					continue
				}
				switch base := path.Base(f); {
				case dirs[ip]:
					out = append(out, fmt.Sprintf("line %d: %s is put at %s, a directory of the image", in.Line, f, ip))
				case img[ip] != "" && img[ip] != f && (base == "go.mod" || base == "go.sum" || base == "go.work" || base == "go.work.sum"):
					out = append(out, fmt.Sprintf("line %d: %s overwrites %s at %s", in.Line, f, img[ip], ip))
				}
				for d := path.Dir(ip); d != "/" && d != "."; d = path.Dir(d) {
					if img[d] != "" {
						out = append(out, fmt.Sprintf("line %d: %s is put under %s, where %s is a file", in.Line, f, d, img[d]))
					}
					dirs[d] = true
				}
				img[ip] = f
			}
		}
	}
	return out
}

// TestFixesValid applies the fix of each finding of the whole corpus alone,
// then all of them at once (again on the result while some apply, at most
// four rounds), and checks each result with checkFixed: the finding is
// gone, nothing new at warning or error, and the Dockerfile is valid. It
// logs the figures.
func TestFixesValid(t *testing.T) {
	cases := fixCases(t)
	var nCases, nFindings, nEdits, nText, nAll int
	for _, c := range cases {
		_, findings, err := analyzeCase(c, c.fsys)
		if err != nil {
			continue
		}
		nCases++
		t.Run(strings.TrimPrefix(c.name, "../"), func(t *testing.T) {
			for _, f := range findings {
				nFindings++
				if len(f.Edits) == 0 {
					nText++
					continue
				}
				nEdits++
				if f.Fix != (&analysis{b: mustLoad(t, c)}).fixText(f.Edits, noteOf(f)) {
					t.Errorf("%s:%d: the fix text %q is not the description of its edits", f.Rule, f.Line, f.Fix)
				}
				fsys, fixed := applyTo(t, c.fsys, []Finding{f})
				if len(fixed.Skipped) > 0 {
					t.Errorf("%s:%d: its own edits do not apply: %+v", f.Rule, f.Line, f.Edits)
					continue
				}
				checkFixed(t, c, fsys, findings, []Finding{f})
			}
			// All at once, in rounds.
			fsys, cur := c.fsys, findings
			for round := 0; round < 4; round++ {
				var fixed *Fixed
				fsys, fixed = applyTo(t, fsys, cur)
				if len(fixed.Applied) == 0 {
					break
				}
				nAll += len(fixed.Applied)
				cur = checkFixed(t, c, fsys, cur, fixed.Applied)
			}
			for _, f := range cur {
				if len(f.Edits) > 0 {
					t.Errorf("after four rounds of fixes %s:%d still has a fix: %s", f.Rule, f.Line, f.Fix)
				}
			}
		})
	}
	t.Logf("FIXES corpus cases=%d findings=%d with-edits=%d text-only=%d applied-all-at-once=%d", nCases, nFindings, nEdits, nText, nAll)
}

func mustLoad(t *testing.T, c fixCase) *Build {
	b, err := Load(c.fsys, WithDockerfile(nil, c.dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noteOf returns what of f.Fix follows the description of its edits.
func noteOf(f Finding) string {
	parts := strings.SplitN(f.Fix, "; ", len(f.Edits)+1)
	if len(parts) > len(f.Edits) {
		return parts[len(f.Edits)]
	}
	return ""
}

// TestApplyFixes covers ApplyFixes's rules on overlaps, insertions, line
// endings and new files.
func TestApplyFixes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      string
		findings [][]Edit
		want     string
		skipped  int
	}{
		{"insert and replace", "a\nb\nc\n", [][]Edit{{insertBefore(2, "x")}, {{Line: 3, EndLine: 3, Text: "C\n"}}}, "a\nx\nb\nC\n", 0},
		{"remove", "a\nb\nc\n", [][]Edit{{{Line: 2, EndLine: 2}}}, "a\nc\n", 0},
		{"two inserts in order", "a\n", [][]Edit{{insertBefore(1, "x")}, {insertBefore(1, "y")}}, "x\ny\na\n", 0},
		{"same edit twice", "a\n", [][]Edit{{insertBefore(1, "x")}, {insertBefore(1, "x")}}, "x\na\n", 0},
		{"overlap skipped whole", "a\nb\n", [][]Edit{{{Line: 1, EndLine: 2, Text: "z\n"}}, {insertBefore(1, "q"), {Line: 2, EndLine: 2, Text: "B\n"}}}, "z\n", 1},
		{"insert inside a replaced range", "a\nb\nc\n", [][]Edit{{{Line: 1, EndLine: 2, Text: "z\n"}}, {insertBefore(2, "q")}}, "z\nc\n", 1},
		{"append without final newline", "a", [][]Edit{{insertBefore(2, "b")}}, "a\nb\n", 0},
		{"crlf kept", "a\r\nb\r\n", [][]Edit{{{Line: 2, EndLine: 2, Text: "c\nd\n"}}}, "a\r\nc\r\nd\r\n", 0},
		{"outside the file", "a\n", [][]Edit{{{Line: 3, EndLine: 3, Text: "x\n"}}}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fs []Finding
			for _, e := range tc.findings {
				fs = append(fs, Finding{File: "f", Edits: e})
			}
			fixed, err := ApplyFixes(fs, func(string) ([]byte, error) { return []byte(tc.src), nil })
			if err != nil {
				t.Fatal(err)
			}
			if got := string(fixed.Files["f"]); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(fixed.Skipped) != tc.skipped {
				t.Errorf("skipped %d, want %d", len(fixed.Skipped), tc.skipped)
			}
		})
	}
	fixed, err := ApplyFixes([]Finding{{File: "Dockerfile", Edits: []Edit{{File: ".dockerignore", Line: 1, EndLine: 0, Text: ".git\n"}}}},
		func(name string) ([]byte, error) { return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist) })
	if err != nil {
		t.Fatal(err)
	}
	if got := string(fixed.Files[".dockerignore"]); got != ".git\n" || len(fixed.Created) != 1 {
		t.Errorf("new file: %q, created %v", got, fixed.Created)
	}
	_, err = ApplyFixes([]Finding{{File: "f", Edits: []Edit{{Line: 1, EndLine: 0, Text: "x\n"}}}},
		func(string) ([]byte, error) { return nil, errors.New("disk on fire") })
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v", err)
	}
}

// fixRounds applies the fixes of c, again on the result while some apply
// (at most four rounds), and returns the fixed context.
func fixRounds(t *testing.T, c fixCase) fstest.MapFS {
	t.Helper()
	fsys := c.fsys
	for round := 0; round < 4; round++ {
		_, findings, err := analyzeCase(c, fsys)
		if err != nil {
			t.Fatal(err)
		}
		var fixed *Fixed
		fsys, fixed = applyTo(t, fsys, findings)
		if len(fixed.Applied) == 0 {
			break
		}
	}
	return fsys
}

// TestFixGolden applies every fix of each case of testdata/fixes (the
// defect classes of fixes pasted as written) and compares the result with
// the archive's NAME.fixed files.
func TestFixGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/fixes/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fix cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c := fixCase{name: file, fsys: txtarFS(ar), dockerfile: "Dockerfile"}
			got := fixRounds(t, c)
			n := 0
			for name, want := range c.fsys {
				orig, ok := strings.CutSuffix(name, ".fixed")
				if !ok {
					continue
				}
				n++
				if g := string(got[orig].Data); g != string(want.Data) {
					t.Errorf("%s after the fixes:\n%s\nwant:\n%s", orig, g, want.Data)
				}
			}
			if n == 0 {
				t.Fatal("no NAME.fixed file in the archive")
			}
		})
	}
}
