package builder

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/reports"
	"golang.org/x/mod/modfile"
	"golang.org/x/tools/txtar"
)

// minFixBuilds is the least number of corpus cases TestFixedBuilds
// builds, and minRealFixBuilds the least number of those from the real
// corpus (testdata/dockerfiles/real) with their real modules.
const (
	minFixBuilds     = 10
	minRealFixBuilds = 10
)

// TestFixedBuilds builds, with BuildKit from the test base image, the
// Dockerfile that every mechanical fix of a corpus case produces, then
// rebuilds it after a change to a .go file: the build must succeed and
// the rebuild must reuse the module download layer, read from BuildKit's
// log. The cases are those of analyzer/testdata/fixes, corpus and rules
// whose modules are all local (they require made-up ones otherwise), and
// those of testdata/dockerfiles/real, whose real requirements the builds
// fetch through the Go module proxy, as users' builds do; left out are
// the cases that install packages, fetch other things or need a tool the
// base image (Go, busybox and make) lacks.
//
// To run the cases without the public images, every FROM of an image
// other than scratch becomes the test base image, and a package main file
// of a case that is only a stub gets a func main.
func TestFixedBuilds(t *testing.T) {
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	bk := &BuildKit{Addr: testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd (.ci/setup.d/30-buildkit.sh)")}
	cases := fixedCases(t)
	real := 0
	for _, c := range cases {
		if c.real {
			real++
		}
	}
	if len(cases) < minFixBuilds || real < minRealFixBuilds {
		t.Fatalf("only %d corpus cases can build after the fixes, %d of them with real modules; want %d and %d", len(cases), real, minFixBuilds, minRealFixBuilds)
	}
	ctx := context.Background()
	built, builtReal := 0, 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, f := range c.fsys {
				data := f.Data
				if name == "Dockerfile" {
					data = rebase(data, base)
				}
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			df, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			r, err := bk.Build(ctx, BuildOptions{Context: dir, BuildArgs: c.args})
			if err != nil {
				out := ""
				if r != nil {
					out = tail(r.Output, 40)
				}
				t.Fatalf("the fixed Dockerfile does not build: %v\n%s\n%s", err, df, out)
			}
			// A code change: the module download layer is reused.
			if err := os.WriteFile(filepath.Join(dir, c.goFile), append(c.fsys[c.goFile].Data, []byte("\n// changed\n")...), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err = bk.Build(ctx, BuildOptions{Context: dir, BuildArgs: c.args})
			if err != nil {
				t.Fatalf("rebuild after a code change: %v\n%s", err, df)
			}
			found := false
			for _, s := range r.Steps {
				if s.Kind() == "RUN" && strings.Contains(s.Instruction, "go mod download") {
					found = true
					if !s.Cached {
						t.Errorf("after a change to %s the download step %q ran again\n%s", c.goFile, s.Instruction, df)
					}
				}
			}
			if !found {
				var steps []string
				for _, s := range r.Steps {
					steps = append(steps, s.String())
				}
				t.Errorf("no go mod download step in the BuildKit log of\n%s\nsteps:\n%s\nlog:\n%s", df, strings.Join(steps, "\n"), tail(r.Output, 30))
			}
			built++
			if c.real {
				builtReal++
			}
		})
	}
	t.Logf("FIXED BUILDS %d of %d corpus cases built and reused the download layer; %d of %d real-corpus cases with their modules from the Go module proxy", built, len(cases), builtReal, real)
}

// fixedCase is a corpus case after its fixes.
type fixedCase struct {
	name   string
	fsys   fstest.MapFS
	goFile string // a .go file the source copy brings in, to change
	real   bool   // requires modules from the Go module proxy
	args   map[string]string
}

var goproxyArgRE = regexp.MustCompile(`(?m)^\s*ARG\s+GOPROXY\b`)

// goProxy is this machine's GOPROXY.
func goProxy(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatalf("go env GOPROXY: %v", err)
	}
	return strings.TrimSpace(string(out))
}

