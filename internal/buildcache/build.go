package buildcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/internal/envlist"
	"github.com/cachecheck/cachecheck/internal/proc"

	"github.com/cachecheck/cachecheck/internal/modload"
)

// Option configures [Build].
type Option func(*options) error

type options struct {
	goCmd    string
	env      []string
	stderr   io.Writer
	packages []string
	goCache  string
	goRoot   *GoRoot
	// imageMain is PredictCompile's WithImageMain.
	imageMain *MainPublished
	rootFS    *RootFS
}

// WithRootFS runs the go commands inside the base image's root
// filesystem rf ([UnpackRootFS]), with its Go installation and its
// environment, in a private mount namespace (unshare(1), as root) where
// the module cache is bind-mounted at the settings' GOMODCACHE, the build
// cache at their GOCACHE, the module at /cachecheck/src, and /dev, /proc
// and a fresh /tmp are mounted: with cgo the C compiler, its headers and
// libraries are the image's, and so are the cgo packages' cache keys. The
// mount points are created in rf and left there, empty. Of the caller's
// environment ([WithEnv]) nothing is passed in: the build in the image
// does not see it either. A failure to set the namespace up is a
// [*MountError].
func WithRootFS(rf *RootFS) Option {
	return func(o *options) error { o.rootFS = rf; return nil }
}

// MountError is the private mount namespace of a compile failing to be
// set up: unshare(1) missing, or not root.
type MountError struct {
	What string // what was to be mounted, and where
	Err  error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("compiling needs %s, in a private mount namespace, which failed (it needs root or CAP_SYS_ADMIN): %v", e.What, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }

// WithGoCommand sets the go command to run. The default is "go" from PATH.
func WithGoCommand(path string) Option {
	return func(o *options) error { o.goCmd = path; return nil }
}

// WithGoRoot compiles with the Go installation g (a base image's, see
// [UnpackGoRoot]) instead of the go command: GOROOT is set to it, and
// without -trimpath, where the directory of every standard package enters
// its cache key, it is bind-mounted at its path in the image, g.Path, in
// the private mount namespace the module cache is mounted in (see
// [Build]).
func WithGoRoot(g *GoRoot) Option {
	return func(o *options) error { o.goRoot = g; return nil }
}

// WithEnv sets the environment of the go command, in the form of
// [os.Environ], which is the default. The build settings, GOCACHE,
// GOMODCACHE, GOFLAGS (emptied: its build flags are in the settings) and
// GOPROXY=off (the module cache must hold every module) replace what it
// sets; GOTOOLCHAIN=local is set unless it sets GOTOOLCHAIN.
func WithEnv(env []string) Option {
	return func(o *options) error { o.env = slices.Clone(env); return nil }
}

// WithStderr sets where the go command's standard error goes as it runs.
// The default discards it; errors carry it anyway.
func WithStderr(w io.Writer) Option {
	return func(o *options) error { o.stderr = w; return nil }
}

// WithPackages sets the package patterns, relative to the module
// directory, whose dependencies are compiled, such as the arguments of
// the Dockerfile's go build. The default is every main package of the
// module or workspace ("./...", main packages only).
func WithPackages(patterns ...string) Option {
	return func(o *options) error { o.packages = slices.Clone(patterns); return nil }
}

// WithGoCache sets the build cache directory to fill. It must be absent or
// empty. The default is a new temporary directory, which the caller
// removes when done.
func WithGoCache(dir string) Option {
	return func(o *options) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("resolving build cache %q: %w", dir, err)
		}
		o.goCache = abs
		return nil
	}
}

// Result is a filled build cache.
type Result struct {
	// GoCache is the build cache directory.
	GoCache string
	// Settings are the settings the packages were compiled with, with the
	// Go version and CGO_ENABLED the go command reported.
	Settings Settings
	// Main are the main packages whose dependencies were compiled.
	Main []string
	// Packages are the compiled packages: every package the main packages
	// import, directly or not, that is not in a main module, standard
	// library included, sorted.
	Packages []string
}

