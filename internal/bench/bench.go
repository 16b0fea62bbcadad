package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/reports"
	"golang.org/x/mod/module"
)

// Scenario names, stable in the JSON document.
const (
	Cold         = reports.ScenarioCold         // no layer cache, the Dockerfile as it is
	Prewarmed    = reports.ScenarioPrewarmed    // no layer cache, FROM the deps image
	BuildCache   = reports.ScenarioBuildCache   // no layer cache, FROM the deps image with a build cache layer
	CodeChange   = reports.ScenarioCodeChange   // layer cache warm, one Go file changed
	BumpCold     = reports.ScenarioBumpCold     // a requirement bumped, no deps image
	BumpNearest  = reports.ScenarioBumpNearest  // a requirement bumped, FROM the nearest older deps image
	BumpFresh    = reports.ScenarioBumpFresh    // a requirement bumped, FROM a deps image warmed for it
	GoCold       = reports.ScenarioGoCold       // --builder go: empty module cache and build cache
	GoPrewarmed  = reports.ScenarioGoPrewarmed  // --builder go: module cache from the deps image
	GoBuildCache = reports.ScenarioGoBuildCache // --builder go: module and build cache from the deps image
)

var titles = map[string]string{
	Cold:         "without pre-warming",
	Prewarmed:    "with pre-warming",
	BuildCache:   "with pre-warming, module and build cache",
	CodeChange:   "code change, layer cache warm",
	BumpCold:     "dependency bump, no deps image",
	BumpNearest:  "dependency bump, nearest deps image",
	BumpFresh:    "dependency bump, fresh deps image",
	GoCold:       "empty module and build cache",
	GoPrewarmed:  "module cache from the deps image",
	GoBuildCache: "module and build cache from the deps image",
}

// Result is what a bench measured: the document of "cachecheck bench
// --format json", which package reports renders.
type Result = reports.BenchRun

// Scenario is one scenario's runs and their median, min and max.
type Scenario = reports.BenchScenario

// Build is one build of a scenario.
type Build = reports.BenchBuild

// Step is one Dockerfile step of a run, as the builder reported it.
type Step = reports.BenchStep

// newResult returns the result of a bench with builder b.
func newResult(b, context string, runs int) *Result {
	return &Result{Header: reports.Header{ProtocolVersion: reports.ProtocolVersion}, Builder: b, Context: context, Runs: runs}
}

// add appends s to r, its median, min and max and title filled in, and
// computes r's speedups again.
func add(r *Result, s Scenario) {
	secs := make([]float64, len(s.Runs))
	for i, run := range s.Runs {
		secs[i] = run.Seconds
	}
	slices.Sort(secs)
	if n := len(secs); n > 0 {
		s.Min, s.Max = secs[0], secs[n-1]
		s.Median = secs[n/2]
		if n%2 == 0 {
			s.Median = (secs[n/2-1] + secs[n/2]) / 2
		}
	}
	s.Title = titles[s.Name]
	if s.Name == BumpNearest {
		s.Invalid = cmp.Or(s.Invalid, nearestInvalid(r.Scenario(BumpCold), &s))
	}
	r.Scenarios = append(r.Scenarios, s)
	cold, warm, bc := r.Scenario(Cold), r.Scenario(Prewarmed), r.Scenario(BuildCache)
	if cold == nil {
		cold, warm, bc = r.Scenario(GoCold), r.Scenario(GoPrewarmed), r.Scenario(GoBuildCache)
	}
	r.Speedup, r.BuildCacheSpeedup = ratio(cold, warm), ratio(cold, bc)
}

// ratio returns the median of a over that of b, or 0 when either is
// missing, has no runs or is invalid.
func ratio(a, b *Scenario) float64 {
	if a == nil || b == nil || len(a.Runs) == 0 || len(b.Runs) == 0 || b.Median <= 0 || a.Invalid != "" || b.Invalid != "" {
		return 0
	}
	return a.Median / b.Median
}

// downloads returns the most modules a run of s downloaded, and whether
// any run's log told.
func downloads(s *Scenario) (n int, ok bool) {
	for _, b := range s.Runs {
		if b.ModulesDownloaded != nil {
			n, ok = max(n, *b.ModulesDownloaded), true
		}
	}
	return n, ok
}

