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

	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/internal/builder"
)

// recordingBuilder stands in for a container builder in the tests of the
// scenario logic: it builds nothing and records the Dockerfile of every
// build.
type recordingBuilder struct {
	dockerfiles []string
	// output, when not nil, gives the output (in buildah's format) and
	// the error of the build of a Dockerfile.
	output func(dockerfile string) (string, error)
}

func (b *recordingBuilder) Name() string { return "recording" }

func (b *recordingBuilder) Build(ctx context.Context, o builder.BuildOptions) (*builder.Result, error) {
	data, err := os.ReadFile(o.Dockerfile)
	if err != nil {
		return nil, err
	}
	b.dockerfiles = append(b.dockerfiles, string(data))
	if b.output == nil {
		return &builder.Result{Duration: time.Second}, nil
	}
	out, err := b.output(string(data))
	res := &builder.Result{Duration: time.Second, Output: []byte(out), Format: buildlog.Buildah}
	res.Steps, _ = buildlog.Read(strings.NewReader(out), buildlog.Buildah)
	return res, err
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
	if bc.Image != "deps:bc" || bc.Skipped != "" || len(bc.Runs) != 1 || !slices.Equal(bc.DroppedMounts, []string{"Dockerfile:7 (/root/.cache/go-build): hides the deps image's build cache (GOCACHE /root/.cache/go-build)"}) {
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

// buildahLog is buildah's output for a build of serviceDockerfile whose
// go mod download printed download and go build printed build.
func buildahLog(download, build string) string {
	return "[1/2] STEP 1/6: FROM golang AS build\n[1/2] STEP 2/6: WORKDIR /src\n--> a1\n[1/2] STEP 3/6: COPY go.mod go.sum ./\n--> a2\n" +
		"[1/2] STEP 4/6: RUN go mod download -x\n" + download + "--> a3\n[1/2] STEP 5/6: COPY . .\n--> a4\n" +
		"[1/2] STEP 6/6: RUN CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api\n" + build + "example.com/service/cmd/api\n--> a5\n" +
		"[2/2] STEP 1/2: FROM scratch\n[2/2] STEP 2/2: COPY --from=build /out/api /api\nCOMMIT\n--> a6\n"
}

func zipGet(m string) string {
	p, v, _ := strings.Cut(m, "@")
	return "# get https://proxy.example.com/" + p + "/@v/" + v + ".zip\n# get https://proxy.example.com/" + p + "/@v/" + v + ".zip: 200 OK (0.1s)\n"
}

// TestRunDownloads: the cold run's modules are counted from the log; a
// pre-warmed run whose log shows a download makes its scenario invalid,
// and it gives no speedup; a pre-warmed run whose go command GOPROXY=off
// stopped makes it invalid with the go command's error, and the bench
// goes on.
func TestRunDownloads(t *testing.T) {
	dir := writeService(t)
	const uuid, sync = "github.com/google/uuid@v1.6.0", "golang.org/x/sync@v0.14.0"
	b := &recordingBuilder{output: func(df string) (string, error) {
		switch {
		case strings.Contains(df, "FROM deps:plain"):
			// Downloaded, though GOPROXY=off: a GOPROXY set later wins.
			return buildahLog(zipGet(uuid), ""), nil
		case strings.Contains(df, "FROM deps:bc"):
			return buildahLog("go: github.com/google/uuid@v1.6.0: module lookup disabled by GOPROXY=off\nError: building at STEP \"RUN go mod download -x\": exit status 1\n", ""),
				errors.New("buildah bud: exit status 1")
		}
		return buildahLog(zipGet(uuid)+zipGet(sync), ""), nil
	}}
	res, err := Run(context.Background(), b, dir, WithRuns(2), WithDepsImages(&recordingDeps{}))
	if err != nil {
		t.Fatalf("Run: %v, want the failing scenario invalid and the bench to go on", err)
	}
	if got, want := scenarioNames(res), []string{Cold, Prewarmed, BuildCache, CodeChange}; !slices.Equal(got, want) {
		t.Fatalf("scenarios %v, want %v", got, want)
	}
	cold, pre, bc := res.Scenario(Cold), res.Scenario(Prewarmed), res.Scenario(BuildCache)
	for _, r := range cold.Runs {
		if r.ModulesDownloaded == nil || *r.ModulesDownloaded != 2 || len(r.Downloaded) != 0 {
			t.Errorf("cold run: modules_downloaded %v, downloaded %q; want 2 and no list", r.ModulesDownloaded, r.Downloaded)
		}
	}
	if cold.Invalid != "" {
		t.Errorf("cold scenario invalid: %s", cold.Invalid)
	}
	if len(pre.Runs) != 2 || pre.Runs[0].ModulesDownloaded == nil || *pre.Runs[0].ModulesDownloaded != 1 || !slices.Equal(pre.Runs[0].Downloaded, []string{uuid}) {
		t.Errorf("prewarmed runs %+v, want 2, each downloading %s", pre.Runs, uuid)
	}
	if want := "run 1 downloaded 1 module the deps image should have held (" + uuid + ")"; pre.Invalid != want {
		t.Errorf("prewarmed invalid %q, want %q", pre.Invalid, want)
	}
	if len(bc.Runs) != 0 || !strings.Contains(bc.Invalid, `run 1 failed: it needed to download what the deps image lacks: "go: github.com/google/uuid@v1.6.0: module lookup disabled by GOPROXY=off"`) {
		t.Errorf("buildcache scenario: %d runs, invalid %q; want none and the go command's error", len(bc.Runs), bc.Invalid)
	}
	if res.Speedup != 0 || res.BuildCacheSpeedup != 0 {
		t.Errorf("speedups %v, %v; want none from invalid scenarios", res.Speedup, res.BuildCacheSpeedup)
	}
	// cold 2, prewarmed 2, buildcache 1 (failed), code change 1+2.
	if len(b.dockerfiles) != 8 {
		t.Errorf("%d builds, want 8", len(b.dockerfiles))
	}

	// A failure without GOPROXY=off in the log fails the bench, as
	// before; so does one in the cold scenario.
	failing := func(match, log string) func(string) (string, error) {
		return func(df string) (string, error) {
			if strings.Contains(df, match) {
				return log, errors.New("buildah bud: exit status 1")
			}
			return buildahLog("", ""), nil
		}
	}
	for name, f := range map[string]func(string) (string, error){
		"prewarmed, another error": failing("FROM deps:plain", buildahLog("", "cmd/api/main.go:3:1: syntax error\n")),
		"cold, GOPROXY=off":        failing("FROM ${BASE}", buildahLog("go: github.com/google/uuid@v1.6.0: module lookup disabled by GOPROXY=off\n", "")),
	} {
		if _, err := Run(context.Background(), &recordingBuilder{output: f}, dir, WithRuns(1), WithDepsImages(&recordingDeps{})); err == nil {
			t.Errorf("%s: Run succeeded, want the build's error", name)
		}
	}
}

// TestRunModuleCacheMount: a cache mount on the module cache is taken off
// the pre-warmed builds and named, kept in the cold one; the pre-warmed
// Dockerfile sets GOPROXY=off after the FROM of the Go builder stage, and
// every go mod download runs with -x.
func TestRunModuleCacheMount(t *testing.T) {
	dir := writeService(t)
	df := strings.Replace(serviceDockerfile, "RUN go mod download", "RUN --mount=type=cache,target=/go/pkg/mod go mod download", 1)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &recordingBuilder{}
	res, err := Run(context.Background(), b, dir, WithRuns(1), WithDepsImages(&recordingDeps{}), WithBuildCache(false))
	if err != nil {
		t.Fatal(err)
	}
	cold, pre := b.dockerfiles[0], b.dockerfiles[1]
	if !strings.Contains(cold, "RUN --mount=type=cache,target=/go/pkg/mod,id=/go/pkg/mod-") || !strings.Contains(cold, "go mod download -x\n") || strings.Contains(cold, "GOPROXY=off") {
		t.Errorf("cold Dockerfile, want the module cache mount (isolated), -x and no GOPROXY=off:\n%s", cold)
	}
	if strings.Contains(pre, "/go/pkg/mod") || !strings.Contains(pre, "FROM deps:plain AS build\n"+offlineComment+"\n"+offlineEnv+"\nWORKDIR /src\n") ||
		!strings.Contains(pre, "RUN go mod download -x\n") || !strings.Contains(pre, "--mount=type=cache,target=/root/.cache/go-build,id=") {
		t.Errorf("prewarmed Dockerfile, want no module cache mount, GOPROXY=off after the FROM, -x, the GOCACHE mount kept:\n%s", pre)
	}
	sc := res.Scenario(Prewarmed)
	if want := []string{"Dockerfile:5 (/go/pkg/mod): hides the deps image's module cache /go/pkg/mod"}; !slices.Equal(sc.DroppedMounts, want) {
		t.Errorf("dropped mounts %q, want %q", sc.DroppedMounts, want)
	}
	if !strings.Contains(sc.Note, "GOPROXY=off") || !strings.Contains(sc.Note, "without 1 cache mount") {
		t.Errorf("note %q, want GOPROXY=off and the mount taken off", sc.Note)
	}
	if sc.Invalid != "" || res.Speedup != 1 {
		t.Errorf("invalid %q, speedup %v; want valid, 1", sc.Invalid, res.Speedup)
	}
}

// TestCodeChangeTakesColdMounts checks that the code change's filling
// build takes over the cache mounts the last cold run filled (the same
// Dockerfile, mount ids included), while every cold run gets new ones.
func TestCodeChangeTakesColdMounts(t *testing.T) {
	b := &recordingBuilder{}
	if _, err := Run(context.Background(), b, writeService(t), WithRuns(2), WithDepsImages(&recordingDeps{})); err != nil {
		t.Fatal(err)
	}
	// cold 1, cold 2, prewarmed 1, 2, buildcache 1, 2, code change 0 (filling), 1, 2.
	if len(b.dockerfiles) != 9 {
		t.Fatalf("%d builds, want 9", len(b.dockerfiles))
	}
	cold1, cold2, filling := b.dockerfiles[0], b.dockerfiles[1], b.dockerfiles[6]
	if !strings.Contains(cold1, "id=") {
		t.Fatalf("the cold Dockerfile has no isolated cache mount:\n%s", cold1)
	}
	if cold1 == cold2 {
		t.Errorf("the two cold runs share their cache mounts:\n%s", cold1)
	}
	if filling != cold2 {
		t.Errorf("the code change's filling build:\n%s\nwant the last cold run's Dockerfile:\n%s", filling, cold2)
	}
}