// VersionError says that the go command that would fill the cache is not
// the Go release of the build that will use it: every cache entry would be
// missed.
type VersionError struct {
	Want, Have string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("the build uses %s but the go command here is %s: a build cache it fills would never be used; run with the same Go release (GOTOOLCHAIN=%s fetches it through GOPROXY), or leave out the build cache", e.Want, e.Have, e.Want)
}

// Build compiles the dependency packages of the main packages of the module
// or workspace in dir into a fresh build cache, with the settings s (see
// [Settings.Normalize] for the defaults), offline, from the
// module cache of mods. No test packages and no package of a main module
// are compiled. It is [Prepare] and [Plan.Build].
//
// The go command must be the Go release of s.GoVersion when it is set
// ([VersionError] otherwise). Without -trimpath the directory of every
// dependency enters its cache key, so the module cache must be seen at
// s.ModCache (default /go/pkg/mod, where deps images put it): when it lies
// elsewhere, the go commands run in a private mount namespace
// (unshare(1), which needs root or CAP_SYS_ADMIN) where it is bind-mounted
// there; the mount point is created if missing and left, empty, in place.
func Build(ctx context.Context, dir string, mods *modload.Result, s Settings, opts ...Option) (*Result, error) {
	p, err := Prepare(ctx, dir, mods, s, opts...)
	if err != nil {
		return nil, err
	}
	return p.Build(ctx)
}

// Plan is what [Build] would compile, known before it compiles: the
// settings as the go command resolves them and the packages.
type Plan struct {
	// Settings are the settings the packages will be compiled with, with
	// the Go version and CGO_ENABLED the go command reported.
	Settings Settings
	// Main are the main packages whose dependencies are compiled.
	Main []string
	// Packages are the packages to compile, as [Result.Packages].
	Packages []string
	// Own are the main modules' packages among the main packages'
	// dependencies, other than main packages, sorted: what
	// [Plan.BuildMain] compiles.
	Own []string

	r       *runner
	goCache string
	// ownCache is set when goCache is a temporary directory of Prepare's,
	// which Close removes.
	ownCache bool
}