// nearestInvalid returns why the bump-nearest scenario near is invalid,
// or "": it may download the modules the nearest deps image lacks, but
// not every module the build without a deps image downloaded, which
// means the image's module cache was not used.
func nearestInvalid(cold, near *Scenario) string {
	if cold == nil {
		return ""
	}
	c, okc := downloads(cold)
	n, okn := downloads(near)
	if !okc || !okn || c == 0 || n < c {
		return ""
	}
	return fmt.Sprintf("it downloaded %d modules, as many as without a deps image: the module cache of the deps image was not used", n)
}

// DepsImages finds and makes deps images; the cachecheck command line
// implements it with warm and ref.
type DepsImages interface {
	// Ensure returns the reference of the deps image of the module in dir
	// built on base ("" for a deps-only image), warming it first when the
	// target does not hold it. With w.BuildCache the image has a build
	// cache layer too; when it cannot have one for the build (warm
	// refuses: the base image's Go release differs from the go command's,
	// the Dockerfile has no go build, ...) the error wraps
	// [ErrNoBuildCache].
	Ensure(ctx context.Context, dir, base string, w Warm) (ref string, err error)
	// Nearest returns the published deps image on base sharing the most
	// modules with dir's go.sum, or "" when there is none.
	Nearest(ctx context.Context, dir, base string) (ref string, err error)
	// Unpack writes the module cache of the deps image ref into gomodcache
	// and, when gocache is not "", its build cache layer (at the image's
	// GOCACHE) into gocache.
	Unpack(ctx context.Context, ref, gomodcache, gocache string) error
}

// Warm says which deps image Ensure wants.
type Warm struct {
	// BuildCache asks for a build cache layer (warm --build-cache),
	// compiled for the settings of BuildFlags or, when it is "", those
	// of the first go build in Dockerfile.
	BuildCache bool
	// Dockerfile is the Dockerfile to read the build settings from
	// (warm --dockerfile); "" means DIR/Dockerfile.
	Dockerfile string
	// BuildFlags are the build settings, as for warm --build-flags.
	BuildFlags string
}

// ErrNoBuildCache is wrapped by Ensure's error when the deps image cannot
// have a build cache layer for the build; the bench skips the scenario.
var ErrNoBuildCache = errors.New("the deps image cannot hold a build cache for this build")

// Option configures Run and RunGo.
type Option func(*options) error

type options struct {
	runs         int
	dockerfile   string
	buildArgs    map[string]string
	logDir       string
	progress     func(string)
	bump         string
	noBuildCache bool
	deps         DepsImages
}

// WithRuns sets how many times each scenario runs; default 3.
func WithRuns(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("runs %d: want at least 1", n)
		}
		o.runs = n
		return nil
	}
}

// WithDockerfile names the Dockerfile; default CONTEXT/Dockerfile.
func WithDockerfile(path string) Option {
	return func(o *options) error { o.dockerfile = path; return nil }
}

// WithBuildArgs passes build args to every build; default none.
func WithBuildArgs(args map[string]string) Option {
	return func(o *options) error { o.buildArgs = maps.Clone(args); return nil }
}

// WithLogDir saves each run's builder output as DIR/SCENARIO-N.log (and
// the Dockerfile it built as DIR/SCENARIO-N.Dockerfile); default: not
// saved.
func WithLogDir(dir string) Option {
	return func(o *options) error { o.logDir = dir; return nil }
}

// WithProgress calls f with a line saying what runs now; default none.
func WithProgress(f func(string)) Option {
	return func(o *options) error { o.progress = f; return nil }
}

// WithBump adds the dependency-change scenarios, bumping MODULE@VERSION in
// a scratch copy of the context; default none.
func WithBump(moduleVersion string) Option {
	return func(o *options) error {
		if _, err := ParseBump(moduleVersion); err != nil {
			return fmt.Errorf("bump %q: %w", moduleVersion, err)
		}
		o.bump = moduleVersion
		return nil
	}
}

