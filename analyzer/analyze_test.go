package analyzer

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
	"golang.org/x/tools/txtar"
)

// txtarFS returns the files of a txtar archive as a file system.
func txtarFS(ar *txtar.Archive) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, f := range ar.Files {
		fsys[f.Name] = &fstest.MapFile{Data: f.Data, Mode: 0o644}
	}
	return fsys
}

// ruleCase is a fixture of testdata/rules: a txtar archive whose comment
// holds directives, one a line:
//
//	want ID LINE         a finding of rule ID at LINE must be reported
//	not ID               no finding of rule ID may be reported
//	sev ID LINE SEV      the finding of rule ID at LINE has severity SEV
//	msg ID TEXT          a finding of rule ID has TEXT in its message
//	count ID N           exactly N findings of rule ID are reported
//	dockerfile NAME      the Dockerfile's name (default Dockerfile)
//	deps-image REF       run with WithDepsImage(REF)
//	deps-settings LINE   run with WithDepsImageSettings(gosettings.Parse(LINE));
//	                     several: the platforms of a multi-platform image
//	image REF K=V...     WithImageConfig reads image REF with that Env
//	                     (the other images cannot be read)
//	# TEXT               a comment
//
// Any other line fails the test, so a misspelled directive is not ignored.
type ruleCase struct {
	file       string
	want       []string // "ID:LINE"
	not        []string
	sev        map[string]string // "ID:LINE" -> severity
	msg        [][2]string       // rule ID, text
	count      map[string]int
	dockerfile string
	depsImage  string
	depsSet    []string
	images     map[string][]string
	fsys       fstest.MapFS
}

func loadRuleCases(t *testing.T) []ruleCase {
	t.Helper()
	files, err := filepath.Glob("testdata/rules/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule fixtures: %v", err)
	}
	var cases []ruleCase
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c := ruleCase{file: file, dockerfile: "Dockerfile", fsys: txtarFS(ar)}
		for _, line := range strings.Split(string(ar.Comment), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "want":
				if _, err := strconv.Atoi(f[2]); err != nil {
					t.Fatalf("%s: bad line in %q", file, line)
				}
				c.want = append(c.want, f[1]+":"+f[2])
			case len(f) == 2 && f[0] == "not":
				c.not = append(c.not, f[1])
			case len(f) == 4 && f[0] == "sev":
				if c.sev == nil {
					c.sev = map[string]string{}
				}
				c.sev[f[1]+":"+f[2]] = f[3]
			case len(f) >= 3 && f[0] == "msg":
				_, text, _ := strings.Cut(strings.TrimSpace(line)[len("msg "):], " ")
				c.msg = append(c.msg, [2]string{f[1], strings.TrimSpace(text)})
			case len(f) == 3 && f[0] == "count":
				n, err := strconv.Atoi(f[2])
				if err != nil {
					t.Fatalf("%s: bad line in %q", file, line)
				}
				if c.count == nil {
					c.count = map[string]int{}
				}
				c.count[f[1]] = n
			case len(f) == 2 && f[0] == "dockerfile":
				c.dockerfile = f[1]
			case len(f) >= 1 && f[0] == "deps-settings":
				c.depsSet = append(c.depsSet, strings.TrimSpace(strings.TrimPrefix(line, "deps-settings")))
			case len(f) >= 2 && f[0] == "image":
				if c.images == nil {
					c.images = map[string][]string{}
				}
				c.images[f[1]] = f[2:]
			case len(f) == 2 && f[0] == "deps-image":
				c.depsImage = f[1]
			case len(f) == 0 || strings.HasPrefix(f[0], "#"):
			default:
				t.Fatalf("%s: %q is not a directive (want ID LINE, not ID, sev ID LINE SEV, msg ID TEXT, count ID N, dockerfile NAME, deps-image REF, deps-settings LINE, image REF K=V..., # comment)", file, line)
			}
		}
		if len(c.want)+len(c.not)+len(c.sev)+len(c.count) == 0 {
			t.Fatalf("%s: no want or not lines", file)
		}
		cases = append(cases, c)
	}
	return cases
}

func TestRules(t *testing.T) {
	cases := loadRuleCases(t)
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(tc.file), ".txtar"), func(t *testing.T) {
			b, err := Load(tc.fsys, WithDockerfile(nil, tc.dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			var opts []Option
			if tc.depsImage != "" {
				opts = append(opts, WithDepsImage(tc.depsImage))
			}
			if tc.images != nil {
				opts = append(opts, WithImageConfig(func(ref, platform string) (*ImageConfig, error) {
					env, ok := tc.images[ref]
					if !ok {
						return nil, fmt.Errorf("image %s not in the fixture", ref)
					}
					return &ImageConfig{Env: env}, nil
				}))
			}
			for _, line := range tc.depsSet {
				s, err := gosettings.Parse(line)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithDepsImageSettings(s))
			}
			findings, err := Analyze(b, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			rules := map[string]bool{}
			sevs := map[string]string{}
			counts := map[string]int{}
			var all []string
			for _, f := range findings {
				got[fmt.Sprintf("%s:%d", f.Rule, f.Line)] = true
				rules[f.Rule] = true
				sevs[fmt.Sprintf("%s:%d", f.Rule, f.Line)] = f.Severity.String()
				counts[f.Rule]++
				all = append(all, fmt.Sprintf("%s:%d %s: %s [fix: %s]", f.Rule, f.Line, f.Severity, f.Message, f.Fix))
				if f.Message == "" || f.Fix == "" || f.File != tc.dockerfile || f.Line < 1 || f.EndLine < f.Line {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("missing finding %s", w)
				}
			}
			for _, n := range tc.not {
				if rules[n] {
					t.Errorf("unexpected finding of %s", n)
				}
			}
			for at, want := range tc.sev {
				if got, ok := sevs[at]; ok && got != want {
					t.Errorf("finding %s has severity %s, want %s", at, got, want)
				} else if !ok {
					t.Errorf("missing finding %s (want severity %s)", at, want)
				}
			}
			for _, m := range tc.msg {
				found := false
				for _, f := range findings {
					found = found || f.Rule == m[0] && strings.Contains(f.Message, m[1])
				}
				if !found {
					t.Errorf("no finding of %s says %q", m[0], m[1])
				}
			}
			for id, n := range tc.count {
				if counts[id] != n {
					t.Errorf("%d findings of %s, want %d", counts[id], id, n)
				}
			}
			if t.Failed() {
				t.Logf("findings:\n%s", strings.Join(all, "\n"))
			}
		})
	}
}

// TestEveryRuleTested checks that every rule has a fixture that triggers it
// and one that must not.
func TestEveryRuleTested(t *testing.T) {
	want, not := map[string]bool{}, map[string]bool{}
	for _, c := range loadRuleCases(t) {
		for _, w := range c.want {
			want[strings.Split(w, ":")[0]] = true
		}
		for _, n := range c.not {
			not[n] = true
		}
	}
	for _, r := range Rules {
		if !want[r.ID] || !not[r.ID] {
			t.Errorf("rule %s (%s): triggering fixture %v, non-triggering fixture %v", r.ID, r.Slug, want[r.ID], not[r.ID])
		}
	}
}
