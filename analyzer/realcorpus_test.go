package analyzer_test

import (
	"bufio"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/reports"
	"golang.org/x/tools/txtar"
)

// realDir holds the corpus of cases modeled on public Dockerfiles; its
// README.md describes the format.
const realDir = "../testdata/dockerfiles/real"

// realCase is one archive of realDir, parsed.
type realCase struct {
	name       string
	source     string
	categories []string
	dockerfile string
	depsImage  string
	buildArgs  map[string]string
	want       []realExpect // findings that must be reported
	forbid     []realExpect // findings that must not be reported, at any severity
	files      fstest.MapFS
}

// realExpect is an expected finding: a rule at a line of the Dockerfile,
// with a severity (empty in a forbid line) and the reason it is right.
type realExpect struct {
	rule     string
	line     int
	severity reports.Severity
	why      string
}

func (e realExpect) String() string {
	if e.severity == 0 {
		return fmt.Sprintf("%s line %d", e.rule, e.line)
	}
	return fmt.Sprintf("%s line %d %s", e.rule, e.line, e.severity)
}

var (
	ruleIDRE   = regexp.MustCompile(`^CC\d{3}$`)
	categories = []string{"fixed", "unfixed", "large", "small", "make", "script", "workspace", "vendor",
		"private", "secret", "cache-mount", "replace", "multi-module", "cgo-static", "mirror", "git",
		"toolchain", "deps-image", "fine"}
)

// parseRealCase reads the archive comment: a header of keyword lines
// (SOURCE, category, dockerfile, deps-image, build-arg, want, forbid)
// and, after them, free text.
func parseRealCase(file string) (*realCase, error) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		return nil, err
	}
	c := &realCase{
		name:       strings.TrimSuffix(filepath.Base(file), ".txtar"),
		dockerfile: "Dockerfile",
		buildArgs:  map[string]string{},
		files:      fstest.MapFS{},
	}
	sc := bufio.NewScanner(strings.NewReader(string(ar.Comment)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		key, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		errorf := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", file, n, fmt.Sprintf(format, args...))
		}
		switch key {
		case "SOURCE":
			f := strings.Fields(rest)
			if len(f) != 2 || !strings.Contains(f[0], "/") || !regexp.MustCompile(`@[0-9a-f]{40}$`).MatchString(f[1]) {
				return nil, errorf("want SOURCE owner/repo path@commit (40 hex digits), have %q", line)
			}
			c.source = rest
		case "category":
			for _, cat := range strings.Fields(rest) {
				if !slices.Contains(categories, cat) {
					return nil, errorf("unknown category %q (known: %s)", cat, strings.Join(categories, " "))
				}
				c.categories = append(c.categories, cat)
			}
		case "dockerfile":
			c.dockerfile = rest
		case "deps-image":
			c.depsImage = rest
		case "build-arg":
			k, v, ok := strings.Cut(rest, "=")
			if !ok {
				return nil, errorf("want build-arg NAME=VALUE, have %q", line)
			}
			c.buildArgs[k] = v
		case "want", "forbid":
			f := strings.Fields(rest)
			nf := 3
			if key == "forbid" {
				nf = 2
			}
			if len(f) < nf {
				return nil, errorf("want %q followed by RULE LINE%s and a reason", key, map[bool]string{true: " SEVERITY"}[key == "want"])
			}
			e := realExpect{rule: f[0]}
			if !ruleIDRE.MatchString(e.rule) {
				return nil, errorf("bad rule ID %q", e.rule)
			}
			if e.line, err = strconv.Atoi(f[1]); err != nil || e.line < 1 {
				return nil, errorf("bad line %q", f[1])
			}
			if key == "want" {
				if e.severity, err = reports.ParseSeverity(f[2]); err != nil || e.severity == 0 {
					return nil, errorf("bad severity %q (want info, warning or error)", f[2])
				}
			}
			if e.why = strings.Join(f[nf:], " "); e.why == "" {
				return nil, errorf("%s %s has no reason", key, e)
			}
			if key == "want" {
				c.want = append(c.want, e)
			} else {
				c.forbid = append(c.forbid, e)
			}
		case "":
			// The header ends at the first blank line.
			for sc.Scan() {
			}
		default:
			return nil, errorf("unknown header keyword %q (a blank line ends the header)", key)
		}
	}
	if c.source == "" {
		return nil, fmt.Errorf("%s: no SOURCE line", file)
	}
	if len(c.categories) == 0 {
		return nil, fmt.Errorf("%s: no category line", file)
	}
	for _, f := range ar.Files {
		if _, dup := c.files[f.Name]; dup {
			return nil, fmt.Errorf("%s: file %s twice", file, f.Name)
		}
		c.files[f.Name] = &fstest.MapFile{Data: f.Data, Mode: 0o644}
	}
	if _, ok := c.files[c.dockerfile]; !ok {
		return nil, fmt.Errorf("%s: no %s in the archive", file, c.dockerfile)
	}
	return c, nil
}