// Prepare resolves the settings s with the go command (its Go version,
// CGO_ENABLED and GOAMD64) and lists the packages [Plan.Build] compiles,
// compiling nothing. The options and conditions are those of [Build]. The
// caller calls [Plan.Build], or [Plan.Close] to give the plan up.
func Prepare(ctx context.Context, dir string, mods *modload.Result, s Settings, opts ...Option) (_ *Plan, err error) {
	o := options{goCmd: "go", env: os.Environ(), stderr: io.Discard}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s.Normalize()
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving directory %q: %w", dir, err)
	}
	p := &Plan{goCache: o.goCache}
	if p.goCache == "" {
		if p.goCache, err = os.MkdirTemp("", "cachecheck-gocache-"); err != nil {
			return nil, fmt.Errorf("creating build cache: %w", err)
		}
		p.ownCache = true
		// A failed or interrupted plan leaves nothing behind.
		defer func() {
			if err != nil {
				p.Close()
			}
		}()
	} else if err := checkEmpty(p.goCache); err != nil {
		return nil, err
	}

	r := &runner{o: o, dir: absDir, env: buildEnv(o.env, s, p.goCache)}
	p.r = r
	var binds []bind
	if rf := o.rootFS; rf != nil {
		if err := r.inRootFS(ctx, rf, s, mods.GoModCache, p.goCache); err != nil {
			return nil, err
		}
	} else if !s.Trimpath && filepath.Clean(mods.GoModCache) != s.ModCache {
		binds = append(binds, bind{mods.GoModCache, s.ModCache, "the module cache"})
		r.env = envlist.Set(r.env, "GOMODCACHE", s.ModCache)
	} else {
		r.env = envlist.Set(r.env, "GOMODCACHE", mods.GoModCache)
	}
	if g := o.goRoot; g != nil && o.rootFS == nil {
		goroot := g.Dir
		if !s.Trimpath && filepath.Clean(g.Dir) != g.Path {
			binds = append(binds, bind{g.Dir, g.Path, "the base image's Go installation"})
			goroot = g.Path
		}
		r.o.goCmd = filepath.Join(goroot, "bin", "go")
		r.env = envlist.Set(r.env, "GOROOT", goroot)
	}
	if len(binds) > 0 {
		if err := r.bindMounts(ctx, binds); err != nil {
			return nil, err
		}
	}

	// The go command's own view of the settings it was not told.
	out, err := r.run(ctx, "env", "GOVERSION", "CGO_ENABLED", "GOAMD64")
	if err != nil {
		return nil, err
	}
	// One line each; GOAMD64 is empty for another GOARCH.
	vals := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(vals) != 3 {
		return nil, fmt.Errorf("go env printed %q", out)
	}
	have := vals[0]
	if s.GoVersion != "" && !sameRelease(s.GoVersion, have) {
		return nil, &VersionError{Want: s.GoVersion, Have: have}
	}
	s.GoVersion = have
	if s.CGOEnabled == "" {
		s.CGOEnabled = vals[1]
	}
	if s.GOARCH == "amd64" && s.GOAMD64 != vals[2] {
		return nil, fmt.Errorf("go env GOAMD64 is %q, want %q", vals[2], s.GOAMD64)
	}
	r.env = envlist.Set(r.env, "CGO_ENABLED", s.CGOEnabled)
	p.Settings = s

	flags := buildFlags(s)
	patterns := o.packages
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	listArgs := append([]string{"list"}, flags...)
	listArgs = append(listArgs, "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "--")
	out, err = r.run(ctx, append(listArgs, patterns...)...)
	if err != nil {
		return nil, err
	}
	p.Main = strings.Fields(out)
	if len(p.Main) == 0 {
		return nil, fmt.Errorf("no main package in %s matches %s", absDir, strings.Join(patterns, " "))
	}
	depArgs := append([]string{"list"}, flags...)
	// A dependency's import path, or "+" and that of a main module's
	// package other than a main package.
	depArgs = append(depArgs, "-deps", "-f", `{{if not (and .Module .Module.Main)}}{{.ImportPath}}{{else if ne .Name "main"}}+{{.ImportPath}}{{end}}`, "--")
	out, err = r.run(ctx, append(depArgs, p.Main...)...)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, f := range strings.Fields(out) {
		if own, ok := strings.CutPrefix(f, "+"); ok {
			p.Own = append(p.Own, own)
		} else {
			pkgs = append(pkgs, f)
		}
	}
	slices.Sort(pkgs)
	p.Packages = slices.Compact(pkgs)
	slices.Sort(p.Own)
	p.Own = slices.Compact(p.Own)
	return p, nil
}

// Build compiles the packages of the plan into its build cache. When it
// fails, the build cache directory of a plan made without [WithGoCache]
// is removed.
func (p *Plan) Build(ctx context.Context) (_ *Result, err error) {
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if len(p.Packages) > 0 {
		buildArgs := append([]string{"build"}, buildFlags(p.Settings)...)
		buildArgs = append(buildArgs, "--")
		if _, err := p.r.run(ctx, append(buildArgs, p.Packages...)...); err != nil {
			return nil, err
		}
	}
	if err := normalizeCache(p.goCache); err != nil {
		return nil, err
	}
	return &Result{GoCache: p.goCache, Settings: p.Settings, Main: p.Main, Packages: p.Packages}, nil
}

// Close gives up a plan that will not be built: it removes the build
// cache directory Prepare created (none given with [WithGoCache]).
func (p *Plan) Close() {
	if p.ownCache {
		os.RemoveAll(p.goCache)
	}
}

