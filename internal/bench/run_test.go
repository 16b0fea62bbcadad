package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/builder"
)

// recordingBuilder stands in for a container builder in the tests of the
// scenario logic: it builds nothing and records the Dockerfile of every
// build.
type recordingBuilder struct {
	dockerfiles []string
}

func (b *recordingBuilder) Name() string { return "recording" }

func (b *recordingBuilder) Build(ctx context.Context, o builder.BuildOptions) (*builder.Result, error) {
	data, err := os.ReadFile(o.Dockerfile)
	if err != nil {
		return nil, err
	}
	b.dockerfiles = append(b.dockerfiles, string(data))
	return &builder.Result{Duration: time.Second}, nil
}

// recordingDeps hands out deps image names and records what was asked.
type recordingDeps struct {
	warms   []Warm
	dirs    []string
	refuse  error // returned for a build cache, wrapped in ErrNoBuildCache
	nearest string
}

func (d *recordingDeps) Ensure(ctx context.Context, dir, base string, w Warm) (string, error) {
	d.warms, d.dirs = append(d.warms, w), append(d.dirs, dir)
	if w.BuildCache {
		if d.refuse != nil {
			return "", fmt.Errorf("%w: %w", ErrNoBuildCache, d.refuse)
		}
		return "deps:bc", nil
	}
	return "deps:plain", nil
}

func (d *recordingDeps) Nearest(ctx context.Context, dir, base string) (string, error) {
	return d.nearest, nil
}

func (d *recordingDeps) Unpack(ctx context.Context, ref, gomodcache, gocache string) error {
	return errors.New("not used")
}

const serviceDockerfile = `ARG BASE=golang:1.26
FROM ${BASE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api
FROM scratch
COPY --from=build /out/api /api
`

func writeService(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"Dockerfile":      serviceDockerfile,
		"go.mod":          "module example.com/service\n\ngo 1.24\n",
		"go.sum":          "",
		"cmd/api/main.go": "package main\n\nfunc main() {}\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func scenarioNames(r *Result) []string {
	var names []string
	for _, s := range r.Scenarios {
		names = append(names, s.Name)
	}
	return names
}

func TestRunBuildCache(t *testing.T) {
	dir := writeService(t)
	b, deps := &recordingBuilder{}, &recordingDeps{}
	res, err := Run(context.Background(), b, dir, WithRuns(1), WithDepsImages(deps))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scenarioNames(res), []string{Cold, Prewarmed, BuildCache, CodeChange}; !slices.Equal(got, want) {
		t.Fatalf("scenarios %v, want %v", got, want)
	}
	// The build cache is warmed for the scratch copy's Dockerfile.
	if len(deps.warms) != 2 || deps.warms[0].BuildCache || !deps.warms[1].BuildCache {
		t.Fatalf("Ensure calls %+v, want a plain deps image, then one with a build cache", deps.warms)
	}
	if w := deps.warms[1]; w.Dockerfile != filepath.Join(deps.dirs[1], "Dockerfile") || strings.HasPrefix(w.Dockerfile, dir) {
		t.Errorf("build cache warmed for the Dockerfile %q, want the scratch copy's (%s)", w.Dockerfile, filepath.Join(deps.dirs[1], "Dockerfile"))
	}
	bc := res.Scenario(BuildCache)
	if bc.Image != "deps:bc" || bc.Skipped != "" || len(bc.Runs) != 1 || !strings.Contains(bc.Note, "Dockerfile:7 (/root/.cache/go-build)") {
		t.Errorf("buildcache scenario %+v", bc)
	}
	// Builds: cold, prewarmed, buildcache, code change (filling + 1).
	if len(b.dockerfiles) != 5 {
		t.Fatalf("%d builds, want 5", len(b.dockerfiles))
	}
	pre, withBC := b.dockerfiles[1], b.dockerfiles[2]
	if !strings.Contains(pre, "FROM deps:plain AS build") || !strings.Contains(pre, "--mount=type=cache,target=/root/.cache/go-build,id=") {
		t.Errorf("pre-warmed Dockerfile:\n%s", pre)
	}
	if !strings.Contains(withBC, "FROM deps:bc AS build") || strings.Contains(withBC, "/root/.cache/go-build") || !strings.Contains(withBC, "go build -v -trimpath") {
		t.Errorf("buildcache Dockerfile, want FROM deps:bc and no cache mount on GOCACHE:\n%s", withBC)
	}
	if res.BuildCacheSpeedup != 1 {
		t.Errorf("build cache speedup %v, want 1 (every build 1s)", res.BuildCacheSpeedup)
	}

	// With --file, the build cache is warmed for that Dockerfile.
	df := filepath.Join(t.TempDir(), "Dockerfile.prod")
	os.WriteFile(df, []byte(serviceDockerfile), 0o644)
	deps = &recordingDeps{}
	if _, err := Run(context.Background(), &recordingBuilder{}, dir, WithRuns(1), WithDepsImages(deps), WithDockerfile(df)); err != nil {
		t.Fatal(err)
	}
	if len(deps.warms) != 2 || deps.warms[1].Dockerfile != df {
		t.Errorf("with WithDockerfile: Ensure calls %+v, want the build cache warmed for %s", deps.warms, df)
	}
}

