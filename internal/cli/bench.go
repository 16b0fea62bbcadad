package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/bench"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/spf13/pflag"
)

type benchOptions struct {
	file         string
	builder      *enumValue
	to           string
	runs         int
	bump         string
	noBuildCache bool
	format       *enumValue
	chart        string
	logs         string
	base         string
	buildArgs    []string
	registry     registryFlags
	quiet        bool
	buildkit     string
	buildah      string
	podman       string
	buildctlBin  string
	dockerBin    string
	network      string
}

func newBenchCommand() *command {
	o := &benchOptions{
		builder: newEnum("buildkit", "buildkit", "buildah", "podman", "docker", "docker-buildkit", "go"),
		format:  newEnum("text", "text", "markdown", "json"),
	}
	addr := os.Getenv("BUILDKIT_HOST")
	if addr == "" {
		addr = "unix:///run/buildkit/buildkitd.sock"
	}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.StringVarP(&o.file, "file", "f", "", "the `Dockerfile` (default CONTEXT/Dockerfile)")
	fs.Var(o.builder, "builder", "the builder: buildkit (buildctl), buildah, podman, docker (the classic builder), docker-buildkit (docker build with DOCKER_BUILDKIT=1) or go (the go command, no Dockerfile)")
	fs.StringVar(&o.to, "to", "", "where deps images are looked up and warmed, as for warm: a registry repository for container builders (default for go: oci:DIR/"+defaultOCIDir+")")
	fs.IntVarP(&o.runs, "runs", "n", 3, "run each scenario `N` times")
	fs.StringVar(&o.bump, "bump", "", "add the dependency-change scenarios: bump `MODULE@VERSION` in a scratch copy")
	fs.BoolVar(&o.noBuildCache, "no-build-cache", false, "leave out the buildcache scenario (no deps image with a build cache layer is warmed)")
	fs.Var(o.format, "format", "output format: text, markdown or json")
	fs.StringVar(&o.chart, "chart", "", "draw the scenario timings as bars into `FILE.svg`")
	fs.StringVar(&o.logs, "logs", "", "save each run's builder output (and the Dockerfile it built) in `DIR`")
	fs.StringVar(&o.base, "base", "", "build deps images on the image `REF` (default: the base image of the Dockerfile's Go builder stage)")
	fs.StringArrayVar(&o.buildArgs, "build-arg", nil, "pass `NAME=VALUE` to every build (repeatable)")
	o.registry.register(fs, "allow plain HTTP and unverified TLS for the registry of --to and --base")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on standard error")
	fs.StringVar(&o.buildkit, "buildkit-addr", addr, "buildkitd's `ADDRESS` (default $BUILDKIT_HOST)")
	fs.StringVar(&o.buildctlBin, "buildctl", "", "the buildctl `BINARY` (default buildctl on PATH)")
	fs.StringVar(&o.buildah, "buildah-root", "", "buildah's storage `DIR` (holding root and runroot; default buildah's own)")
	fs.StringVar(&o.podman, "podman-root", "", "podman's storage `DIR` (holding root and runroot; default podman's own)")
	fs.StringVar(&o.dockerBin, "docker", "", "the docker `BINARY` for --builder docker and docker-buildkit (default docker on PATH; the engine is $DOCKER_HOST's)")
	fs.StringVar(&o.network, "docker-network", "", "the `NETWORK` of the RUN steps of docker builds (docker build --network; default the engine's)")
	return &command{
		name:    "bench",
		summary: "time real builds with and without the deps image",
		usage:   "--builder NAME --to TARGET [-n RUNS] [--bump MODULE@VERSION] [flags] [CONTEXT]",
		help: `
Bench runs real builds of the Dockerfile in CONTEXT (default ".") and
reports what pre-warming buys, each scenario -n times (median, min, max):

  cold          no layer cache, the Dockerfile as it is
  prewarmed     no layer cache, the Go builder stage FROM the deps image of
                the current key (warmed into --to first when missing)
  buildcache    as prewarmed, FROM the deps image warmed with --build-cache
                for the settings of the Dockerfile's first go build; a cache
                mount on GOCACHE (or a parent), which would hide that build
                cache, is taken off too. Skipped, with
                the reason, when warm refuses the build cache (e.g. the base
                image's Go release is not the go command's, or it is a
                multi-platform index: give --base REF@sha256:<the
                platform's image>); off with --no-build-cache
  code-change   layer cache warm, one Go source file changed
  bump-*        with --bump: a requirement bumped with the go command in a
                scratch copy, built without a deps image, FROM the nearest
                older one, and FROM a fresh one

The context is copied to a scratch directory and never changed. "No layer
cache" means --no-cache and fresh ids for every RUN --mount=type=cache, and
a cold build that reports a cached step fails the bench. The pre-warmed
Dockerfile is derived by replacing the FROM of the stage the analyzer finds
running go mod download (or go build); when that FROM names ${DEPS_IMAGE},
the Dockerfile is kept and --build-arg DEPS_IMAGE=REF is passed instead.
The classic docker builder (--builder docker) refuses every RUN flag
(--mount, --network, --security): its builds run without them, as the
scenarios' notes say; with --builder docker-buildkit the engine's BuildKit
runs them.
The stages built on the deps image run without the cache mounts that
hide what it holds (on /go/pkg/mod, /go or a parent: dropped_mounts in
the result) and, but in bump-nearest, with ENV GOPROXY=off added after
their FROM, so that a module the image lacks fails the build. Every go
mod download runs with -x, so that the log names the modules downloaded
(over HTTP; a file:// GOPROXY or direct fetches are not seen), counted per
build. A scenario FROM the deps image that downloaded a module, or failed
because GOPROXY=off refused one, is invalid (the reason is given) and
gives no speedup. The speedup is cold over prewarmed; the build cache
speedup cold over buildcache. When the go build runs with -v, the result says how many
packages it compiled (with the build cache: only the module's own).

--builder go needs no container tool and no Dockerfile: it times go mod
download and go build of the module's main packages (CGO_ENABLED=0
-trimpath) with an empty module and build cache, with the module cache
unpacked from the deps image (GOPROXY=off, so nothing can be downloaded),
and with its module cache and build cache layer (the deps image is warmed
with --build-cache for those settings).`,
		examples: `
cachecheck bench --builder buildkit --to registry.example.com/team/app-deps -n 3 --chart bench.svg .
cachecheck bench --builder buildah --to 127.0.0.1:5000/app-deps --insecure --build-arg GOPROXY=$(go env GOPROXY) .
cachecheck bench --builder go -n 1 --format json > bench.json`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

func (o *benchOptions) validate(args []string) error {
	if err := o.registry.validate(); err != nil {
		return err
	}
	if err := maxArgs("bench", args, 1); err != nil {
		return err
	}
	if o.runs < 1 {
		return usageErrorf("bench: -n %d: want at least 1 run", o.runs)
	}
	for _, a := range o.buildArgs {
		if k, _, ok := strings.Cut(a, "="); !ok || k == "" {
			return usageErrorf("bench: --build-arg %q: want NAME=VALUE", a)
		}
	}
	return nil
}

func (o *benchOptions) run(ctx context.Context, io IO, args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	buildArgs := map[string]string{}
	for _, a := range o.buildArgs {
		k, v, _ := strings.Cut(a, "=")
		buildArgs[k] = v
	}
	to := o.to
	isGo := o.builder.String() == "go"
	switch {
	case to == "" && isGo:
		to = "oci:" + filepath.Join(abs, defaultOCIDir)
	case to == "":
		return usageErrorf("bench: --builder %s needs --to REGISTRY/REPOSITORY: the builder pulls the deps image from there", o.builder)
	case !isGo && (strings.HasPrefix(to, "oci:") || strings.HasPrefix(to, "tarball:")):
		return usageErrorf("bench: --builder %s pulls the deps image from a registry; --to %s is not one (use a registry repository, or --builder go)", o.builder, to)
	}
	if isGo && (o.file != "" || len(o.buildArgs) > 0 || o.bump != "") {
		return usageErrorf("bench: --builder go builds without a Dockerfile; drop --file, --build-arg and --bump")
	}
	if isGo && o.noBuildCache {
		return usageErrorf("bench: --builder go always uses the build cache (its go-buildcache scenario); drop --no-build-cache")
	}
	if o.bump != "" {
		if _, err := bench.ParseBump(o.bump); err != nil {
			return usageErrorf("bench: --bump %q: %v", o.bump, err)
		}
	}
	if _, err := targetFor(to, abs); err != nil {
		return err
	}
	prog := newProgress(io.Err, o.quiet)
	defer prog.done()
	deps := &cliDeps{to: to, registry: o.registry, base: o.base, tags: map[string]string{}}
	opts := []bench.Option{
		bench.WithRuns(o.runs),
		bench.WithBuildCache(!o.noBuildCache),
		bench.WithDepsImages(deps),
		bench.WithLogDir(o.logs),
		bench.WithProgress(func(s string) { prog.set("%s", s) }),
	}
	if o.bump != "" {
		opts = append(opts, bench.WithBump(o.bump))
	}
	var res *bench.Result
	if isGo {
		res, err = bench.RunGo(ctx, abs, opts...)
	} else {
		b, berr := o.newBuilder()
		if berr != nil {
			return berr
		}
		if o.file != "" {
			f, ferr := filepath.Abs(o.file)
			if ferr != nil {
				return ferr
			}
			opts = append(opts, bench.WithDockerfile(f))
		}
		opts = append(opts, bench.WithBuildArgs(buildArgs))
		res, err = bench.Run(ctx, b, abs, opts...)
	}
	prog.done()
	if err != nil {
		return err
	}
	if o.chart != "" {
		var svg bytes.Buffer
		if err := res.WriteSVG(&svg); err != nil {
			return err
		}
		if err := os.WriteFile(o.chart, svg.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the chart: %w", err)
		}
	}
	return reports.Write(io.Out, reports.Format(o.format.String()), res)
}

func (o *benchOptions) newBuilder() (builder.Builder, error) {
	switch o.builder.String() {
	case "buildkit":
		return &builder.BuildKit{Addr: o.buildkit, Buildctl: o.buildctlBin}, nil
	case "buildah":
		b := &builder.Buildah{}
		if o.buildah != "" {
			b.Root, b.RunRoot = filepath.Join(o.buildah, "root"), filepath.Join(o.buildah, "runroot")
		}
		return b, nil
	case "podman":
		b := &builder.Podman{}
		if o.podman != "" {
			b.Root, b.RunRoot = filepath.Join(o.podman, "root"), filepath.Join(o.podman, "runroot")
		}
		return b, nil
	case "docker", "docker-buildkit":
		return &builder.Docker{Bin: o.dockerBin, Network: o.network, BuildKit: o.builder.String() == "docker-buildkit"}, nil
	}
	return nil, usageErrorf("bench: unknown builder %q", o.builder)
}

// cliDeps implements bench.DepsImages with the warm package, as the warm
// and ref commands given --to, --base and the registry flags would.
type cliDeps struct {
	to, base string
	registry registryFlags
	mu       sync.Mutex
	tags     map[string]string // ref -> tag, for Unpack
}

// baseFor returns the base image warm builds on: --base when given, else
// base ("" for none, and for scratch).
func (d *cliDeps) baseFor(base string) (string, error) {
	if d.base != "" {
		base = d.base
	}
	if base == "scratch" {
		base = ""
	}
	return base, checkBase("--base", base)
}

func (d *cliDeps) Ensure(ctx context.Context, dir, base string, w bench.Warm) (string, error) {
	res, err := d.ensure(ctx, dir, base, w)
	if err != nil {
		var refused *warm.BuildCacheError
		if errors.As(err, &refused) {
			return "", fmt.Errorf("%w: %w", bench.ErrNoBuildCache, err)
		}
		return "", fmt.Errorf("warming the deps image: %w", err)
	}
	d.mu.Lock()
	d.tags[res.Ref] = res.Tag
	d.mu.Unlock()
	return res.Ref, nil
}

func (d *cliDeps) ensure(ctx context.Context, dir, base string, w bench.Warm) (*warm.Result, error) {
	base, err := d.baseFor(base)
	if err != nil {
		return nil, err
	}
	target, err := targetFor(d.to, dir, d.registry.options()...)
	if err != nil {
		return nil, err
	}
	bc := buildCacheFlags{command: "warm", enabled: w.BuildCache}
	if w.BuildCache {
		switch {
		case w.BuildFlags != "":
			bc.buildFlags = w.BuildFlags
		case w.Dockerfile != "":
			bc.dockerfile = w.Dockerfile
		}
	}
	return warm.Image(ctx, dir,
		warm.WithTarget(target),
		warm.WithBase(base),
		warm.WithPublishOptions(d.registry.options()...),
		warm.WithVersion(Version()),
		warm.WithBuildCache(func(b publish.Artifact) (*buildcache.Settings, error) {
			return bc.settings(dir, b, io.Discard)
		}))
}

func (d *cliDeps) Nearest(ctx context.Context, dir, base string) (string, error) {
	ref, err := d.nearest(ctx, dir, base)
	if err != nil {
		return "", fmt.Errorf("looking up the nearest deps image: %w", err)
	}
	return ref, nil
}

// nearest returns the reference of the key's deps image in the target,
// else of the nearest one, else "".
func (d *cliDeps) nearest(ctx context.Context, dir, base string) (string, error) {
	base, err := d.baseFor(base)
	if err != nil {
		return "", err
	}
	target, err := targetFor(d.to, dir, d.registry.options()...)
	if err != nil {
		return "", err
	}
	key, err := cachekey.ComputeDir(dir)
	if err != nil {
		return "", err
	}
	var baseDigest *v1.Hash
	if base != "" {
		_, h, err := publish.ResolveBase(ctx, base, d.registry.options()...)
		if err != nil {
			return "", err
		}
		baseDigest = &h
	}
	tag := warm.Tag(key.Key, baseDigest, depsimage.DefaultContents, nil)
	desc, err := target.Lookup(ctx, tag.String())
	switch {
	case err == nil:
		return target.Ref(tag.String(), *desc), nil
	case !errors.Is(err, publish.ErrNotFound):
		return "", err
	}
	near, err := warm.Nearest(ctx, target, tag, key)
	if err != nil || near == nil {
		return "", err
	}
	return target.Ref(near.Tag.String(), near.Descriptor), nil
}

// Unpack extracts the files under go/pkg/mod of the deps image into
// gomodcache and, when gocache is not "", those under the image's GOCACHE
// into gocache.
func (d *cliDeps) Unpack(ctx context.Context, ref, gomodcache, gocache string) error {
	d.mu.Lock()
	tag := d.tags[ref]
	d.mu.Unlock()
	target, err := targetFor(d.to, ".", d.registry.options()...)
	if err != nil {
		return err
	}
	entries, err := target.List(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Tag.String() != tag {
			continue
		}
		img, err := e.Image()
		if err != nil {
			return err
		}
		dirs := map[string]string{"go/pkg/mod/": gomodcache}
		if gocache != "" {
			cf, err := img.ConfigFile()
			if err != nil {
				return fmt.Errorf("deps image %s: %w", ref, err)
			}
			p := ""
			for _, kv := range cf.Config.Env {
				if v, ok := strings.CutPrefix(kv, "GOCACHE="); ok {
					p = strings.Trim(filepath.ToSlash(filepath.Clean(v)), "/")
				}
			}
			if p == "" {
				return fmt.Errorf("deps image %s has no build cache (no GOCACHE in its config)", ref)
			}
			dirs[p+"/"] = gocache
			if err := os.MkdirAll(gocache, 0o755); err != nil {
				return err
			}
		}
		rc := mutate.Extract(img)
		defer rc.Close()
		return untarDirs(rc, dirs)
	}
	return fmt.Errorf("deps image %s: tag %q not found in %s", ref, tag, target)
}

// untarDirs writes the regular files and directories of a flattened image
// under each prefix of dirs (a slash-terminated path without the leading
// slash) into the directory it maps to, writable so they can be removed.
func untarDirs(r io.Reader, dirs map[string]string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the deps image: %w", err)
		}
		name := strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+h.Name)), "/")
		p := ""
		for prefix, dst := range dirs {
			if strings.HasPrefix(name+"/", prefix) {
				p = filepath.Join(dst, filepath.FromSlash(strings.TrimPrefix(name+"/", prefix)))
			}
		}
		if p == "" {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("unpacking %s: %w", h.Name, err)
			}
		}
	}
}