// realResult is what the analyzer got right and wrong on one case.
type realResult struct {
	missing    []realExpect       // wanted, not reported
	falseAlarm []analyzer.Finding // reported at warning or error, not wanted, or forbidden
	extraInfo  []analyzer.Finding // reported at info, not wanted
}

func (r realResult) ok() bool { return len(r.missing) == 0 && len(r.falseAlarm) == 0 }

func checkRealCase(c *realCase, findings []analyzer.Finding) realResult {
	var r realResult
	used := make([]bool, len(findings))
	for _, w := range c.want {
		i := slices.IndexFunc(findings, func(f analyzer.Finding) bool {
			return f.Rule == w.rule && f.Line == w.line && f.Severity == w.severity
		})
		for i >= 0 && used[i] {
			j := slices.IndexFunc(findings[i+1:], func(f analyzer.Finding) bool {
				return f.Rule == w.rule && f.Line == w.line && f.Severity == w.severity
			})
			if j < 0 {
				i = -1
				break
			}
			i += j + 1
		}
		if i < 0 {
			r.missing = append(r.missing, w)
			continue
		}
		used[i] = true
	}
	for i, f := range findings {
		if used[i] {
			continue
		}
		forbidden := slices.ContainsFunc(c.forbid, func(e realExpect) bool { return e.rule == f.Rule && e.line == f.Line })
		switch {
		case forbidden || f.Severity != reports.Info:
			r.falseAlarm = append(r.falseAlarm, f)
		default:
			r.extraInfo = append(r.extraInfo, f)
		}
	}
	return r
}

func analyzeRealCase(c *realCase) ([]analyzer.Finding, error) {
	b, err := analyzer.Load(c.files, analyzer.WithDockerfile(nil, c.dockerfile), analyzer.WithBuildArgs(c.buildArgs))
	if err != nil {
		return nil, err
	}
	var opts []analyzer.Option
	if c.depsImage != "" {
		opts = append(opts, analyzer.WithDepsImage(c.depsImage))
	}
	return analyzer.Analyze(b, opts...)
}

func describe(f analyzer.Finding) string {
	return fmt.Sprintf("%s line %d %s: %s", f.Rule, f.Line, f.Severity, f.Message)
}

