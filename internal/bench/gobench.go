package bench

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"golang.org/x/mod/module"
)

// RunGo benches the plain go command on the module in dir, no container
// tool and no Dockerfile: "go mod download" and "go build" of the
// module's main packages with an empty module cache and build cache
// (go-cold); with the module cache unpacked from the deps image and
// GOPROXY=off, so that nothing can be downloaded (go-prewarmed); and with
// both the module cache and the build cache layer of the deps image
// (go-buildcache), so that only the module's own packages are compiled.
// Every build uses the settings of [GoBuildFlags], those the deps image's
// build cache must be warmed with. The module is copied to a scratch
// directory first.
func RunGo(ctx context.Context, dir string, opts ...Option) (*Result, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "cachecheck-bench-go-")
	if err != nil {
		return nil, fmt.Errorf("creating a scratch directory: %w", err)
	}
	defer removeAll(scratch)
	res := newResult("go", dir, o.runs)
	work := filepath.Join(scratch, "module")
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		return nil, fmt.Errorf("copying the module %q: %w", dir, err)
	}
	pkgs, err := mainPackages(work)
	if err != nil {
		return nil, err
	}
	if o.logDir != "" {
		if err := os.MkdirAll(o.logDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the log directory: %w", err)
		}
	}
	g := &goRunner{o: o, work: work, pkgs: pkgs, scratch: scratch}

	cold := Scenario{Name: GoCold}
	for i := 1; i <= o.runs; i++ {
		b, err := g.build(ctx, GoCold, i, g.fresh("modcache"), g.fresh("gocache"), false)
		if err != nil {
			add(res, cold)
			return res, err
		}
		cold.Runs = append(cold.Runs, *b)
	}
	add(res, cold)

	o.progress("deps image: warming or looking up")
	ref, err := o.deps.Ensure(ctx, work, "", Warm{BuildCache: true, BuildFlags: GoBuildFlags})
	if err != nil {
		return res, err
	}
	res.DepsImage = ref
	modcache, depsGocache := g.fresh("deps-modcache"), g.fresh("deps-gocache")
	o.progress("deps image: unpacking the module cache and build cache")
	if err := o.deps.Unpack(ctx, ref, modcache, depsGocache); err != nil {
		return res, err
	}
	warm := Scenario{Name: GoPrewarmed, Image: ref, Note: goOfflineNote}
	for i := 1; i <= o.runs; i++ {
		b, err := g.build(ctx, GoPrewarmed, i, modcache, g.fresh("gocache"), true)
		if !offlineRun(&warm, i, b, err) {
			break
		}
		if err != nil {
			add(res, warm)
			return res, err
		}
	}
	add(res, warm)

	// Each run starts from a copy of the image's build cache: the
	// module's own packages are compiled every time, as in a CI build
	// FROM the deps image.
	both := Scenario{Name: GoBuildCache, Image: ref, Note: goOfflineNote}
	for i := 1; i <= o.runs; i++ {
		gocache := g.fresh("gocache")
		if err := os.CopyFS(gocache, os.DirFS(depsGocache)); err != nil {
			add(res, both)
			return res, fmt.Errorf("copying the build cache: %w", err)
		}
		b, err := g.build(ctx, GoBuildCache, i, modcache, gocache, true)
		if !offlineRun(&both, i, b, err) {
			break
		}
		if err != nil {
			add(res, both)
			return res, err
		}
	}
	add(res, both)
	return res, nil
}

// goOfflineNote is the note of the go builder's scenarios with the deps
// image.
const goOfflineNote = "GOPROXY=off, so that a module missing from the deps image fails the build"

// offlineRun records the run i of an offline scenario sc, built as b with
// the error err: appended to its runs, or, when it failed because it
// needed a download, sc made invalid; and sc made invalid when the run
// downloaded a module. It returns false when the scenario can have no
// more runs: err says GOPROXY=off refused a download.
func offlineRun(sc *Scenario, i int, b *Build, err error) bool {
	if oe := (*offlineError)(nil); errors.As(err, &oe) {
		sc.Invalid = fmt.Sprintf("run %d failed: it needed to download what the deps image lacks: %s", i, oe.quote())
		return false
	}
	if err != nil {
		return true
	}
	sc.Runs = append(sc.Runs, *b)
	if n := b.ModulesDownloaded; n != nil && *n > 0 && sc.Invalid == "" {
		sc.Invalid = fmt.Sprintf("run %d downloaded %d %s the deps image should have held (%s)", i, *n, plural(*n, "module", "modules"), quoteList(b.Downloaded, 3))
	}
	return true
}

// GoBuildFlags are the build settings of RunGo's builds, in the form of
// "cachecheck warm --build-flags": the deps image's build cache layer must
// be compiled with them to be used.
const GoBuildFlags = "CGO_ENABLED=0 -trimpath"

