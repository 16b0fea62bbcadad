package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
	"github.com/spf13/pflag"
)

type analyzeOptions struct {
	file      string
	format    *enumValue
	failOn    *enumValue
	disable   []string
	depsImage string
	// resolveBases reads every base image's config from its registry.
	resolveBases bool
	registry     registryFlags
	buildArgs    []string
	base         string // --base: predict the layer cache against this revision or directory
	head         string
	classic      bool // --classic-builder: predict as the classic docker builder
	fix          bool // --fix: write the fixed Dockerfile
	diff         bool // --diff: print the fixes as a unified diff
}

func newAnalyzeCommand() *command {
	o := &analyzeOptions{
		format: newEnum("text", "text", "json", "sarif"),
		failOn: newEnum("error", "error", "warning", "info", "none"),
	}
	fs := pflag.NewFlagSet("analyze", pflag.ContinueOnError)
	fs.StringVarP(&o.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile)")
	fs.Var(o.format, "format", "output format: text, json or sarif")
	fs.Var(o.failOn, "fail-on", "exit with code 3 when a finding is at or above this severity: error, warning, info or none")
	fs.StringSliceVar(&o.disable, "disable", nil, "turn off rules, by `ID` or slug (comma-separated or repeated)")
	fs.StringVar(&o.depsImage, "deps-image", "", "the published dependency image `REF`; suggests the FROM line for the builder stage")
	fs.BoolVar(&o.resolveBases, "resolve-bases", false, "read the config of each base image from its registry (GOPATH, GOMODCACHE, GOCACHE, USER) rather than assume it; Docker Hub's golang is known and not read")
	o.registry.register(fs, "allow plain HTTP and unverified TLS for the registries of --deps-image and --resolve-bases")
	fs.StringArrayVar(&o.buildArgs, "build-arg", nil, "a build argument `NAME=VALUE`, as docker build takes it (repeatable)")
	fs.StringVar(&o.base, "base", "", "predict which layers a build reuses after building `REV` (a git revision or a directory); see 'Layer-cache prediction'")
	fs.StringVar(&o.head, "head", "", "with --base, the git revision or directory `REV` to build next (default: the work tree)")
	fs.BoolVar(&o.classic, "classic-builder", false, "with --base, predict as the classic docker builder (DOCKER_BUILDKIT=0) decides, not BuildKit")
	fs.BoolVar(&o.fix, "fix", false, "apply every mechanical fix: rewrite the Dockerfile (and .dockerignore) in place, then report what is left")
	fs.BoolVar(&o.diff, "diff", false, "print the mechanical fixes as a unified diff instead of the findings; write nothing")
	return &command{
		name:    "analyze",
		summary: "check how a Dockerfile's layer cache treats the Go module download",
		usage:   "[--file Dockerfile] [--format text|json|sarif] [--fail-on SEVERITY] [--disable ID,...] [--deps-image REF] [--resolve-bases] [--fix | --diff] [--base REV [--head REV] [--classic-builder]] [CONTEXT]",
		help: `
Analyze reads a Dockerfile with BuildKit's parser, its build context CONTEXT
(default ".") after .dockerignore (or <Dockerfile>.dockerignore beside a named
Dockerfile), and the go.mod and go.work files the Dockerfile copies, and
reports what makes the module download layer rebuild or the build break:
source copied before the download, missing go.sum, no download step, local
replace directories missing at the download, vendor mismatches, missing
cache mounts, credentials in ARG/ENV, cgo on a scratch or distroless/static
image, COPY . . without a .dockerignore excluding .git, a go or toolchain
directive newer than the builder image, and (with --deps-image) the FROM
line that starts the builder from the published dependency image and, when
that image holds a build cache (warm --build-cache), every go build whose
settings differ from those the cache was compiled with (CC012).

The module and build cache directories (for cache mounts) come from the
Dockerfile's ENV, then the base image's environment: Docker Hub's golang
and any image whose repository path ends in /golang set GOPATH=/go. The
configs of the --deps-image and, with --resolve-bases, of every other base
image are read from their registries, each within --timeout; a finding
says when a directory is assumed because the config was not read.

Each finding has a rule ID (CC001...), a severity, the Dockerfile line and a
fix. A comment "# cachecheck:ignore ID" on the line before an instruction,
or inside it, silences that rule there; --disable turns a rule off.
The exit code is 3 when a finding is at or above --fail-on (default error).

Fixes: a finding whose fix is mechanical (the module files to copy and
where, a moved download step, a cache mount, an ENV, a FROM line, a line of
.dockerignore) carries edits, and its fix text describes them. --fix applies
the edits of every finding at once, in memory, and analyzes the result again
(up to four rounds, for fixes whose edits overlap), then writes each changed
file in place: a temporary file beside it renamed over it, with its mode
kept, so that a failure leaves the file as it was. It prints on stderr what
it fixed, and the findings that are left in --format; the exit code is 0
when every mechanical fix was applied and nothing at or above --fail-on is
left, 3 otherwise. --diff prints the same changes as a unified diff and
writes nothing; its exit code is that of analyze without it.

Layer-cache prediction: with --base REV (and optionally --head REV; each a
git revision of the repository holding CONTEXT, read without touching the
work tree, or a directory), analyze predicts instead, step by step in each
stage, whether a build of head reuses the layers of a build of base (HIT) or
rebuilds them (MISS), as BuildKit decides: COPY/ADD miss when the files they
copy (after .dockerignore; content and mode, not times) change, RUN when its
command line, the build args or ENV in scope or anything before it change,
a stage when its base or a --from stage changes; after the first miss every
later step of the stage misses. It names the first miss and its files, and
says whether the module download layer is reused. --format json prints the
same as a document. --classic-builder predicts for the classic docker
builder (docker build with DOCKER_BUILDKIT=0), which caches every
instruction one after another: a changed ENV, LABEL, ARG default or other
instruction that only sets the image's configuration misses too, and every
later step of the stage with it, COPY included.`,
		examples: `
cachecheck analyze                          # ./Dockerfile with the context .
cachecheck analyze -f build/api.Dockerfile .
cachecheck analyze --format sarif --fail-on warning . > cachecheck.sarif
cachecheck analyze --disable CC006,CC009
cachecheck analyze --deps-image registry.example.com/api-deps:ck1-...
cachecheck analyze --diff                   # what --fix would change
cachecheck analyze --fix --fail-on warning  # fix, fail if a warning is left
cachecheck analyze --base main              # main versus the work tree
cachecheck analyze --base HEAD~1 --head HEAD`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

func (o *analyzeOptions) validate(args []string) error {
	if err := o.registry.validate(); err != nil {
		return err
	}
	if err := maxArgs("analyze", args, 1); err != nil {
		return err
	}
	switch {
	case o.fix && o.diff:
		return usageErrorf("analyze: --fix writes the fixes and --diff prints them; use one")
	case (o.fix || o.diff) && o.base != "":
		return usageErrorf("analyze: --fix and --diff do not apply to a prediction (--base)")
	case o.diff && o.format.String() != "text":
		return usageErrorf("analyze: --diff prints a unified diff; drop --format %s", o.format)
	}
	for _, id := range o.disable {
		if analyzer.LookupRule(id) == nil {
			return usageErrorf("analyze: --disable %q: unknown rule; see 'cachecheck help analyze' for the rule IDs", id)
		}
	}
	return nil
}

func (o *analyzeOptions) run(ctx context.Context, io IO, args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageErrorf("analyze: build context %q is not a directory", dir)
	}
	buildArgs := map[string]string{}
	for _, kv := range o.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			// docker build takes a bare NAME from the environment.
			v, ok = os.LookupEnv(k)
			if !ok {
				continue
			}
		}
		buildArgs[k] = v
	}
	if o.base != "" {
		return o.runPredict(ctx, io.Out, dir, buildArgs)
	} else if o.head != "" {
		return usageErrorf("analyze: --head needs --base")
	} else if o.classic {
		return usageErrorf("analyze: --classic-builder is for a prediction; add --base REV")
	}
	dirFS := func(d string) fs.FS { return os.DirFS(d) }
	var ov *overlay
	if o.fix || o.diff {
		ov = newOverlay()
		dirFS = ov.dirFS
	}
	opts, err := dockerfileOptions(dir, o.file, dirFS)
	if err != nil {
		return err
	}
	opts = append(opts, analyzer.WithBuildArgs(buildArgs))
	load := func() (*analyzer.Build, error) { return analyzer.Load(dirFS(dir), opts...) }
	b, err := load()
	if err != nil {
		return err
	}
	aopts := []analyzer.Option{analyzer.WithDisabled(o.disable...)}
	var caches []*warm.ImageBuildCache
	aopts = append(aopts, depsImageOptions(ctx, o.depsImage, o.resolveBases, &o.registry, io.Err, &caches)...)
	findings, err := analyzer.Analyze(b, aopts...)
	if err != nil {
		return err
	}
	if len(caches) > 0 && ov == nil {
		predictFromDepsImage(ctx, dir, b, caches, io.Err)
	}
	if ov != nil {
		return o.runFix(io, ov, findings, func() ([]analyzer.Finding, error) {
			b, err := load()
			if err != nil {
				return nil, err
			}
			return analyzer.Analyze(b, aopts...)
		})
	}
	if err := renderFindings(io.Out, o.format.String(), findings); err != nil {
		return err
	}
	return failOn(o.failOn.String(), findings)
}

