package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdio "io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"
)

type reportOptions struct {
	base, head string
	// dir is the module directory the report is run on (DIR).
	dir        string
	file       string
	to         string
	depsBase   string
	contents   *enumValue
	registry   registryFlags
	bench      string
	buildLogs  []string
	format     *enumValue
	failOn     []string
	timeout    time.Duration
	buildCache buildCacheFlags
	// found is the head's Dockerfile found without --file ("" for none);
	// note says why none was.
	found, note string
}

func newReportCommand() *command {
	o := &reportOptions{
		format:   newEnum("markdown", "markdown", "text", "json"),
		contents: newEnum("full", "full", "zips"),
	}
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.StringVar(&o.base, "base", "", "the base `REV`ision of the pull request: a git revision, or a directory (required)")
	fs.StringVar(&o.head, "head", "", "the head `REV`ision (default: the work tree)")
	fs.StringVarP(&o.file, "file", "f", "", "the `Dockerfile`, relative to DIR (default: the one of DIR, or of its build/, scripts/, docker/... directories, that builds Go)")
	fs.StringVar(&o.to, "to", "", "where deps images are published: a registry repository or oci:DIR (default: not checked)")
	fs.StringVar(&o.depsBase, "deps-base", "", "the --base `REF` the deps images were warmed on")
	fs.Var(o.contents, "contents", "the --contents the deps images were warmed with: full or zips")
	o.registry.register(fs, "allow plain HTTP and unverified TLS for the registry")
	o.buildCache.register(fs, "report", "look up the image 'warm --build-cache' published for the build settings of the head Dockerfile's go build (or --build-flags); --build-cache=all: the newest image 'warm --build-cache=all' published, with the main module's packages too", false)
	fs.StringVar(&o.bench, "bench", "", "a `FILE.json` written by 'cachecheck bench --format json'")
	fs.StringArrayVar(&o.buildLogs, "build-log", nil, "a build log, `[NAME=]FILE` (BuildKit rawjson or plain, buildah, podman, classic docker); name them base= and head= to compare; repeatable")
	fs.Var(o.format, "format", "output format: markdown, text or json")
	fs.StringArrayVar(&o.failOn, "fail-on", nil, "exit with code 3 when a `CONDITION` holds: new-finding=SEVERITY, deps-miss, key-changed, build-cache-mismatch, slower-than=N%; repeatable")
	fs.DurationVar(&o.timeout, "registry-timeout", 10*time.Second, "how long the registry may take to answer before it is reported not checked")
	return &command{
		name:    "report",
		summary: "say what a pull request does to the build cache",
		usage:   "--base REV [--head REV] [--to TARGET] [--build-cache[=all] [--build-flags FLAGS] [--platform OS/ARCH,...]] [--bench FILE.json] [--build-log [NAME=]FILE ...] [--format markdown|text|json] [--fail-on CONDITION ...] [DIR]",
		help: `
Report compares a pull request (the work tree, or --head) with its base and
answers, in one screen: what does this change do to the build cache and the
build time? DIR (default ".") holds the Go module and the Dockerfile.

- Keys: the base and head dependency keys, and how their inputs differ.
- Deps image (with --to): whether the image for the head key is published
  (on --deps-base; without it, on any base, and the section names the base
  it was found on); if not, the nearest published one and how many modules
  it already holds.
  When the target cannot be reached, the section says "not checked" and the
  report goes on. When the image found holds a Go build cache ('warm
  --build-cache'), the section says what it was compiled for and whether
  each go build of the head Dockerfile can use it; a build that cannot
  gets one sentence saying which settings differ (the comparison of
  'analyze --deps-image', rule CC012). For one that can, when the head is
  the work tree, it predicts what the build compiles FROM the image: the
  module's own packages among the build's dependencies (which the build
  cache does not hold; 'go list -deps' with the build's settings, offline)
  and a link for each command. For a multi-platform deps image, each go
  build is compared with the image for its GOOS/GOARCH.
- Dockerfile: the findings the change introduced or fixed, and the
  predicted layer-cache hits and misses of a head build after a base build,
  naming the first miss. Without --file it is the head's Dockerfile that
  builds Go among DIR/Dockerfile, *.Dockerfile, Dockerfile.* and the same
  names in build/, build/package/, scripts/, docker/, deploy/ and .docker/
  (else DIR/Dockerfile); with none, or several that build Go, one line says
  that no Dockerfile was analysed and why.
- Timings (with --bench or --build-log): build steps, cached or not, their
  durations, and base against head when logs named base= and head= are given.

Revisions are read with git without touching the work tree. The markdown
form is made for a pull-request comment: the verdict first, then collapsible
details. --fail-on sets exit code 3 when a condition holds, so CI can gate.

--build-cache looks up the image 'cachecheck warm --build-cache' publishes
for the head key: give the same --deps-base and --build-flags the nightly
warm uses, or none to take the settings from the head Dockerfile's first go
build. --fail-on build-cache-mismatch then fails when a go build of the
head Dockerfile does not match the build cache of the image found. When
the work tree is the head (no --head), it predicts which packages each
such go build compiles FROM the image.

--build-cache=all looks up the newest image 'cachecheck warm
--build-cache=all' published for the head key (one a commit of the
default branch), whose build cache also holds the main module's
packages, else the deps image; the section names the commit, and the
prediction counts only the packages whose files differ between that
commit and the work tree (git diff and untracked files), what imports
them and the main packages. The commit must be in the clone: a shallow
CI checkout may need 'git fetch --depth=1 origin COMMIT'.`,
		examples: `
cachecheck report --base origin/main
cachecheck report --base origin/main --to registry.example.com/team/app-deps --format markdown > comment.md
cachecheck report --base main --build-log base=base.json --build-log head=head.json --fail-on slower-than=20%
cachecheck report --base main --fail-on new-finding=error --fail-on deps-miss --format text
cachecheck report --base origin/main --to registry.example.com/team/app-deps --deps-base registry.example.com/mirror/golang:1.26.8 --build-cache --build-flags 'CGO_ENABLED=0 -trimpath' --fail-on build-cache-mismatch
cachecheck report --base origin/main --to registry.example.com/team/app-deps --deps-base registry.example.com/mirror/golang:1.26.8 --build-cache=all --format markdown`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

func (o *reportOptions) validate(args []string) error {
	if err := o.registry.validate(); err != nil {
		return err
	}
	if err := maxArgs("report", args, 1); err != nil {
		return err
	}
	if o.base == "" {
		return usageErrorf("report: --base is required: the revision the pull request is based on, such as origin/main")
	}
	if err := o.buildCache.validate(); err != nil {
		return err
	}
	if o.to != "" {
		if _, err := publish.ParseTarget(o.to); err != nil {
			return usageErrorf("--to: %v", err)
		}
	}
	if err := checkBase("--deps-base", o.depsBase); err != nil {
		return err
	}
	for _, s := range o.failOn {
		if _, err := reports.ParseCondition(s); err != nil {
			return usageErrorf("report: %v", err)
		}
	}
	return nil
}

func (o *reportOptions) run(ctx context.Context, io IO, args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	var conds []reports.Condition
	for _, s := range o.failOn {
		c, _ := reports.ParseCondition(s) // checked by validate
		conds = append(conds, c)
	}
	logs, err := parseBuildLogs(o.buildLogs)
	if err != nil {
		return err
	}
	o.dir = dir
	rep := &reports.Report{Base: o.base, Head: o.head}
	if rep.Head == "" {
		rep.Head = "."
	}

	baseKey, _, err := computeOther(ctx, dir, "--base", o.base)
	if err != nil {
		return err
	}
	headKey, err := o.headKey(ctx, dir)
	if err != nil {
		return err
	}
	rep.Keys = reports.Keys{
		Base:    baseKey.Key.String(),
		Head:    headKey.Key.String(),
		Same:    baseKey.Key == headKey.Key,
		Changes: cachekey.Diff(baseKey, headKey),
	}

	var head *analyzer.Build
	if rep.Dockerfile, head, rep.DockerfileNote, err = o.dockerfile(ctx, dir); err != nil {
		return err
	}
	rep.Deps = o.deps(ctx, headKey, head, io.Err)
	if head != nil && rep.Deps.Ref != "" {
		// The findings as analyze --deps-image gives them for the deps
		// image found: its FROM line and the cache mounts that hide
		// its modules (CC011), its cache directories, its build cache.
		opts := depsImageOptions(ctx, rep.Deps.Ref, false, &o.registry, io.Err, nil)
		if rep.Dockerfile, _, _, err = o.dockerfile(ctx, dir, opts...); err != nil {
			return err
		}
	}

	for _, l := range logs {
		t, err := readTiming(l.name, l.file)
		if err != nil {
			return err
		}
		rep.Timings = append(rep.Timings, *t)
	}
	if o.bench != "" {
		if rep.Bench, err = readBench(o.bench); err != nil {
			return err
		}
	}

	switch o.format.String() {
	case "json":
		err = rep.WriteJSON(io.Out)
	case "text":
		err = rep.WriteText(io.Out)
	default:
		err = rep.WriteMarkdown(io.Out)
	}
	if err != nil {
		return err
	}
	if fails := rep.Failures(conds); len(fails) > 0 {
		return &ExitError{Code: ExitFindings, Err: errors.New("--fail-on: " + strings.Join(fails, "; "))}
	}
	return nil
}

func (o *reportOptions) headKey(ctx context.Context, dir string) (*cachekey.Result, error) {
	if o.head == "" {
		return cachekey.ComputeDir(dir)
	}
	res, _, err := computeOther(ctx, dir, "--head", o.head)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// deps looks the head key up in the --to target. A target that cannot be
// reached is reported as not checked, with the reason, rather than failing
// the report. head is the head Dockerfile (nil for none): its go builds
// give the build cache settings and are compared with the build cache of
// the image found.
func (o *reportOptions) deps(ctx context.Context, key *cachekey.Result, head *analyzer.Build, stderr stdio.Writer) reports.Deps {
	if o.to == "" {
		return reports.Deps{Note: "no --to target was given"}
	}
	target, err := publish.ParseTarget(o.to, o.registry.options()...)
	if err != nil {
		return reports.Deps{Note: fmt.Sprintf("--to %q: %v", o.to, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var base publish.Artifact
	var baseDigest *v1.Hash
	if o.depsBase != "" {
		a, d, err := publish.ResolveBase(ctx, o.depsBase, o.registry.options()...)
		if err != nil {
			return reports.Deps{Target: target.String(), Note: fmt.Sprintf("resolving --deps-base %s: %v", o.depsBase, err)}
		}
		base, baseDigest = a, &d
	}
	why := ""
	if head == nil {
		why = "no Dockerfile analysed"
		if o.note != "" {
			why, _, _ = strings.Cut(o.note, ":")
		}
	}
	settings, err := o.buildCache.settingsFor(head, o.dockerfileName(), why, base, stderr)
	if err != nil {
		return reports.Deps{Target: target.String(), Note: fmt.Sprintf("--build-cache: %v", err)}
	}
	tag, err := warm.TagFor(key.Key, base, baseDigest, o.contents.String(), settings, o.buildCache.platforms)
	if err != nil {
		return reports.Deps{Target: target.String(), Note: fmt.Sprintf("--build-cache: %v", err)}
	}
	d := reports.Deps{Target: target.String()}
	var found *warm.Found
	if o.buildCache.main {
		// The newest image with the main module's packages, else the
		// deps image.
		if found, _, err = warm.Newest(ctx, target, tag); err != nil {
			d.Note = fmt.Sprintf("%s could not be checked: %v", target, err)
			return d
		}
		if found != nil {
			tag = found.Tag
		}
	}
	if found == nil {
		found, err = warm.Lookup(ctx, target, tag, key)
	}
	var nearErr *warm.NearestError
	switch {
	case errors.As(err, &nearErr):
		d.Checked, d.Note = true, err.Error()
		return d
	case err != nil:
		d.Note = fmt.Sprintf("%s could not be checked: %v", target, err)
		return d
	}
	if found.Match != warm.MatchExact && o.depsBase == "" {
		// The nightly warm may have used a --base this report was not
		// given: the key's image on any base is ready for the build.
		onBase, err := warm.OnAnyBase(ctx, target, tag)
		if err != nil {
			d.Note = fmt.Sprintf("%s could not be checked: %v", target, err)
			return d
		}
		if len(onBase) > 0 {
			e := onBase[0]
			found = warm.Exact(ctx, target, e)
			d.Base, d.OtherBases = baseOf(e), otherBases(onBase)
			tag = e.Tag
		}
	}
	d.Checked = true
	switch found.Match {
	case warm.MatchExact:
		d.Hit, d.Ref = true, found.Ref
		d.Hidden = hiddenModules(head, d.Ref)
	case warm.MatchNearest:
		d.Nearest = &reports.NearestImage{Ref: found.Ref, Shared: found.Shared, Total: found.Wanted}
	default:
		return d
	}
	// Only an image tagged with a build cache can hold one: read no more
	// for the others.
	if tag.BuildCache == "" {
		return d
	}
	bcs, err := found.BuildCaches()
	switch {
	case err != nil:
		d.Note = fmt.Sprintf("reading the build cache labels of the image: %v", err)
	case len(bcs) > 0:
		var predict func(*warm.ImageBuildCache, []string) *reports.PredictedCompile
		if o.head == "" && o.dir != "" {
			predict = func(bc *warm.ImageBuildCache, patterns []string) *reports.PredictedCompile {
				var opts []buildcache.Option
				if bc.Main != nil {
					opts = append(opts, buildcache.WithImageMain(bc.Main))
				}
				c, err := buildcache.PredictCompile(ctx, o.dir, bc.Settings, patterns, opts...)
				if err != nil {
					return &reports.PredictedCompile{Packages: []string{}, Note: err.Error()}
				}
				return &reports.PredictedCompile{Packages: c.Packages, Links: c.Links, Revision: c.Revision}
			}
		}
		d.BuildCache = compareBuildCache(bcs, head, o.dockerfileName(), predict)
	}
	return d
}

// baseOf returns the digest of the base image a deps image was warmed on,
// as its labels record it, else the digits its tag carries; "" for none.
func baseOf(e publish.Entry) string {
	if e.Tag.Base == "" {
		return ""
	}
	if img, err := e.Image(); err == nil {
		if md, err := depsimage.ReadMetadata(img); err == nil && md.BaseDigest != "" {
			return md.BaseDigest
		}
	}
	return "sha256:" + e.Tag.Base + "…"
}

// otherBases counts the bases other than the first entry's among entries.
func otherBases(entries []publish.Entry) int {
	seen := map[string]bool{entries[0].Tag.Base: true}
	for _, e := range entries[1:] {
		seen[e.Tag.Base] = true
	}
	return len(seen) - 1
}

// hiddenModules returns the positions of the RUN instructions of head (nil
// for none) whose cache mount hides the module cache of the deps image ref
// in a stage that starts from it: CC011 at error level.
func hiddenModules(head *analyzer.Build, ref string) []string {
	if head == nil {
		return nil
	}
	found, err := analyzer.Analyze(head, analyzer.WithDepsImage(ref))
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range found {
		if f.Rule == "CC011" && f.Severity == reports.Error {
			out = append(out, fmt.Sprintf("%s:%d", f.File, f.Line))
		}
	}
	return out
}

// compareBuildCache compares each go build of the head Dockerfile b with
// the build cache of the deps image: of its one image, or in a
// multi-platform deps image (bcs, one per platform) of the image for the
// build's GOOS/GOARCH, else the first, as CC012 does. The summary's
// Settings and Packages are the first's; Platforms lists them all for an
// index.
//
// When predict is not nil, it gives what each go build that matches the
// cache compiles FROM the image.
func compareBuildCache(bcs []*warm.ImageBuildCache, b *analyzer.Build, file string, predict func(*warm.ImageBuildCache, []string) *reports.PredictedCompile) *reports.BuildCache {
	out := &reports.BuildCache{Settings: bcs[0].Settings.String(), Packages: bcs[0].Packages, Builds: []reports.GoBuild{}}
	if m := bcs[0].Main; m != nil {
		out.MainModule = &reports.RefMainModule{Revision: m.Revision.Commit, RevisionTime: m.Revision.Time, Packages: m.Packages}
	}
	for _, bc := range bcs {
		if bc.Platform != "" {
			out.Platforms = append(out.Platforms, reports.PlatformBuildCache{Platform: bc.Platform, Settings: bc.Settings.String(), Packages: bc.Packages})
		}
	}
	if b == nil {
		return out
	}
	for _, gb := range b.GoBuilds() {
		bc := bcs[0]
		for _, c := range bcs {
			if c.Settings.GOOS == gb.Settings.GOOS && c.Settings.GOARCH == gb.Settings.GOARCH {
				bc = c
				break
			}
		}
		rb := reports.GoBuild{
			Position: fmt.Sprintf("%s:%d", file, gb.Instruction.Line),
			Command:  gb.Command,
			Settings: gb.Settings.String(),
			Platform: bc.Platform,
		}
		for _, diff := range gb.Settings.Differences(bc.Settings) {
			rb.Mismatches = append(rb.Mismatches, reports.SettingMismatch{Setting: diff.Setting, Build: diff.BuildWords(), Cache: diff.CacheWords()})
		}
		if len(rb.Mismatches) == 0 && predict != nil {
			rb.Compiles = predict(bc, gb.Packages)
		}
		out.Mismatch = out.Mismatch || len(rb.Mismatches) > 0
		out.Builds = append(out.Builds, rb)
	}
	return out
}

// dockerfileName is the Dockerfile's name relative to DIR, as findings
// name it.
func (o *reportOptions) dockerfileName() string {
	if o.file != "" {
		return filepath.ToSlash(filepath.Clean(o.file))
	}
	if o.found != "" {
		return o.found
	}
	return "Dockerfile"
}

// findDockerfile finds the head's Dockerfile in fsys when --file is not
// given, as warm --build-cache does (analyzer.FindGoDockerfile): the one
// that builds Go, else DIR/Dockerfile. It returns "" and the reason when
// there is none to analyse.
func findDockerfile(fsys iofs.FS, dir string) (file, note string, err error) {
	_, file, err = analyzer.FindGoDockerfile(fsys)
	var fe *analyzer.FindError
	switch {
	case err == nil:
		return file, "", nil
	case !errors.As(err, &fe):
		return "", "", err
	case len(fe.GoBuilds) > 1:
		return "", fmt.Sprintf("%d Dockerfiles build Go (%s): give the one to analyse with --file", len(fe.GoBuilds), strings.Join(fe.GoBuilds, ", ")), nil
	case slices.Contains(fe.Found, "Dockerfile"):
		return "Dockerfile", "", nil // as docker build takes it
	case len(fe.Found) == 0:
		return "", fmt.Sprintf("no Dockerfile in %s (looked in %s): give its path with --file", dir, analyzer.SearchedDirs()), nil
	default:
		return "", fmt.Sprintf("no go build or go install in the Dockerfiles found (%s): give the one to analyse with --file", strings.Join(fe.Found, ", ")), nil
	}
}

// dockerfile compares the Dockerfile's findings between base and head,
// both analyzed with opts, and predicts the layer cache; it returns the
// head's Dockerfile too. Without
// --file the Dockerfile is the head's found by findDockerfile; when there
// is none it returns nils and a note saying why.
func (o *reportOptions) dockerfile(ctx context.Context, dir string, opts ...analyzer.Option) (*reports.Dockerfile, *analyzer.Build, string, error) {
	var sides [2]predictSide
	for i, side := range []struct{ flag, spec string }{{"--base", o.base}, {"--head", o.head}} {
		s, err := openSide(ctx, side.flag, side.spec, dir)
		if err != nil {
			return nil, nil, "", err
		}
		sides[i] = s
	}
	if o.file == "" {
		f, note, err := findDockerfile(sides[1].fsys, dir)
		if err != nil {
			return nil, nil, "", fmt.Errorf("--head %s: %w", sides[1].name, err)
		}
		if f == "" {
			o.note = note
			return nil, nil, note, nil
		}
		o.found = f
	}
	file := o.dockerfileName()
	var builds [2]*analyzer.Build
	var names [2]string
	var findings [2][]*reports.Finding
	for i, flag := range []string{"--base", "--head"} {
		s := sides[i]
		if _, err := iofs.Stat(s.fsys, file); err != nil {
			continue // the base has none: everything in head is new
		}
		b, err := analyzer.Load(s.fsys, analyzer.WithDockerfile(nil, file), analyzer.WithDisplayName(file))
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s %s: %w", flag, s.name, err)
		}
		found, err := analyzer.Analyze(b, opts...)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s %s: %w", flag, s.name, err)
		}
		builds[i], names[i] = b, s.name
		for j := range found {
			findings[i] = append(findings[i], &found[j])
		}
	}
	d := &reports.Dockerfile{File: file}
	d.Introduced, d.Fixed, d.Remaining = compareFindings(builds, findings)
	if builds[0] == nil {
		return d, builds[1], "", nil
	}
	p, err := analyzer.Predict(builds[0], builds[1])
	if err != nil {
		return nil, nil, "", err
	}
	d.Prediction = predictionDoc(names, p)
	return d, builds[1], "", nil
}

// compareFindings splits the findings of base and head into those head
// introduced, those it fixed and the number in both. A finding is the same
// on both sides when its rule and the text of its instruction are, wherever
// the instruction moved.
func compareFindings(builds [2]*analyzer.Build, findings [2][]*reports.Finding) (introduced, fixed []*reports.Finding, remaining int) {
	id := func(b *analyzer.Build, f *reports.Finding) string {
		text := ""
		if b != nil && f.Line >= 1 && f.Line <= len(b.Lines) {
			text = strings.Join(strings.Fields(b.Lines[f.Line-1]), " ")
		}
		return f.Rule + "\x00" + text
	}
	count := func(i int) map[string]int {
		m := map[string]int{}
		for _, f := range findings[i] {
			m[id(builds[i], f)]++
		}
		return m
	}
	inBase, inHead := count(0), count(1)
	for _, f := range findings[1] {
		k := id(builds[1], f)
		if inBase[k] > 0 {
			inBase[k]--
			remaining++
			continue
		}
		introduced = append(introduced, f)
	}
	for _, f := range findings[0] {
		k := id(builds[0], f)
		if inHead[k] > 0 {
			inHead[k]--
			continue
		}
		fixed = append(fixed, f)
	}
	return introduced, fixed, remaining
}

type namedLog struct{ name, file string }

func parseBuildLogs(specs []string) ([]namedLog, error) {
	var logs []namedLog
	for _, s := range specs {
		name, file, ok := strings.Cut(s, "=")
		if !ok {
			name, file = filepath.Base(s), s
		}
		if name == "" || file == "" {
			return nil, usageErrorf("report: --build-log %q: want [NAME=]FILE", s)
		}
		logs = append(logs, namedLog{name, file})
	}
	return logs, nil
}

// readTiming reads a build log in whichever format it is.
func readTiming(name, file string) (*reports.Timing, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading build log: %w", err)
	}
	format := buildlog.Detect(data)
	if format == buildlog.Unknown {
		return nil, fmt.Errorf("build log %s: not a BuildKit (--progress=rawjson or plain), buildah, podman or classic docker log", file)
	}
	steps, err := buildlog.Read(bytes.NewReader(data), format)
	if err != nil {
		return nil, fmt.Errorf("build log %s: %w", file, err)
	}
	t := &reports.Timing{Name: name, Builder: format.Builder()}
	var first, last time.Time
	var sum time.Duration
	for _, s := range steps {
		t.Steps = append(t.Steps, reports.Step{Name: s.Instruction, Stage: s.Stage, Cached: s.Cached, Seconds: s.Duration.Seconds(), Error: s.Error})
		sum += s.Duration
		if !s.Started.IsZero() && (first.IsZero() || s.Started.Before(first)) {
			first = s.Started
		}
		if s.Completed.After(last) {
			last = s.Completed
		}
	}
	t.Seconds, t.Timed = sum.Seconds(), sum > 0
	if !first.IsZero() && last.After(first) {
		t.Seconds, t.Timed = last.Sub(first).Seconds(), true
	}
	return t, nil
}

// readBench reads the JSON a bench run wrote (cachecheck bench --format json).
func readBench(file string) (*reports.Bench, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading bench results: %w", err)
	}
	defer f.Close()
	r, err := reports.ReadBench(f)
	if err != nil {
		return nil, fmt.Errorf("bench results %s: %w", file, err)
	}
	return r.Summary(), nil
}