var fromRE = regexp.MustCompile(`(?im)^(\s*FROM\s+(?:--\S+\s+)*)(\S+)`)

var (
	syntaxRE  = regexp.MustCompile(`(?im)^#\s*syntax\s*=.*\n`)
	goBuildRE = regexp.MustCompile(`(?im)^(\s*RUN)(\s)(.*\bgo\s+build\b)`)
)

// rebase points every FROM of an image other than scratch or an earlier
// stage at the test base image, drops the "# syntax=" line (the frontend
// image cannot be pulled here; BuildKit's own Dockerfile frontend reads
// every form the fixes write) and gives each RUN whose first line runs go
// build a cache mount on GOCACHE, shared by all the builds, so that the
// standard library is compiled once for the whole test. None of this
// changes where the module files go or what the download step sees.
func rebase(df []byte, base string) []byte {
	df = syntaxRE.ReplaceAll(df, nil)
	df = goBuildRE.ReplaceAllFunc(df, func(line []byte) []byte {
		if strings.Contains(string(line), "target=/root/.cache/go-build") {
			return line
		}
		m := goBuildRE.FindSubmatch(line)
		return []byte(string(m[1]) + " --mount=type=cache,target=/root/.cache/go-build" + string(m[2]) + string(m[3]))
	})
	stages := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?im)^\s*FROM\s+.*\s+AS\s+(\S+)`).FindAllSubmatch(df, -1) {
		stages[strings.ToLower(string(m[1]))] = true
	}
	return fromRE.ReplaceAllFunc(df, func(line []byte) []byte {
		m := fromRE.FindSubmatch(line)
		img := string(m[2])
		if img == "scratch" || stages[strings.ToLower(img)] {
			return line
		}
		return []byte(string(m[1]) + base)
	})
}

var stubMainRE = regexp.MustCompile(`(?m)^func main\(`)

// fixedCases applies the fixes of every corpus case and keeps those that
// can build here: they load, nothing at error is left, every module is in
// the context (requirements replaced by directories), no RUN installs
// packages or fetches from the network, and a download step exists.
func fixedCases(t *testing.T) []fixedCase {
	var files []string
	for _, g := range []string{"../../analyzer/testdata/fixes/*.txtar", "../../analyzer/testdata/corpus/*.txtar", "../../analyzer/testdata/rules/*.txtar", "../../testdata/dockerfiles/real/*.txtar", "../../testdata/dockerfiles/real/*/*.txtar"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	var out []fixedCase
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(ar.Comment), "dockerfile ") || strings.Contains(string(ar.Comment), "deps-") {
			continue
		}
		args := map[string]string{}
		for _, l := range strings.Split(string(ar.Comment), "\n") {
			if kv, ok := strings.CutPrefix(l, "build-arg "); ok {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				args[k] = v
			}
		}
		fsys := fstest.MapFS{}
		for _, f := range ar.Files {
			fsys[f.Name] = &fstest.MapFile{Data: f.Data, Mode: 0o644}
		}
		if _, ok := fsys["Dockerfile"]; !ok {
			continue
		}
		fsys, ok := fixAll(fsys)
		if !ok {
			continue
		}
		ok, real := buildable(fsys)
		// The rule and fixture cases require made-up modules
		// (example.com/dep): only their local ones can build.
		if !ok || real && !strings.Contains(filepath.ToSlash(file), "/testdata/dockerfiles/real/") {
			continue
		}
		// A Dockerfile that takes its module proxy as a build arg gets
		// this machine's, as a user behind a mirror passes theirs.
		if goproxyArgRE.Match(fsys["Dockerfile"].Data) {
			args["GOPROXY"] = goProxy(t)
		}
		c := fixedCase{name: strings.TrimSuffix(path.Base(filepath.ToSlash(file)), ".txtar"), fsys: fsys, real: real, args: args}
		var names []string
		for name := range fsys {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !strings.HasSuffix(name, ".go") {
				continue
			}
			data := fsys[name].Data
			if strings.HasPrefix(strings.TrimSpace(string(data)), "package main") && !stubMainRE.Match(data) {
				fsys[name] = &fstest.MapFile{Data: append(append([]byte{}, data...), []byte("\nfunc main() {}\n")...), Mode: 0o644}
			}
			if c.goFile == "" {
				c.goFile = name
			}
		}
		if c.goFile == "" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// fixAll applies the fixes in rounds, as analyze --fix does; ok is false
// when the case does not load or an error is left.
func fixAll(fsys fstest.MapFS) (fstest.MapFS, bool) {
	for round := 0; round < 4; round++ {
		b, err := analyzer.Load(fsys)
		if err != nil {
			return nil, false
		}
		findings, err := analyzer.Analyze(b)
		if err != nil {
			return nil, false
		}
		fixed, err := analyzer.ApplyFixes(findings, func(name string) ([]byte, error) {
			if f, ok := fsys[name]; ok {
				return f.Data, nil
			}
			return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		})
		if err != nil {
			return nil, false
		}
		if len(fixed.Applied) == 0 {
			for _, f := range findings {
				if f.Severity >= reports.Error {
					return nil, false
				}
			}
			return fsys, true
		}
		next := fstest.MapFS{}
		for k, v := range fsys {
			next[k] = v
		}
		for k, v := range fixed.Files {
			next[k] = &fstest.MapFile{Data: v, Mode: 0o644}
		}
		fsys = next
	}
	return nil, false
}

var raceRE = regexp.MustCompile(`\bgo\s+(test|build|install|run)\b.*\s-race\b`)

var networkRE = regexp.MustCompile(`\b(apk|apt-get|apt|yum|dnf|curl|wget|git)\b|--mount=type=(secret|ssh)`)

// toolRE is what needs a tool the test base image (Go, busybox and make)
// does not have: git for -buildvcs=true, Node.js, the xx cross-compiling
// helpers.
var toolRE = regexp.MustCompile(`(?m)^\s*RUN\b.*\b(npm|yarn|xx-go|xx-apk|xx-verify)\b|-buildvcs=true`)

// buildable reports whether the fixed case can build here: a go mod
// download step, no package installs or fetches, no tool the base image
// lacks. real
// says whether it requires modules that are not in the context: the
// builds fetch those through the Go module proxy, as users' builds do.
func buildable(fsys fstest.MapFS) (ok, real bool) {
	df := string(fsys["Dockerfile"].Data)
	// An ignore comment keeps a finding, and so its layer order, on
	// purpose.
	if !strings.Contains(df, "go mod download") || strings.Contains(df, "cachecheck:ignore") || networkRE.MatchString(df) || toolRE.MatchString(df) || strings.Contains(df, "-mod=vendor") {
		return false, false
	}
	for name, f := range fsys {
		// -race needs cgo, and so a C compiler, which the base image
		// lacks (a golang image has gcc).
		if (name == "Dockerfile" || path.Base(name) == "Makefile" || strings.HasSuffix(name, ".mk") || strings.HasSuffix(name, ".sh")) && raceRE.Match(f.Data) {
			return false, false
		}
	}
	_, work := fsys["go.work"]
	for name, f := range fsys {
		if path.Base(name) != "go.mod" || strings.Contains(name, "vendor/") {
			continue
		}
		mf, err := modfile.Parse(name, f.Data, nil)
		if err != nil {
			return false, false
		}
		local := map[string]bool{}
		for _, r := range mf.Replace {
			if modfile.IsDirectoryPath(r.New.Path) {
				local[r.Old.Path] = true
			}
		}
		for _, r := range mf.Require {
			if !local[r.Mod.Path] && !(work && strings.HasPrefix(r.Mod.Path, "example.com/")) {
				real = true
			}
		}
	}
	return true, real
}