// dockerfileOptions finds the Dockerfile the way docker build does: --file
// relative to the working directory, else CONTEXT/Dockerfile.
func dockerfileOptions(dir, file string, dirFS func(string) fs.FS) ([]analyzer.LoadOption, error) {
	display := file
	if file == "" {
		file = filepath.Join(dir, "Dockerfile")
		display = file
	}
	if _, err := os.Stat(file); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if file == filepath.Join(dir, "Dockerfile") {
				return nil, noDockerfileError(dir, display, "--file")
			}
			return nil, fmt.Errorf("reading Dockerfile %q: no such file", display)
		}
		return nil, fmt.Errorf("reading Dockerfile %q: %w", display, err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	display = filepath.ToSlash(display)
	ctxName := analyzer.WithContextName(filepath.ToSlash(dir))
	if rel, err := filepath.Rel(absDir, absFile); err == nil && !strings.HasPrefix(rel, "..") && filepath.IsLocal(rel) {
		return []analyzer.LoadOption{analyzer.WithDockerfile(nil, filepath.ToSlash(rel)), analyzer.WithDisplayName(display), ctxName}, nil
	}
	return []analyzer.LoadOption{
		analyzer.WithDockerfile(dirFS(filepath.Dir(absFile)), filepath.Base(absFile)),
		analyzer.WithDisplayName(display), ctxName,
	}, nil
}