type goRunner struct {
	o       *options
	work    string
	pkgs    []string
	scratch string
	n       int
}

func (g *goRunner) fresh(name string) string {
	g.n++
	return filepath.Join(g.scratch, fmt.Sprintf("%s-%d", name, g.n))
}

// build times go mod download and go build with the given caches. The
// modules downloaded are the zips the run added to the module cache
// (go mod download -x names only those fetched over HTTP, not from a
// file:// GOPROXY), counted in the Build.
func (g *goRunner) build(ctx context.Context, name string, i int, modcache, gocache string, offline bool) (*Build, error) {
	label := fmt.Sprintf("%s %d/%d", name, i, g.o.runs)
	if i == 0 {
		label = name + " (filling the build cache)"
	}
	g.o.progress("go: " + label)
	env := append(os.Environ(), "GOMODCACHE="+modcache, "GOCACHE="+gocache, "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
	if os.Getenv("GOTOOLCHAIN") == "" {
		env = append(env, "GOTOOLCHAIN=local")
	}
	proxy := os.Getenv("GOPROXY")
	if offline {
		proxy = "off"
		env = append(env, "GOPROXY=off")
	}
	var log strings.Builder
	b := &Build{}
	out := filepath.Join(g.scratch, "bin") + string(filepath.Separator)
	before := moduleZips(modcache)
	for _, args := range [][]string{{"mod", "download", "-x"}, append([]string{"build", "-trimpath", "-v", "-o", out}, g.pkgs...)} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = g.work, env
		fmt.Fprintf(&log, "$ GOPROXY=%s go %s\n", proxy, strings.Join(args, " "))
		start := now()
		data, err := cmd.CombinedOutput()
		secs := now().Sub(start).Seconds()
		log.Write(data)
		b.Seconds += secs
		step := "go build"
		if args[0] == "mod" {
			step = "go mod download"
		}
		b.Steps = append(b.Steps, Step{Stage: "go", Instruction: step, Seconds: secs})
		if err != nil {
			g.saveLog(name, i, log.String(), b)
			err = fmt.Errorf("%s: go %s: %w\n%s", label, strings.Join(args, " "), err, data)
			if errs := buildlog.OfflineErrors(string(data)); offline && len(errs) > 0 {
				err = &offlineError{err: err, errs: errs}
			}
			return nil, err
		}
		if step == "go build" {
			// go build -v names the packages it compiles.
			pkgs := buildlog.GoBuildPackages(string(data))
			n := len(pkgs)
			b.CompiledPackages = &n
			if name == GoBuildCache {
				b.Compiled = pkgs
			}
		}
	}
	var mods []string
	for _, m := range moduleZips(modcache) {
		if !slices.Contains(before, m) {
			mods = append(mods, m)
		}
	}
	n := len(mods)
	b.ModulesDownloaded = &n
	if offline {
		b.Downloaded = mods
	}
	g.saveLog(name, i, log.String(), b)
	return b, nil
}

func (g *goRunner) saveLog(name string, i int, log string, b *Build) {
	if g.o.logDir == "" || i == 0 {
		return
	}
	b.Log = filepath.Join(g.o.logDir, fmt.Sprintf("%s-%d.log", name, i))
	os.WriteFile(b.Log, []byte(log), 0o644)
}

// moduleZips lists the modules whose zips the module cache gomodcache
// holds, as MODULE@VERSION, in path order.
func moduleZips(gomodcache string) []string {
	var mods []string
	root := filepath.Join(gomodcache, "cache", "download")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zip") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return nil
		}
		dir, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		if !ok {
			return nil
		}
		mp, perr := module.UnescapePath(dir)
		v, verr := module.UnescapeVersion(strings.TrimSuffix(file, ".zip"))
		if perr == nil && verr == nil {
			mods = append(mods, mp+"@"+v)
		}
		return nil
	})
	return mods
}

// mainPackages lists the main packages of the module in dir, as "./path"
// patterns, by reading package clauses: the go command cannot list them
// before the modules they import are downloaded, which is what is timed.
func mainPackages(dir string) ([]string, error) {
	set := map[string]bool{}
	fsys := os.DirFS(dir)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if p != "." && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" || n == "vendor") {
				return fs.SkipDir
			}
			if _, err := fs.Stat(fsys, path.Join(p, "go.mod")); p != "." && err == nil {
				return fs.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, p), nil, parser.PackageClauseOnly)
		if err != nil {
			return nil // the go command reports it
		}
		if f.Name.Name == "main" {
			set["./"+path.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding the main packages in %s: %w", dir, err)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%s: no main package to build", dir)
	}
	pkgs := make([]string, 0, len(set))
	for p := range set {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

// removeAll removes dir, making the read-only directories of a module
// cache writable first.
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
}
