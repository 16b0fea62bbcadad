package buildcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/internal/testimage"
	"github.com/cachecheck/cachecheck/reports"
)

// fixtureService is the Go service the BuildKit tests build: 39 modules in
// its build list, its main package ./cmd/api.
const fixtureService = "../../analyzer/testdata/fixtures/service"

// consumerDockerfile builds the fixture service FROM a deps image (or a
// bare Go image) the way a user's Dockerfile would, with the build settings
// of the fixture's own Dockerfile (CGO_ENABLED=0 -trimpath) and go build -v,
// which names every package it compiles. No cache mount hides the image's
// GOCACHE.
const consumerDockerfile = `ARG FROM
FROM ${FROM} AS build
ARG GOPROXY=off
ARG GOSUMDB=off
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api
`

// goBuildStep is the text of consumerDockerfile's go build, as BuildKit
// names the step.
const goBuildStep = "go build -v -trimpath"

// buildKitEnv is what the BuildKit tests need from .ci/setup.d.
type buildKitEnv struct {
	registry, base string
	bk             *builder.BuildKit
}

func newBuildKitEnv(t testing.TB) *buildKitEnv {
	t.Helper()
	e := &buildKitEnv{
		registry: testenv.Getenv(t, "CACHECHECK_REGISTRY", "a registry (.ci/setup.d/10-registry.sh)"),
		base:     testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)"),
		bk:       &builder.BuildKit{Addr: testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd (.ci/setup.d/30-buildkit.sh)")},
	}
	e.bk.Buildctl = filepath.Join(testenv.Getenv(t, "CACHECHECK_BUILDKIT_BIN", "buildctl (.ci/setup.d/30-buildkit.sh)"), "buildctl")
	return e
}

// warmService copies the fixture service into a new directory and warms
// it onto the base image, returning the directory and the deps images by
// digest: module cache only, and module cache plus build cache.
func (e *buildKitEnv) warmService(t testing.TB) (dir, modOnly, withCache string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, os.DirFS(fixtureService)); err != nil {
		t.Fatal(err)
	}
	repo := e.registry + "/cachecheck/buildcache-service"
	warm := func(extra ...string) string {
		args := append([]string{"warm", "--quiet", "--base", e.base, "--to", repo}, extra...)
		args = append(args, dir)
		var out, errb bytes.Buffer
		start := time.Now()
		if err := cli.Run(context.Background(), args, nil, &out, &errb); err != nil {
			t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		ref := strings.TrimSpace(out.String())
		if !strings.Contains(ref, "@sha256:") {
			t.Fatalf("cachecheck %s printed %q, not an image reference by digest", strings.Join(args, " "), ref)
		}
		t.Logf("cachecheck %s: %s (%.1fs)", strings.Join(args[:len(args)-1], " "), ref, time.Since(start).Seconds())
		return ref
	}
	// The build settings come from the fixture's Dockerfile, as a user
	// would warm it.
	withCache = warm("--build-cache")
	modOnly = warm()
	return dir, modOnly, withCache
}

// reportCompiles runs report --build-cache on dir, the fixture service
// warmService warmed, as a pull request's CI would (a git checkout: one
// is made when dir is none), and returns what it predicts the
// Dockerfile's go build compiles FROM the deps image.
func (e *buildKitEnv) reportCompiles(t testing.TB, dir string) *reports.PredictedCompile {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		gitCommit(t, dir, "base", "init", "-q", "-b", "main")
	}
	return e.report(t, dir, e.registry+"/cachecheck/buildcache-service", "--build-cache")
}

