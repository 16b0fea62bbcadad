package cli

import (
	"context"
	"fmt"
	stdio "io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/shard"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// defaultOCIDir is the OCI layout warm and ref use when --to is not given,
// relative to the module or workspace directory.
const defaultOCIDir = warm.DefaultOCIDir

type warmOptions struct {
	to          string
	base        string
	force       bool
	registry    registryFlags
	download    time.Duration // the stall timeout of go mod download
	layers      int
	contents    *enumValue
	compression *enumValue
	format      *enumValue
	quiet       bool
	buildCache  buildCacheFlags
	all         bool
	jobs        int
	jobsSet     func() bool
	// warm --all across a CI matrix: --shard I/N, --plan, --check.
	shardFlag    string
	shard        *shard.Spec
	plan         bool
	check        bool
	maxShards    int
	maxShardsSet func() bool
	// warmFunc, when set, replaces warm in runAll (tests).
	warmFunc func(ctx context.Context, dir string) (*reports.Warm, error)
}

func newWarmCommand() *command {
	c, _ := warmCommand()
	return c
}

// warmCommand returns the warm command and the options its flags set.
func warmCommand() (*command, *warmOptions) {
	o := &warmOptions{
		contents:    newEnum(depsimage.DefaultContents, depsimage.ContentsFull, depsimage.ContentsZips),
		compression: newEnum(depsimage.Gzip, depsimage.Gzip, depsimage.Zstd),
		format:      newEnum("text", "text", "markdown", "json"),
	}
	fs := pflag.NewFlagSet("warm", pflag.ContinueOnError)
	fs.StringVar(&o.to, "to", "", "publish to `TARGET`: a registry repository (HOST/PATH), oci:DIR or tarball:FILE (default oci:DIR/"+defaultOCIDir+")")
	fs.StringVar(&o.base, "base", "", "build on the image `REF` (a registry reference or oci:DIR[:TAG]); default: no base, a deps-only image")
	fs.BoolVar(&o.force, "force", false, "build and publish even when the target already holds the key's image")
	o.registry.register(fs, "allow plain HTTP and unverified TLS for the registry of --to and --base")
	fs.DurationVar(&o.download, "download-timeout", modload.DefaultStallTimeout, "abandon 'go mod download' when it makes no progress for `DURATION` (no file of the module cache growing); 0 waits for ever")
	fs.IntVar(&o.layers, "layers", depsimage.DefaultBuckets, "spread public modules over `N` layers by a stable hash of their path")
	fs.Var(o.contents, "contents", "what goes in: full (zips and extracted trees) or zips (the go command extracts on first use)")
	fs.Var(o.compression, "compression", "layer compression: gzip (read everywhere) or zstd (faster, needs a recent runtime)")
	fs.Var(o.format, "format", "output format: text, markdown (for a pull request comment) or json")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image reference; no progress")
	o.buildCache.register(fs, "warm", "add a layer with the dependencies compiled into a Go build cache (GOCACHE), for the build settings of the Dockerfile's go build; --build-cache=all also compiles the main module's packages at the checked-out commit, into a layer of its own on an image tagged with the commit", true)
	fs.BoolVar(&o.all, "all", false, "warm every Go module and workspace under DIR (see below)")
	fs.IntVar(&o.jobs, "jobs", defaultJobs, "with --all, warm `N` modules at a time")
	o.jobsSet = func() bool { return fs.Changed("jobs") }
	fs.StringVar(&o.shardFlag, "shard", "", "with --all, warm only shard `I/N` of the units (a job of a CI matrix; see below)")
	fs.BoolVar(&o.plan, "plan", false, "with --all, print the shards a CI matrix needs (--format json: the matrix); warm nothing")
	fs.BoolVar(&o.check, "check", false, "with --all, check that the target holds every unit's image, and exit 1 if not; warm nothing")
	fs.IntVar(&o.maxShards, "max-shards", defaultMaxShards, "with --plan, plan at most `N` shards")
	o.maxShardsSet = func() bool { return fs.Changed("max-shards") }
	return &command{
		name:    "warm",
		summary: "build and publish the deps-only image of a Go module",
		usage:   "[--to TARGET] [--base REF] [--force] [flags] [DIR]",
		help: `
Warm builds the deps image of the Go module or workspace in DIR (default "."):
the module cache that 'go mod download' fills, verified against go.sum and
packed into reproducible layers at /go/pkg/mod, and publishes it to TARGET
under a tag derived from its key (see 'cachecheck key'):

	ck1-<key hex>[-<12 hex of the base digest>][-zips]

When TARGET already holds that tag, warm says so and does nothing (a hit);
--force rebuilds and replaces it. In an OCI layout a hit needs every blob
of the tag (manifests, config, layers, by size): a tag whose blobs are
missing is rebuilt, and warm says so on stderr. Content the target already holds is not
sent again, and the tag is written last, so an interrupted warm never leaves
a tag naming missing content.

TARGET is a registry repository (credentials from the Docker config and its
credential helpers, DOCKER_CONFIG honoured; TLS verified unless --insecure),
oci:DIR (an OCI image layout) or tarball:FILE (for 'docker load'). Without
--to, warm writes to the OCI layout ` + defaultOCIDir + ` in DIR.

The go command runs with the caller's GOPROXY, GOPRIVATE, GONOSUMDB, GOFLAGS
and credentials, a fresh private module cache, and GOTOOLCHAIN=local unless
set. Modules matching GOPRIVATE get a layer of their own.

--build-cache adds one more layer: the packages the module's main packages
import from outside the module (standard library included), compiled into a
Go build cache at the build's GOCACHE (default /root/.cache/go-build), so a
go build FROM the image compiles only the module's own packages. The cache
serves only a build with the same settings: Go toolchain, GOOS, GOARCH, GOAMD64,
CGO_ENABLED, -trimpath, build tags, compile flags and, without -trimpath,
GOMODCACHE=/go/pkg/mod. They are given with --build-flags or read from
the first go build in the Dockerfile: --dockerfile, else the one that
builds Go (a go build or go install, also behind make or a script) among
DIR/Dockerfile, DIR/*.Dockerfile, DIR/Dockerfile.* and the same names in
DIR's build/, build/package/, scripts/, docker/, deploy/ and .docker/;
when several build Go, warm asks for --dockerfile. When no Dockerfile
gives them, warm compiles for the go command's defaults and says so on
stderr and in the JSON ("settings_from"). They are recorded as
org.cachecheck.build-cache.* labels, and add -bc<12 hex of their digest>
to the tag. 'cachecheck analyze --deps-image'
reports a build whose settings differ (rule CC012).

The compiler is the base image's own: its Go installation (its GOROOT, else
the go command on its PATH, as /usr/local/go in the golang images) is
unpacked once per image digest under the user's cache directory
(cachecheck/goroot) and compiles the packages, so any Go release works and
the entries are those the build computes; a base without one (or for
another architecture) is compiled for with the go command here, which must
then be the release the build names (the base's GOLANG_VERSION, or the
Dockerfile's golang: tag); with no Go in the base and a Dockerfile naming
another single release (golang:1.27.3), warm fetches that release's
official toolchain (the golang.org/toolchain module, through GOPROXY, once
into cachecheck/goroot/toolchain) and compiles with it. Without -trimpath the compile runs in a
private mount namespace with the module cache bind-mounted at /go/pkg/mod
and the base's Go at its GOROOT, which needs root (or CAP_SYS_ADMIN).

On a multi-platform --base (an index, as the golang images are), the deps
image is an index too: the same module cache layers on every platform's
image (uploaded once) and a build cache layer on the image of each
platform --platform names (default: the build's platform, linux/amd64
unless the Dockerfile's stage says). A platform this machine cannot run
is compiled for by the base's image for this machine's architecture,
cross-compiling with the same release, whose entries the platform's own
toolchain hits. The index's org.cachecheck.build-cache.platforms
annotation lists the platforms with a build cache; each other image is
annotated org.cachecheck.build-cache.absent. 'cachecheck ref' and
'report' find the index for the same --platform; a builder pulls its own
platform's image.

--build-cache=all also compiles the main module's packages at the
checked-out commit (those the built main packages import; not the main
packages, whose compile takes in what the build stamps: -ldflags, the
version control state; not tests) on top of the dependencies' build
cache, into a layer of its own, and publishes that image under the deps
image's tag with -r<12 hex of the commit> added, labelled with the commit
and its time (org.cachecheck.build-cache.revision*). The deps image is
published under its own tag as with --build-cache, or found there and
left as it is: a nightly run on a new commit of the same key compiles
only the main module and uploads one layer. A go build FROM the image
then compiles only the packages whose files changed since that commit,
what imports them, and its main packages: 'cachecheck report
--build-cache=all' predicts which. The build must use -trimpath (else the
directory warm runs in enters the packages' cache keys), and the work tree
must be clean (no change to tracked files, no untracked Go file). 'ref
--build-cache=all' picks the newest commit's image; 'prune --keep N' keeps
N commits of each deps image.

The build cache layer depends on the key, the settings and the go command's
release, not on --contents or --base: when the target holds an image of the
same key and settings under another tag (warm --contents full, then zips),
warm reuses its layer (written by digest: no upload) instead of compiling,
says so on stderr and in the JSON (build_cache.reused_from). --force
compiles.

--all warms every Go module and workspace under DIR (a module a workspace
uses is warmed through the workspace), --jobs at a time, goes on past a
failure and fails at the end if any failed. With --to, units of the same
key (and build settings) are warmed once.

Across the jobs of a CI matrix (GitHub Actions strategy.matrix, GitLab
parallel:matrix), with the registry as the only thing they share:

	cachecheck warm --all --plan --format json --to REPO .   # {"include":[{"shard":"1/3"},...]}
	cachecheck warm --all --shard 2/3 --to REPO .            # in each job of the matrix
	cachecheck warm --all --check --to REPO .                # after the matrix: exit 1 if any is missing

Each job computes the same split on its own: rendezvous hashing of the
units' directories, weighed by the size of each unit's last published
image (images of the keys being warmed are not read, so that jobs that
start late split the same way), or by module count when none is
published; a shard holds at most 1.25 times the mean. A unit keeps its
shard as others are added unless that bound moves it. --plan asks for as
many shards as there are keys not yet published, at least 1 and at most
--max-shards. Do not prune the repository while the matrix runs.`,
		examples: `
cachecheck warm --to registry.example.com/team/app-deps
cachecheck warm --to registry.example.com/team/app-deps --base registry.example.com/mirror/golang:1.26
cachecheck warm --to oci:/var/cache/deps --contents zips
cachecheck warm --to tarball:deps.tar && docker load -i deps.tar
cachecheck warm --to registry.example.com/team/app-deps --base registry.example.com/mirror/golang:1.26.8 --build-cache
cachecheck warm --to registry.example.com/team/app-deps --base registry.example.com/mirror/golang:1.26.8 --build-cache --platform linux/amd64,linux/arm64
cachecheck warm --to registry.example.com/team/app-deps --base registry.example.com/mirror/golang:1.26.8 --build-cache=all
cachecheck warm --all --jobs 4 --to registry.example.com/team/app-deps .
cachecheck warm --all --shard 1/4 --to registry.example.com/team/app-deps .`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}, o
}

// targetFor parses --to, defaulting to the OCI layout in dir.
func targetFor(to, dir string, opts ...publish.Option) (publish.Target, error) {
	if to == "" {
		to = "oci:" + filepath.Join(dir, defaultOCIDir)
	}
	t, err := publish.ParseTarget(to, opts...)
	if err != nil {
		return nil, usageErrorf("--to: %v", err)
	}
	return t, nil
}

func (o *warmOptions) validate(args []string) error {
	if err := maxArgs("warm", args, 1); err != nil {
		return err
	}
	if o.layers < 1 || o.layers > 100 {
		return usageErrorf("warm: --layers %d is out of range 1-100", o.layers)
	}
	if o.download < 0 {
		return usageErrorf("warm: --download-timeout %s: want a positive duration such as 5m, or 0 to wait for ever", o.download)
	}
	if err := o.validateAll(); err != nil {
		return err
	}
	if err := o.registry.validate(); err != nil {
		return err
	}
	if err := checkBase("--base", o.base); err != nil {
		return err
	}
	return o.buildCache.validate()
}

func (o *warmOptions) run(ctx context.Context, io IO, args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	if o.all {
		return o.runAll(ctx, io, dir)
	}
	prog := newProgress(io.Err, o.quiet)
	defer prog.done()
	sum, err := o.warm(ctx, dir, prog, io.Err)
	if err != nil {
		return err
	}
	prog.done()
	return o.print(io, sum)
}

// warm warms the module or workspace in dir and says what it did. Notes
// that are not errors go to stderr.
func (o *warmOptions) warm(ctx context.Context, dir string, prog *progress, stderr stdio.Writer) (*reports.Warm, error) {
	target, err := targetFor(o.to, dir, o.registry.options(publish.WithProgress(func(p publish.Progress) {
		prog.set("publish %s", byteProgress(p.Complete, p.Total))
	}))...)
	if err != nil {
		return nil, err
	}
	opts := []warm.Option{
		warm.WithTarget(target),
		warm.WithBase(o.base),
		warm.WithPublishOptions(o.registry.options()...),
		warm.WithForce(o.force),
		warm.WithStallTimeout(o.download),
		warm.WithLayers(o.layers),
		warm.WithContents(o.contents.String()),
		warm.WithCompression(o.compression.String()),
		warm.WithProgress(prog.warm),
		warm.WithStderr(stderr),
		warm.WithVersion(Version()),
		warm.WithPlatforms(o.buildCache.platforms...),
	}
	// A copy per warm: warm --all runs several at once, and settings
	// records where it found them.
	bcf := o.buildCache
	if bcf.main {
		rev, err := warm.Revision(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("--build-cache=all: %w", err)
		}
		opts = append(opts, warm.WithMainModule(rev))
	}
	res, err := warm.Image(ctx, dir, append(opts, warm.WithBuildCache(func(base publish.Artifact) (*buildcache.Settings, error) {
		return bcf.settings(dir, base, stderr)
	}))...)
	if err != nil {
		return nil, err
	}
	sum := newWarmSummary(res)
	if sum.BuildCache != nil {
		sum.BuildCache.SettingsFrom = bcf.from
	}
	for _, bc := range sum.BuildCaches {
		bc.SettingsFrom = bcf.from
	}
	return sum, nil
}

// newWarmSummary maps warm's result to its document. The document
// carries its Header, as a part of warm --all's document too.
func newWarmSummary(r *warm.Result) *reports.Warm {
	sum := &reports.Warm{
		Key:     r.Key,
		Tag:     r.Tag,
		Target:  r.Target,
		Ref:     r.Ref,
		Digest:  r.Digest,
		Hit:     r.Hit,
		Modules: r.Modules,
		Layers:  reports.WarmLayers{New: r.Layers.New, Reused: r.Layers.Reused},
		Bytes:   reports.WarmBytes{Raw: r.Bytes.Raw, Compressed: r.Bytes.Compressed, Written: r.Bytes.Written},
		Seconds: r.Seconds,
	}
	sum.Header = reports.Header{ProtocolVersion: reports.ProtocolVersion, DocKind: sum.Kind()}
	if bc := r.BuildCache; bc != nil {
		sum.BuildCache = warmBuildCache(bc)
	}
	for _, bc := range r.BuildCaches {
		sum.BuildCaches = append(sum.BuildCaches, warmBuildCache(bc))
	}
	sum.DepsTag, sum.DepsHit = r.DepsTag, r.DepsHit
	for _, m := range r.Main {
		w := &reports.WarmMainModule{Platform: m.Platform, Revision: m.Revision, RevisionTime: m.RevisionTime, Packages: m.Packages, Toolchain: m.Toolchain}
		w.Bytes.Raw, w.Bytes.Compressed = m.Bytes.Raw, m.Bytes.Compressed
		sum.MainModule = append(sum.MainModule, w)
	}
	return sum
}

func warmBuildCache(bc *warm.BuildCache) *reports.WarmBuildCache {
	w := &reports.WarmBuildCache{Platform: bc.Platform, Settings: bc.Settings, Digest: bc.Digest, Packages: bc.Packages, ReusedFrom: bc.ReusedFrom, Toolchain: bc.Toolchain}
	w.Bytes.Raw, w.Bytes.Compressed = bc.Bytes.Raw, bc.Bytes.Compressed
	return w
}

// print writes what warm did in the --format asked; with -q, the text is
// the reference alone.
func (o *warmOptions) print(io IO, sum *reports.Warm) error {
	sum.Quiet = o.quiet
	return reports.Write(io.Out, reports.Format(o.format.String()), sum)
}

// byteSize formats n bytes with a decimal unit.
func byteSize(n int64) string { return reports.ByteSize(n) }

func byteProgress(done, total int64) string {
	if total <= 0 {
		return byteSize(done)
	}
	return byteSize(done) + " / " + byteSize(total)
}

// progress writes one self-replacing status line to a terminal, at most
// ten times a second; it writes nothing when w is not a terminal or quiet.
type progress struct {
	mu   sync.Mutex
	w    stdio.Writer
	last time.Time
	used bool
}

func newProgress(w stdio.Writer, quiet bool) *progress {
	f, ok := w.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{w: w}
}

func (p *progress) set(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.used = true
	fmt.Fprintf(p.w, "\r\033[K"+format, args...)
}

// warm shows a step of warm's pipeline.
func (p *progress) warm(w warm.Progress) {
	switch w.Phase {
	case "download":
		if w.Total > 0 {
			p.set("download modules %d/%d, %s", w.Done, w.Total, byteSize(w.Bytes))
		} else {
			p.set("download modules %d, %s", w.Done, byteSize(w.Bytes))
		}
	case "verify":
		p.set("verify %d modules", w.Total)
	case "pack+upload":
		p.set("pack and upload %d layers", w.Total)
	case "pack":
		p.set("pack %d layers", w.Total)
	case "build-cache":
		if w.From != "" {
			p.set("reuse the build cache layer of %s", w.From)
		} else {
			p.set("compile dependencies into the build cache")
		}
	case "main-module":
		p.set("compile the main module's packages into the build cache")
	}
}

func (p *progress) done() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used {
		fmt.Fprint(p.w, "\r\033[K")
		p.used = false
	}
}