func toolMeta() reports.Meta {
	return reports.Meta{Tool: "cachecheck", Version: Version(), Rules: analyzer.Rules}
}

func renderFindings(w io.Writer, format string, findings []analyzer.Finding) error {
	var h reports.Handler
	switch format {
	case "json":
		h = reports.NewJSON(w, toolMeta())
	case "sarif":
		h = reports.NewSARIF(w, toolMeta())
	default:
		h = reports.NewText(w)
	}
	for i := range findings {
		if err := h.Finding(&findings[i]); err != nil {
			return err
		}
	}
	return h.Flush()
}

// failOn returns ExitError{Code: ExitFindings} when a finding is at or above
// the severity named by threshold ("none" never fails).
func failOn(threshold string, findings []analyzer.Finding) error {
	if threshold == "none" {
		return nil
	}
	sev, err := reports.ParseSeverity(threshold)
	if err != nil {
		return usageErrorf("--fail-on: %v", err)
	}
	n := 0
	for _, f := range findings {
		if f.Severity >= sev {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	noun := "findings"
	if n == 1 {
		noun = "finding"
	}
	return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%d %s at or above --fail-on %s", n, noun, threshold)}
}

// predictFromDepsImage says on stderr, for each go build of b whose
// settings match the build cache of the deps image (caches: its one
// image's, or each platform's), what it compiles FROM the image, as
// report does (buildcache.PredictCompile, in the module at dir); the
// builds that do not match are CC012 findings.
func predictFromDepsImage(ctx context.Context, dir string, b *analyzer.Build, caches []*warm.ImageBuildCache, stderr io.Writer) {
	for _, gb := range b.GoBuilds() {
		bc := caches[0]
		for _, c := range caches {
			if c.Settings.GOOS == gb.Settings.GOOS && c.Settings.GOARCH == gb.Settings.GOARCH {
				bc = c
				break
			}
		}
		if len(gb.Settings.Differences(bc.Settings)) > 0 {
			continue
		}
		var opts []buildcache.Option
		if bc.Main != nil {
			opts = append(opts, buildcache.WithImageMain(bc.Main))
		}
		pos := fmt.Sprintf("%s:%d", b.Dockerfile, gb.Instruction.Line)
		c, err := buildcache.PredictCompile(ctx, dir, bc.Settings, gb.Packages, opts...)
		if err != nil {
			fmt.Fprintf(stderr, "cachecheck: note: the go %s at %s matches the deps image's build cache; what it compiles FROM the image was not predicted: %v\n", gb.Command, pos, err)
			continue
		}
		pc := &reports.PredictedCompile{Packages: c.Packages, Links: c.Links, Revision: c.Revision}
		fmt.Fprintf(stderr, "cachecheck: note: the go %s at %s matches the deps image's build cache: %s\n", gb.Command, pos, pc.Sentence())
	}
}