// buildFlags returns the go build flags of s.
func buildFlags(s Settings) []string {
	var f []string
	if s.Trimpath {
		f = append(f, "-trimpath")
	}
	if len(s.Tags) > 0 {
		f = append(f, "-tags="+strings.Join(s.Tags, ","))
	}
	return append(f, s.Flags...)
}

// buildEnv returns env with the settings of s and the build cache
// goCache.
func buildEnv(env []string, s Settings, goCache string) []string {
	return settingsEnv(envlist.Set(env, "GOCACHE", goCache), s)
}

// settingsEnv returns env with the settings of s, offline (GOPROXY=off)
// and without the caller's GOFLAGS: what the go command is run with to
// compile for s, or to list the packages such a build loads.
func settingsEnv(env []string, s Settings) []string {
	env = envlist.Set(env, "GOFLAGS", "")
	env = envlist.Set(env, "GOPROXY", "off")
	env = envlist.Set(env, "GOOS", s.GOOS)
	env = envlist.Set(env, "GOARCH", s.GOARCH)
	env = envlist.Set(env, "GOEXPERIMENT", s.GOEXPERIMENT)
	// No package index entries: the go command indexes every package
	// directory it loads, the main module's too, keyed by its path here,
	// which a build in the image never asks for and which would make the
	// layer differ with the directory warm ran in.
	godebug := "goindex=0"
	if v, _ := envlist.Lookup(env, "GODEBUG"); v != "" {
		godebug = v + "," + godebug
	}
	env = envlist.Set(env, "GODEBUG", godebug)
	if s.GOAMD64 != "" {
		env = envlist.Set(env, "GOAMD64", s.GOAMD64)
	}
	if s.CGOEnabled != "" {
		env = envlist.Set(env, "CGO_ENABLED", s.CGOEnabled)
	}
	if _, ok := envlist.Lookup(env, "GOTOOLCHAIN"); !ok {
		env = envlist.Set(env, "GOTOOLCHAIN", "local")
	}
	return env
}

type runner struct {
	o   options
	dir string
	env []string
	// wrap is the command and arguments that run a go command in the
	// mount namespace; nil to run it directly.
	wrap []string
}

// run runs the go command with args and returns its standard output.
func (r *runner) run(ctx context.Context, args ...string) (string, error) {
	name, argv := r.o.goCmd, args
	if r.wrap != nil {
		name = r.wrap[0]
		argv = append(append(slices.Clone(r.wrap[1:]), r.o.goCmd), args...)
	}
	var stdout, stderr bytes.Buffer
	cmd := proc.Command(ctx, name, argv...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, r.o.stderr)
	if err := proc.Run(cmd); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("go %s: %w", args[0], ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("go %s in %s: %s", args[0], r.dir, msg)
	}
	return stdout.String(), nil
}

// rootSrc is where the module's directory is seen in a root filesystem.
const rootSrc = "/cachecheck/src"