// report runs report with buildCache (--build-cache or
// --build-cache=all) on dir, a git checkout, against repo, and returns
// its prediction for the one go build.
func (e *buildKitEnv) report(t testing.TB, dir, repo, buildCache string) *reports.PredictedCompile {
	t.Helper()
	args := []string{"report", "--base", "HEAD", "--to", repo, "--deps-base", e.base, buildCache, "--format", "json", dir}
	var out, errb bytes.Buffer
	if err := cli.Run(context.Background(), args, nil, &out, &errb); err != nil {
		t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	rep, err := reports.ReadReport(&out)
	if err != nil {
		t.Fatal(err)
	}
	bc := rep.Deps.BuildCache
	if !rep.Deps.Hit || bc == nil || len(bc.Builds) != 1 || bc.Builds[0].Compiles == nil || bc.Builds[0].Compiles.Note != "" {
		var js bytes.Buffer
		rep.WriteJSON(&js)
		t.Fatalf("report: want a hit with a build cache and a prediction for the one go build; got\n%s", js.String())
	}
	return bc.Builds[0].Compiles
}

// gitCommit commits everything in dir with message msg, after running
// git with each of the argument lists before (git init, say).
func gitCommit(t testing.TB, dir, msg string, before ...string) string {
	t.Helper()
	steps := [][]string{}
	if len(before) > 0 {
		steps = append(steps, before)
	}
	steps = append(steps, []string{"add", "-A"}, []string{"-c", "user.email=ci@example.com", "-c", "user.name=CI", "commit", "-q", "-m", msg})
	for _, args := range steps {
		if b, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// buildRun is one BuildKit build of consumerDockerfile.
type buildRun struct {
	// Compiled are the lines go build -v printed: the packages it
	// compiled.
	Compiled []string
	// GoBuild is the time BuildKit reports for the go build step.
	GoBuild time.Duration
	// Download is the time of the go mod download step.
	Download time.Duration
	// Total is the wall-clock time of the whole build.
	Total time.Duration
}

// build runs consumerDockerfile FROM from over the context dir without the
// layer cache, so that every step runs and only the caches in the image
// count.
func (e *buildKitEnv) build(t testing.TB, dir, from string, args map[string]string) *buildRun {
	t.Helper()
	return e.buildFile(t, dir, consumerDockerfile, goBuildStep, from, args)
}

// buildFile is build with the Dockerfile dockerfile, whose go build step
// BuildKit names with goBuild in it.
func (e *buildKitEnv) buildFile(t testing.TB, dir, dockerfile, goBuild, from string, args map[string]string) *buildRun {
	t.Helper()
	dfDir := t.TempDir()
	df := filepath.Join(dfDir, "Dockerfile")
	if err := os.WriteFile(df, []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	buildArgs := map[string]string{"FROM": from}
	for k, v := range args {
		buildArgs[k] = v
	}
	res, err := e.bk.Build(context.Background(), builder.BuildOptions{Context: dir, Dockerfile: df, BuildArgs: buildArgs, NoCache: true})
	if err != nil {
		t.Fatalf("BuildKit build FROM %s: %v", from, err)
	}
	r := &buildRun{Total: res.Duration}
	found := false
	for _, s := range res.Steps {
		switch {
		case strings.Contains(s.Instruction, goBuild):
			r.GoBuild, found = s.Duration, true
		case strings.Contains(s.Instruction, "go mod download"):
			r.Download = s.Duration
		}
	}
	if !found {
		t.Fatalf("the build log has no step %q; steps: %v", goBuild, res.Steps)
	}
	compiled, ok := buildlog.CompiledPackages(res.Output, res.Format)
	if !ok {
		t.Fatalf("the build log has no output of the step %q", goBuild)
	}
	r.Compiled = compiled
	return r
}

// TestBuildKitCompilesOnlyOwnPackages is the proof of the build cache
// layer with a real builder: the fixture service (real dependencies from
// the module proxy) warmed with --build-cache onto the test Go image, then
// built by BuildKit FROM that deps image with go build -v, offline and
// without the layer cache: go build compiles the service's own two
// packages and nothing else. The same build FROM the module-cache-only
// deps image compiles every dependency, which shows the log is read right
// and the assertion can fail.
func TestBuildKitCompilesOnlyOwnPackages(t *testing.T) {
	e := newBuildKitEnv(t)
	dir, modOnly, withCache := e.warmService(t)
	deps := modloadtest.Deps(t, dir, "./cmd/api")
	if len(deps) < 100 {
		t.Fatalf("go list -deps ./cmd/api gives %d dependency packages; the fixture should have far more", len(deps))
	}
	const own = "example.com/service/"

	cached := e.build(t, dir, withCache, nil)
	t.Logf("FROM the deps image with build cache: go build %.1fs, compiled %v", cached.GoBuild.Seconds(), cached.Compiled)
	if !slices.Contains(cached.Compiled, own+"cmd/api") {
		t.Errorf("go build -v FROM the deps image with build cache did not print %scmd/api; its output: %q", own, cached.Compiled)
	}
	for _, p := range cached.Compiled {
		if !strings.HasPrefix(p, own) {
			t.Errorf("go build FROM the deps image with build cache printed %q: a dependency compiled (or other output)", p)
		}
	}
	// report --build-cache predicts that list, exactly.
	predicted := e.reportCompiles(t, dir)
	t.Logf("report predicts the go build FROM the image compiles %v and links %d", predicted.Packages, predicted.Links)
	if want := slices.Sorted(slices.Values(cached.Compiled)); !slices.Equal(predicted.Packages, want) || predicted.Links != 1 {
		t.Errorf("report predicts the go build compiles %v and links %d; go build -v FROM the image compiled %v and links 1", predicted.Packages, predicted.Links, want)
	}

	plain := e.build(t, dir, modOnly, nil)
	t.Logf("FROM the module-cache-only deps image: go build %.1fs, %d packages compiled", plain.GoBuild.Seconds(), len(plain.Compiled))
	var missing []string
	for _, p := range deps {
		if !slices.Contains(plain.Compiled, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("go build FROM the module-cache-only deps image did not compile %d of the %d dependency packages (the log reader misses them?): %v", len(missing), len(deps), missing)
	}
}

var rounds = flag.Int("buildkit-rounds", 3, "BenchmarkBuildKitGoBuild: builds FROM each image, of which the median is reported")

// BenchmarkBuildKitGoBuild measures what the caches in the image save a
// real BuildKit build of the fixture service after a one-file code
// change, without the layer cache (so every step runs): the time BuildKit
// reports for the go build step FROM (a) the base Go image, no deps image
// (the step before it downloads the modules through GOPROXY), (b) the
// module-cache-only deps image and (c) the deps image with build cache.
// Each round changes one file and builds FROM the three in turn; the
// medians over -buildkit-rounds rounds are reported, with the load
// average, since the machine may be shared. Run it once:
//
//	go test -run '^$' -bench BuildKitGoBuild -benchtime 1x ./internal/buildcache
func BenchmarkBuildKitGoBuild(b *testing.B) {
	e := newBuildKitEnv(b)
	dir, modOnly, withCache := e.warmService(b)
	proxyArgs := map[string]string{"GOPROXY": testenv.GoEnv(b, "GOPROXY"), "GOSUMDB": testenv.GoEnv(b, "GOSUMDB")}
	images := []struct {
		name, from string
		args       map[string]string
	}{
		{"base", e.base, proxyArgs},
		{"modcache", modOnly, nil},
		{"buildcache", withCache, nil},
	}
	main := filepath.Join(dir, "internal", "greet", "greet.go")
	for i := 0; i < b.N; i++ {
		times := make([][]float64, len(images))
		for r := 0; r < *rounds; r++ {
			progress(b, "round %d: load %s", r+1, loadAverage())
			for j, im := range images {
				appendLine(b, main, fmt.Sprintf("// change %d %s\n", r, im.name))
				run := e.build(b, dir, im.from, im.args)
				times[j] = append(times[j], run.GoBuild.Seconds())
				progress(b, "round %d FROM %s: go build step %.1fs (go mod download step %.1fs, %d packages compiled, build %.1fs)",
					r+1, im.name, run.GoBuild.Seconds(), run.Download.Seconds(), len(run.Compiled), run.Total.Seconds())
			}
		}
		progress(b, "after: load %s", loadAverage())
		med := make([]float64, len(images))
		for j, im := range images {
			med[j] = median(times[j])
			b.ReportMetric(med[j], "s-goBuild-"+im.name)
		}
		progress(b, "go build step after a one-file change, median of %d: base image %.1fs, module cache only %.1fs, module + build cache %.1fs: %.1fx faster than module cache only, %.1fx than no deps image",
			*rounds, med[0], med[1], med[2], med[1]/med[2], med[0]/med[2])
	}
}

// progress logs a line and prints it at once: a run of the benchmark
// takes many minutes, and b.Logf shows its lines only at the end.
func progress(b *testing.B, format string, args ...any) {
	b.Helper()
	line := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().UTC().Format("15:04:05"), line)
	b.Log(line)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func appendLine(t testing.TB, file, line string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// loadAverage returns the 1, 5 and 15 minute load averages and the
// number of CPUs.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return fmt.Sprintf("%s %s %s (%d CPUs)", f[0], f[1], f[2], runtime.NumCPU())
}

// TestBuildKitBaseGoRelease checks that the build cache is compiled with
// the base image's own Go, not the go command here: a base image of
// another Go release (the official toolchain of that release for this
// architecture, fetched through the module proxy as the
// golang.org/toolchain module, as in the golang images at /usr/local/go
// with GOLANG_VERSION set), warmed with --build-cache, and a BuildKit
// build FROM the deps image compiles only the service's own packages.
// With the go command here, warm refused (the releases differ).
func TestBuildKitBaseGoRelease(t *testing.T) {
	e := newBuildKitEnv(t)
	release := "go1.27.3"
	if runtime.Version() == release {
		release = "go1.26.8"
	}
	goroot := testenv.Toolchain(t, release)
	ctx := context.Background()
	pushCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	baseRef, err := testimage.Push(pushCtx, e.registry+"/cachecheck/golang:"+release, testimage.WithGoRoot(goroot))
	if err != nil {
		t.Fatalf("pushing a test base image with %s: %v", release, err)
	}
	base := baseRef.String()

	dir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, os.DirFS(fixtureService)); err != nil {
		t.Fatal(err)
	}
	// With -trimpath (the fixture's Dockerfile), and without, where the
	// standard library's directory enters every cache key: the base's Go
	// must be seen at /usr/local/go, not where it is unpacked.
	for _, c := range []struct {
		name, flags, dockerfile, goBuild string
	}{
		// The settings are given: the fixture's Dockerfile names
		// golang:1.26, which warm holds against a base of another release.
		{"trimpath", "CGO_ENABLED=0 -trimpath", consumerDockerfile, goBuildStep},
		{"no trimpath", "CGO_ENABLED=0", strings.Replace(consumerDockerfile, "go build -v -trimpath", "go build -v", 1), "go build -v -o"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"warm", "--build-cache", "--format", "json", "--base", base, "--to", e.registry + "/cachecheck/buildcache-release"}
			if c.flags != "" {
				args = append(args, "--build-flags", c.flags)
			}
			var out, errb bytes.Buffer
			if err := cli.Run(ctx, append(args, dir), nil, &out, &errb); err != nil {
				t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
			}
			var w struct {
				Ref        string
				BuildCache struct{ Settings, Toolchain string } `json:"build_cache"`
			}
			if err := json.Unmarshal(out.Bytes(), &w); err != nil {
				t.Fatal(err)
			}
			if want := "the base image's /usr/local/go (" + release + ")"; w.BuildCache.Toolchain != want || !strings.HasPrefix(w.BuildCache.Settings, release+" ") {
				t.Errorf("warm: build cache compiled with %q for %q; want %q, %s", w.BuildCache.Toolchain, w.BuildCache.Settings, want, release)
			}
			cached := e.buildFile(t, dir, c.dockerfile, c.goBuild, w.Ref, nil)
			t.Logf("FROM the deps image on %s: go build %.1fs, compiled %v", release, cached.GoBuild.Seconds(), cached.Compiled)
			const own = "example.com/service/"
			if !slices.Contains(cached.Compiled, own+"cmd/api") {
				t.Errorf("go build -v FROM the deps image on %s did not print %scmd/api; its output: %q", release, own, cached.Compiled)
			}
			for _, p := range cached.Compiled {
				if !strings.HasPrefix(p, own) {
					t.Errorf("go build FROM the deps image on %s compiled %q: the build cache compiled by the base's Go misses it", release, p)
				}
			}
		})
	}
}