// TestRealCorpus runs every case of testdata/dockerfiles/real through Load
// and Analyze: each wanted finding must be reported (rule, line and
// severity), and nothing else at warning or error, nor a forbidden finding
// at any severity. Extra info findings are allowed and listed. The figures
// are logged (go test -v) and, on failure, each case's differences.
func TestRealCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(realDir, "*.txtar"))
	if err != nil || len(files) < 40 {
		t.Fatalf("want at least 40 cases in %s, have %d (%v)", realDir, len(files), err)
	}
	var right, falseAlarms, missed, infos int
	perCategory := map[string]int{}
	for _, file := range files {
		c, err := parseRealCase(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, cat := range c.categories {
			perCategory[cat]++
		}
		t.Run(c.name, func(t *testing.T) {
			findings, err := analyzeRealCase(c)
			if err != nil {
				t.Fatalf("analyzing %s: %v", c.name, err)
			}
			r := checkRealCase(c, findings)
			falseAlarms += len(r.falseAlarm)
			missed += len(r.missing)
			infos += len(r.extraInfo)
			for _, f := range r.extraInfo {
				t.Logf("info, not in the case (allowed): %s", describe(f))
			}
			if r.ok() {
				right++
				return
			}
			var diff strings.Builder
			fmt.Fprintf(&diff, "%s (modeled on %s):\n", c.name, c.source)
			for _, m := range r.missing {
				fmt.Fprintf(&diff, "  - missing:     %s  (%s)\n", m, m.why)
			}
			for _, f := range r.falseAlarm {
				fmt.Fprintf(&diff, "  + false alarm: %s\n", describe(f))
			}
			t.Error(diff.String())
		})
	}
	cats := make([]string, 0, len(perCategory))
	for _, cat := range categories {
		if perCategory[cat] > 0 {
			cats = append(cats, fmt.Sprintf("%s %d", cat, perCategory[cat]))
		}
	}
	t.Logf("categories: %s", strings.Join(cats, ", "))
	t.Logf("real corpus: %d/%d cases right, %d false alarms (warning or error), %d missed findings, %d extra info findings",
		right, len(files), falseAlarms, missed, infos)
}

// TestRealCorpusCheck pins the comparison TestRealCorpus makes.
func TestRealCorpusCheck(t *testing.T) {
	c := &realCase{
		want:   []realExpect{{rule: "CC001", line: 3, severity: reports.Warning}, {rule: "CC004", line: 5, severity: reports.Error}, {rule: "CC004", line: 5, severity: reports.Error}},
		forbid: []realExpect{{rule: "CC006", line: 7}},
	}
	f := func(rule string, line int, sev reports.Severity) analyzer.Finding {
		return analyzer.Finding{Rule: rule, Line: line, Severity: sev}
	}
	tests := []struct {
		name                    string
		findings                []analyzer.Finding
		missing, alarms, extras int
	}{
		{"exact", []analyzer.Finding{f("CC001", 3, reports.Warning), f("CC004", 5, reports.Error), f("CC004", 5, reports.Error)}, 0, 0, 0},
		{"one of two", []analyzer.Finding{f("CC001", 3, reports.Warning), f("CC004", 5, reports.Error)}, 1, 0, 0},
		{"wrong severity", []analyzer.Finding{f("CC001", 3, reports.Info), f("CC004", 5, reports.Error), f("CC004", 5, reports.Error)}, 1, 0, 1},
		{"wrong line", []analyzer.Finding{f("CC001", 4, reports.Warning), f("CC004", 5, reports.Error), f("CC004", 5, reports.Error)}, 1, 1, 0},
		{"info extra", []analyzer.Finding{f("CC001", 3, reports.Warning), f("CC004", 5, reports.Error), f("CC004", 5, reports.Error), f("CC006", 8, reports.Info)}, 0, 0, 1},
		{"forbidden info", []analyzer.Finding{f("CC001", 3, reports.Warning), f("CC004", 5, reports.Error), f("CC004", 5, reports.Error), f("CC006", 7, reports.Info)}, 0, 1, 0},
		{"extra warning", []analyzer.Finding{f("CC001", 3, reports.Warning), f("CC004", 5, reports.Error), f("CC004", 5, reports.Error), f("CC009", 3, reports.Warning)}, 0, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := checkRealCase(c, tc.findings)
			if len(r.missing) != tc.missing || len(r.falseAlarm) != tc.alarms || len(r.extraInfo) != tc.extras {
				t.Errorf("missing %d, false alarms %d, extra info %d; want %d, %d, %d", len(r.missing), len(r.falseAlarm), len(r.extraInfo), tc.missing, tc.alarms, tc.extras)
			}
		})
	}
}