func TestRunBuildCacheRefused(t *testing.T) {
	dir := writeService(t)
	b := &recordingBuilder{}
	deps := &recordingDeps{refuse: errors.New("the build (Dockerfile:7) names go1.25 but the base image has go1.26.8")}
	res, err := Run(context.Background(), b, dir, WithRuns(1), WithDepsImages(deps))
	if err != nil {
		t.Fatalf("Run with the build cache refused: %v, want the scenario skipped", err)
	}
	if got, want := scenarioNames(res), []string{Cold, Prewarmed, BuildCache, CodeChange}; !slices.Equal(got, want) {
		t.Fatalf("scenarios %v, want %v", got, want)
	}
	bc := res.Scenario(BuildCache)
	if len(bc.Runs) != 0 || !strings.Contains(bc.Skipped, "names go1.25 but the base image has go1.26.8") || !strings.HasPrefix(bc.Skipped, ErrNoBuildCache.Error()) {
		t.Errorf("buildcache scenario %+v, want skipped with the reason", bc)
	}
	if res.BuildCacheSpeedup != 0 || res.Speedup != 1 {
		t.Errorf("speedups %v, %v; want 1 and 0", res.Speedup, res.BuildCacheSpeedup)
	}
	if len(b.dockerfiles) != 4 {
		t.Errorf("%d builds, want 4 (none for the skipped scenario)", len(b.dockerfiles))
	}

	// Any other error fails the bench.
	deps = &recordingDeps{}
	failing := &failingDeps{recordingDeps: deps}
	if _, err := Run(context.Background(), &recordingBuilder{}, dir, WithRuns(1), WithDepsImages(failing)); err == nil || !strings.Contains(err.Error(), "registry down") {
		t.Errorf("Run with a failing warm: %v, want the error", err)
	}
}

// failingDeps fails to warm a build cache for a reason that is not a
// refusal.
type failingDeps struct{ *recordingDeps }

func (d *failingDeps) Ensure(ctx context.Context, dir, base string, w Warm) (string, error) {
	if w.BuildCache {
		return "", errors.New("registry down")
	}
	return d.recordingDeps.Ensure(ctx, dir, base, w)
}

func TestRunNoBuildCache(t *testing.T) {
	dir := writeService(t)
	deps := &recordingDeps{}
	res, err := Run(context.Background(), &recordingBuilder{}, dir, WithRuns(1), WithDepsImages(deps), WithBuildCache(false))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scenarioNames(res), []string{Cold, Prewarmed, CodeChange}; !slices.Equal(got, want) {
		t.Errorf("scenarios %v, want %v", got, want)
	}
	for _, w := range deps.warms {
		if w.BuildCache {
			t.Errorf("WithBuildCache(false): Ensure asked for a build cache: %+v", w)
		}
	}
}