// inRootFS makes the go commands run inside rf (see [WithRootFS]), with
// the module cache modCache, the build cache goCache and the module r.dir
// mounted in it.
func (r *runner) inRootFS(ctx context.Context, rf *RootFS, s Settings, modCache, goCache string) error {
	env := slices.Clone(rf.Env)
	if _, ok := envlist.Lookup(env, "PATH"); !ok {
		env = envlist.Set(env, "PATH", path.Join(rf.GoRoot.Path, "bin")+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if _, ok := envlist.Lookup(env, "HOME"); !ok {
		env = envlist.Set(env, "HOME", "/root")
	}
	env = envlist.Set(env, "GOCACHE", s.GoCache)
	env = envlist.Set(env, "GOMODCACHE", s.ModCache)
	r.env = settingsEnv(env, s)
	r.o.goCmd = path.Join(rf.GoRoot.Path, "bin", "go")
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return &MountError{What: "the base image's root filesystem", Err: err}
	}
	binds := []bind{
		{modCache, s.ModCache, "the module cache"},
		{goCache, s.GoCache, "the build cache"},
		{r.dir, rootSrc, "the module"},
	}
	// Positional parameters: each bind's source and mount point, then
	// the root; $0 is the first.
	script := ""
	var args []string
	for i, b := range binds {
		dst := filepath.Join(rf.Dir, filepath.FromSlash(b.dst))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("creating mount point for %s: %w", b.what, err)
		}
		script += fmt.Sprintf(`mount --bind "${%d}" "${%d}" && `, 2*i, 2*i+1)
		args = append(args, b.src, dst)
	}
	for _, d := range []string{"dev", "proc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rf.Dir, d), 0o755); err != nil {
			return fmt.Errorf("creating mount point /%s: %w", d, err)
		}
	}
	n := len(args) // the root is ${n}
	args = append(args, rf.Dir)
	script += fmt.Sprintf(`mount --rbind /dev "${%[1]d}/dev" && mount -t proc proc "${%[1]d}/proc" && mount -t tmpfs tmpfs "${%[1]d}/tmp" && root="${%[1]d}" && shift %[1]d && exec %[2]s --root="$root" --wd=%[3]s "$@"`, n, unshare, rootSrc)
	r.wrap = append([]string{unshare, "--mount", "--propagation", "private", "--", "sh", "-c", script}, args...)
	// Check that the namespace works here before the real work.
	check := proc.Command(ctx, r.wrap[0], append(slices.Clone(r.wrap[1:]), r.o.goCmd, "version")...)
	check.Env = r.env
	if out, err := proc.CombinedOutput(check); err != nil {
		return &MountError{What: "the base image's root filesystem " + rf.Dir, Err: fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))}
	}
	return nil
}

// bind is a directory src the go commands see at dst.
type bind struct{ src, dst, what string }

// bindMounts makes the go commands see each bind's src at its dst, in a
// private mount namespace.
func (r *runner) bindMounts(ctx context.Context, binds []bind) error {
	what := binds[0].what + " at " + binds[0].dst
	if len(binds) > 1 {
		what += " and " + binds[1].what + " at " + binds[1].dst
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return fmt.Errorf("compiling without -trimpath needs %s, and unshare(1) to bind-mount it there: %w", what, err)
	}
	script := ""
	var args []string
	for i, b := range binds {
		// The mount point is created when missing and left in place:
		// removing it would detach the mounts of concurrent builds
		// (another warm, or warm --all --jobs N), whose namespaces
		// mount on the same directory.
		if err := os.MkdirAll(b.dst, 0o755); err != nil {
			return fmt.Errorf("creating mount point for %s: %w", b.what, err)
		}
		script += fmt.Sprintf(`mount --bind "$%d" "$%d" && `, 2*i, 2*i+1)
		args = append(args, b.src, b.dst)
	}
	script += fmt.Sprintf(`shift %d && exec "$@"`, 2*len(binds)-1)
	r.wrap = append([]string{unshare, "--mount", "--propagation", "private", "--", "sh", "-c", script}, args...)
	// Check that the namespace works here before the real work.
	check := proc.Command(ctx, r.wrap[0], append(slices.Clone(r.wrap[1:]), "true")...)
	if out, err := proc.CombinedOutput(check); err != nil {
		return fmt.Errorf("compiling without -trimpath needs %s; bind-mounting there in a private mount namespace failed (it needs root or CAP_SYS_ADMIN; or build with -trimpath): %v: %s", what, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("reading build cache %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("build cache %s is not empty", dir)
	}
	return nil
}

// sameRelease reports whether a names the release have, or is a language
// version ("go1.22") that have is a release of.
func sameRelease(want, have string) bool {
	if want == have {
		return true
	}
	return strings.Count(want, ".") == 1 && strings.HasPrefix(have, want+".")
}