// ParseBump checks a --bump argument, MODULE@VERSION, the way the go
// command's "go get" takes it: a valid module path and a version
// ("v1.2.3", a branch or commit, "latest", "upgrade" or "patch").
func ParseBump(moduleVersion string) (module.Version, error) {
	p, v, ok := strings.Cut(moduleVersion, "@")
	if !ok || p == "" || v == "" {
		return module.Version{}, errors.New("want MODULE@VERSION")
	}
	if err := module.CheckPath(p); err != nil {
		return module.Version{}, err
	}
	if strings.ContainsAny(v, "@ \t") {
		return module.Version{}, fmt.Errorf("version %q: want one word", v)
	}
	return module.Version{Path: p, Version: v}, nil
}

// WithBuildCache turns the buildcache scenario on or off; default on.
// The go builder always uses the build cache.
func WithBuildCache(on bool) Option {
	return func(o *options) error { o.noBuildCache = !on; return nil }
}

// WithDepsImages sets where deps images come from; required.
func WithDepsImages(d DepsImages) Option {
	return func(o *options) error { o.deps = d; return nil }
}

func newOptions(opts []Option) (*options, error) {
	o := &options{runs: 3, progress: func(string) {}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.deps == nil {
		return nil, errors.New("bench: no deps images (WithDepsImages)")
	}
	return o, nil
}

// runner holds one bench of a Dockerfile.
type runner struct {
	o       *options
	b       builder.Builder
	scratch string
	res     *Result
	// coldMounts is the suffix of the cache mounts of the last cold run,
	// which the code change's filling build takes over (see codeChange).
	coldMounts string
	// noRunFlags is set for a builder that refuses RUN flags (the
	// classic docker builder): every Dockerfile goes without them.
	noRunFlags bool
}

// Run benches the Dockerfile of contextDir with b: the cold and pre-warmed
// scenarios, the pre-warmed one with a build cache layer (unless
// WithBuildCache(false)), the code change, and with WithBump the
// dependency change. The
// context is copied to a scratch directory first and never changed. A
// build meant to be cold that reports a cached step is an error.
func Run(ctx context.Context, b builder.Builder, contextDir string, opts ...Option) (*Result, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "cachecheck-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating a scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	r := &runner{o: o, b: b, scratch: scratch, res: newResult(b.Name(), contextDir, o.runs), noRunFlags: builder.IsClassic(b)}
	r.res.Dockerfile, r.res.Bump = o.dockerfile, o.bump
	if o.logDir != "" {
		if err := os.MkdirAll(o.logDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the log directory: %w", err)
		}
	}

	work, build, err := r.copyContext(contextDir, "context")
	if err != nil {
		return nil, err
	}
	base := ""
	if st, ok := build.GoBuilderStage(); ok {
		base = st.Base
	}

	// 1. Without pre-warming.
	if err := r.scenario(ctx, Scenario{Name: Cold}, work, build, true); err != nil {
		return r.res, err
	}
	// 2. With pre-warming.
	o.progress("deps image: warming or looking up")
	ref, err := o.deps.Ensure(ctx, work, base, Warm{})
	if err != nil {
		return r.res, err
	}
	r.res.DepsImage = ref
	if err := r.scenario(ctx, Scenario{Name: Prewarmed, Image: ref}, work, build, true); err != nil {
		return r.res, err
	}
	// 2b. With pre-warming and the build cache.
	if !o.noBuildCache {
		if err := r.buildCache(ctx, work, build, base); err != nil {
			return r.res, err
		}
	}
	// 3. Code change, layer cache warm.
	if err := r.codeChange(ctx, work, build); err != nil {
		return r.res, err
	}
	// 4. Dependency change.
	if o.bump != "" {
		bumped, _, err := r.copyContext(contextDir, "bumped")
		if err != nil {
			return r.res, err
		}
		if err := goCmd(ctx, bumped, "get", o.bump); err != nil {
			return r.res, err
		}
		bbuild, err := r.load(bumped)
		if err != nil {
			return r.res, err
		}
		if err := r.scenario(ctx, Scenario{Name: BumpCold}, bumped, bbuild, true); err != nil {
			return r.res, err
		}
		near, err := o.deps.Nearest(ctx, bumped, base)
		if err != nil {
			return r.res, err
		}
		if near != "" {
			if err := r.scenario(ctx, Scenario{Name: BumpNearest, Image: near}, bumped, bbuild, true); err != nil {
				return r.res, err
			}
		}
		o.progress("deps image for the bump: warming or looking up")
		fresh, err := o.deps.Ensure(ctx, bumped, base, Warm{})
		if err != nil {
			return r.res, err
		}
		if err := r.scenario(ctx, Scenario{Name: BumpFresh, Image: fresh}, bumped, bbuild, true); err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

// copyContext copies the build context (and the Dockerfile, when it lies
// outside it) into the scratch directory and loads it.
func (r *runner) copyContext(src, name string) (string, *analyzer.Build, error) {
	dst := filepath.Join(r.scratch, name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return "", nil, fmt.Errorf("copying the build context %q: %w", src, err)
	}
	b, err := r.load(dst)
	return dst, b, err
}

func (r *runner) dockerfilePath(work string) string {
	if r.o.dockerfile == "" {
		return filepath.Join(work, "Dockerfile")
	}
	return r.o.dockerfile
}

func (r *runner) load(work string) (*analyzer.Build, error) {
	df := r.dockerfilePath(work)
	opts := []analyzer.LoadOption{analyzer.WithBuildArgs(r.o.buildArgs)}
	if r.o.dockerfile != "" {
		opts = append(opts, analyzer.WithDockerfile(os.DirFS(filepath.Dir(df)), filepath.Base(df)), analyzer.WithDisplayName(df))
	}
	b, err := analyzer.Load(os.DirFS(work), opts...)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func nonce() string {
	var b [6]byte
	rand.Read(b[:])
	return "ccb" + hex.EncodeToString(b[:])
}

// dockerfileFor writes the Dockerfile a scenario builds: the original (or
// its lines edited, when lines is not nil) or FROM the deps image ref (and
// with offline, GOPROXY=off there), its go mod download with -x (see
// [withDownloadX]), its cache mounts isolated by suffix; for a builder
// that refuses RUN flags, without them ([withoutRunFlags]).
func (r *runner) dockerfileFor(build *analyzer.Build, lines []string, ref, suffix string, offline bool) (path string, args map[string]string, err error) {
	if lines == nil {
		lines = build.Lines
	}
	if r.noRunFlags {
		lines, _ = withoutRunFlags(build, lines)
	}
	text := strings.Join(lines, "\n")
	args = maps.Clone(r.o.buildArgs)
	if args == nil {
		args = map[string]string{}
	}
	if ref != "" {
		var depsArg bool
		text, depsArg, err = fromDepsImage(build, lines, ref, offline)
		if err != nil {
			return "", nil, err
		}
		if depsArg {
			args["DEPS_IMAGE"] = ref
		}
	}
	text = isolateCacheMounts(withDownloadX(text), suffix)
	dir, err := os.MkdirTemp(r.scratch, "dockerfile-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "Dockerfile")
	return path, args, os.WriteFile(path, []byte(text), 0o644)
}

// scenario runs the builds of sc, without the layer cache (cold) or with
// it. When sc has an Image, its Go builder stage starts FROM it, without
// the cache mounts that would hide what the image holds
// ([withoutHidingMounts]; the buildcache scenario's GOCACHE too), and,
// but in bump-nearest (whose image lacks the bumped modules by design),
// with GOPROXY=off: a run that downloads a module, or fails because it
// needed one, makes the scenario invalid; after such a failure the
// scenario has no more runs and the bench goes on.
func (r *runner) scenario(ctx context.Context, sc Scenario, work string, build *analyzer.Build, cold bool) error {
	var lines []string
	offline := false
	if sc.Image != "" {
		lines, sc.DroppedMounts = withoutHidingMounts(build, sc.Name == BuildCache)
		offline = sc.Name != BumpNearest
		var note []string
		if offline {
			note = append(note, "GOPROXY=off in the stages FROM the deps image, so that a module it lacks fails the build")
		}
		if n := len(sc.DroppedMounts); n > 0 {
			note = append(note, fmt.Sprintf("without %d cache %s that would hide what the deps image holds (dropped_mounts)", n, plural(n, "mount", "mounts")))
		}
		sc.Note = strings.Join(note, "; ")
	}
	sc.Note = joinNotes(sc.Note, r.runFlagsNote(build, lines))
	defer func() { add(r.res, sc) }()
	for i := 1; i <= r.o.runs; i++ {
		suffix := nonce()
		df, args, err := r.dockerfileFor(build, lines, sc.Image, suffix, offline)
		if err != nil {
			return err
		}
		if sc.Name == Cold {
			r.coldMounts = suffix
		}
		run, err := r.build(ctx, sc.Name, i, work, df, args, cold)
		if oe := (*offlineError)(nil); errors.As(err, &oe) && offline {
			sc.Invalid = fmt.Sprintf("run %d failed: it needed to download what the deps image lacks: %s", i, oe.quote())
			return nil
		}
		if err != nil {
			return err
		}
		if sc.Image == "" {
			run.Downloaded = nil
		}
		sc.Runs = append(sc.Runs, *run)
		if n := run.ModulesDownloaded; offline && n != nil && *n > 0 && sc.Invalid == "" {
			sc.Invalid = fmt.Sprintf("run %d downloaded %d %s the deps image should have held (%s)", i, *n, plural(*n, "module", "modules"), quoteList(run.Downloaded, 3))
		}
	}
	return nil
}

// runFlagsNote says which RUN flags the scenario's Dockerfile, lines (nil:
// build's own), goes without for a builder that refuses them; "" when
// none.
func (r *runner) runFlagsNote(build *analyzer.Build, lines []string) string {
	if !r.noRunFlags {
		return ""
	}
	if lines == nil {
		lines = build.Lines
	}
	_, taken := withoutRunFlags(build, lines)
	if len(taken) == 0 {
		return ""
	}
	n := len(taken)
	return fmt.Sprintf("without %d RUN %s, which the classic docker builder refuses (%s)", n, plural(n, "flag", "flags"), quoteList(taken, 3))
}

// joinNotes joins the notes that are not "".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// quoteList joins the first n items and says how many more there are:
// "a, b, c and 2 more".
func quoteList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// offlineError is the error of a build that failed because GOPROXY=off
// refused a download: errs are the go command's errors saying so.
type offlineError struct {
	err  error
	errs []string
}

func (e *offlineError) Error() string { return e.err.Error() }
func (e *offlineError) Unwrap() error { return e.err }

// quote is the go command's first error and how many more there were.
func (e *offlineError) quote() string {
	q := strconv.Quote(e.errs[0])
	if n := len(e.errs) - 1; n > 0 {
		q += fmt.Sprintf(" (and %d more)", n)
	}
	return q
}

// buildCache runs the buildcache scenario: FROM the deps image warmed
// with a build cache layer for the settings of the Dockerfile's go build,
// without the layer cache. A cache mount on GOCACHE (or a parent) would
// hide the image's build cache, so the scenario's go builds run without
// it (as analyzer rule CC012 advises). When the deps image cannot have a
// build cache for this build, the scenario is recorded as skipped.
func (r *runner) buildCache(ctx context.Context, work string, build *analyzer.Build, base string) error {
	r.o.progress("deps image with build cache: warming or looking up")
	ref, err := r.o.deps.Ensure(ctx, work, base, Warm{BuildCache: true, Dockerfile: r.dockerfilePath(work)})
	if errors.Is(err, ErrNoBuildCache) {
		add(r.res, Scenario{Name: BuildCache, Skipped: err.Error()})
		return nil
	}
	if err != nil {
		return err
	}
	return r.scenario(ctx, Scenario{Name: BuildCache, Image: ref}, work, build, true)
}

// codeChange builds once to fill the layer cache, then changes one Go
// file per run and rebuilds with the cache.
func (r *runner) codeChange(ctx context.Context, work string, build *analyzer.Build) error {
	sc := Scenario{Name: CodeChange}
	defer func() { add(r.res, sc) }()
	file, err := goFile(work, build)
	if err != nil {
		return err
	}
	sc.Changed, _ = filepath.Rel(work, file)
	sc.Note = r.runFlagsNote(build, nil)
	// The cache mounts of the last cold run, which it filled: the
	// persistent builder of the scenario, whose mounts an earlier build
	// of the same Dockerfile left warm, without compiling everything once
	// more to fill new ones.
	id := r.coldMounts
	if id == "" {
		id = nonce()
	}
	df, args, err := r.dockerfileFor(build, nil, "", id, false)
	if err != nil {
		return err
	}
	// Every change, the filling build's included, is unique to this
	// bench: BuildKit keys a RUN without its cache mounts' ids, and the
	// cold runs (and earlier benches) leave their layers in the cache, so
	// an unchanged context would hit every step and leave the isolated
	// cache mount empty for the first measured run.
	change := func(i int) error {
		f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("changing %s: %w", file, err)
		}
		_, err = fmt.Fprintf(f, "\n// cachecheck bench %s: change %d\n", id, i)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("changing %s: %w", file, err)
		}
		return nil
	}
	if err := change(0); err != nil {
		return err
	}
	if _, err := r.build(ctx, CodeChange, 0, work, df, args, false); err != nil {
		return err
	}
	for i := 1; i <= r.o.runs; i++ {
		if err := change(i); err != nil {
			return err
		}
		run, err := r.build(ctx, CodeChange, i, work, df, args, false)
		if err != nil {
			return err
		}
		sc.Runs = append(sc.Runs, *run)
	}
	return nil
}

// goFile picks the Go source file the code change edits: the first
// non-test .go file, in path order, that the build context holds.
func goFile(work string, build *analyzer.Build) (string, error) {
	var found string
	err := fs.WalkDir(os.DirFS(work), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor" || d.Name() == "testdata") {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") && !build.Excluded(p) {
			found = p
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", fmt.Errorf("%s: no Go source file in the build context to change", work)
	}
	return filepath.Join(work, found), nil
}

// build runs one build and checks that a cold one was cold.
func (r *runner) build(ctx context.Context, name string, i int, work, df string, args map[string]string, cold bool) (*Build, error) {
	label := fmt.Sprintf("%s %d/%d", name, i, r.o.runs)
	if i == 0 {
		label = name + " (filling the layer cache)"
	}
	r.o.progress(r.b.Name() + ": " + label)
	res, err := r.b.Build(ctx, builder.BuildOptions{Context: work, Dockerfile: df, BuildArgs: args, NoCache: cold})
	run := &Build{}
	if res != nil {
		run.Seconds = res.Duration.Seconds()
		for _, s := range res.Steps {
			run.Steps = append(run.Steps, Step{Stage: s.Stage, Instruction: s.Instruction, Cached: s.Cached, Seconds: s.Duration.Seconds(), Error: s.Error})
		}
		if pkgs, ok := buildlog.CompiledPackages(res.Output, res.Format); ok {
			n := len(pkgs)
			run.CompiledPackages = &n
			if name == BuildCache {
				run.Compiled = pkgs
			}
		}
		if text, ok := buildlog.RunOutput(res.Output, res.Format); ok {
			mods := buildlog.ModuleDownloads(text)
			n := len(mods)
			run.ModulesDownloaded = &n
			for _, m := range mods {
				run.Downloaded = append(run.Downloaded, m.String())
			}
			if errs := buildlog.OfflineErrors(text); err != nil && len(errs) > 0 {
				err = &offlineError{err: err, errs: errs}
			}
		}
		if r.o.logDir != "" && i > 0 {
			base := filepath.Join(r.o.logDir, fmt.Sprintf("%s-%d", name, i))
			run.Log = base + ".log"
			if werr := os.WriteFile(run.Log, res.Output, 0o644); werr != nil {
				return nil, fmt.Errorf("saving the build log: %w", werr)
			}
			if data, rerr := os.ReadFile(df); rerr == nil {
				os.WriteFile(base+".Dockerfile", data, 0o644)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if cold {
		for _, s := range res.Steps {
			// Only steps that do work count: BuildKit has been seen to
			// report a WORKDIR cached under --no-cache.
			if k := s.Kind(); s.Cached && (k == "RUN" || k == "COPY" || k == "ADD") {
				return nil, fmt.Errorf("%s: built without the layer cache, yet %s reports step %q cached: the run is not cold", label, r.b.Name(), s.Instruction)
			}
		}
	}
	return run, nil
}

// goCmd runs the go command in dir, with the module mode a scratch copy
// needs.
func goCmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, out)
	}
	return nil
}

// now is time.Now, for the go builder's timings.
var now = time.Now
