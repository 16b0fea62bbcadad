package realservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/internal/bench"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/reports"
)

// The service: memos, a self-hosted notes server, at a tagged release. Its
// Dockerfile is scripts/Dockerfile (no Dockerfile at the root), it has a
// download layer with cache mounts on the module and build caches, and a
// static go build with -trimpath and tags.
const (
	service        = "github.com/usememos/memos"
	serviceVersion = "v0.26.2"
	minModules     = 100
)

// TestRealService runs the whole user flow on a real public service that
// nobody here wrote, fetched through the Go module proxy as a module:
// analyze, key, warm (full and zips), ref, a BuildKit build FROM the deps
// image with the network off, warm --build-cache with the settings read
// from the service's own Dockerfile, and bench with BuildKit.
//
// The Dockerfile is the service's, adapted to this machine only where it
// must be: its golang image becomes the test base image (nothing can be
// pulled here), the `apk add git ca-certificates` line goes (the base
// image has no apk, and has the certificates), the final alpine stage goes
// (a binary target is enough: it only copies the binary), and go build gets
// -v so that the builds' logs list what they compile. Its cache mounts stay:
// bench must take off the ones that hide the deps image.
func TestRealService(t *testing.T) {
	testenv.SkipIfShort(t, "builds a real service with BuildKit several times")
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the loopback registry (.ci/setup.d/10-registry.sh)")
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	addr := testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd (.ci/setup.d/30-buildkit.sh)")
	bin := testenv.Getenv(t, "CACHECHECK_BUILDKIT_BIN", "buildctl (.ci/setup.d/30-buildkit.sh)")
	ctx := context.Background()
	start := time.Now()
	step := func(name string) func() {
		t0 := time.Now()
		return func() { t.Logf("REAL SERVICE %-28s %6.1f s", name, time.Since(t0).Seconds()) }
	}

	// CACHECHECK_REALSERVICE_RUNS=N runs each bench scenario N times and
	// then the same builds by hand with buildctl, and prints the medians
	// side by side: the figures of the README.
	runs := 1
	if v := os.Getenv("CACHECHECK_REALSERVICE_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CACHECHECK_REALSERVICE_RUNS=%q: want a number of runs", v)
		}
		runs = n
	}
	svc := fetchService(t)
	own := regexp.MustCompile(`^` + regexp.QuoteMeta(service) + `(/|$)`)
	repo := fmt.Sprintf("%s/realservice-%d/memos-deps", reg, time.Now().UnixNano())
	// On the base image the build starts FROM, as the nightly job warms
	// the image a build starts FROM.
	regFlags := []string{"--to", repo, "--insecure", "--base", base}

	// analyze reads the service's Dockerfile as shipped. It is not at the
	// root: analyze names the one it finds.
	_, errOut, err := run(t, ctx, "analyze", svc)
	if err == nil || !strings.Contains(err.Error(), "--file "+filepath.Join(svc, "scripts/Dockerfile")) {
		t.Fatalf("analyze without --file: err %v, stderr %q; want a failure suggesting --file scripts/Dockerfile", err, errOut)
	}
	out, _, err := run(t, ctx, "analyze", "--file", filepath.Join(svc, "scripts/Dockerfile"), "--format", "json", svc)
	if err != nil {
		t.Fatalf("analyze --file scripts/Dockerfile: %v", err)
	}
	findings := readDoc[*reports.Document](t, out)
	for _, f := range findings.Findings {
		if f.Severity >= reports.Warning {
			t.Errorf("analyze: %s %s at %s: %s; the service's Dockerfile has a download layer and cache mounts, nothing to warn about", f.Rule, f.Severity, f.Position(), f.Message)
		}
	}

	// The deps image, module cache only, as the nightly job warms it.
	done := step("key")
	out, _, err = run(t, ctx, "key", "--format", "json", svc)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	key := readDoc[*reports.Key](t, out)
	done()
	done = step("warm (full)")
	out, _, err = run(t, ctx, append([]string{"warm", "--format", "json"}, append(regFlags, svc)...)...)
	if err != nil {
		t.Fatalf("warm: %v", err)
	}
	warmed := readDoc[*reports.Warm](t, out)
	done()
	if warmed.Key != key.Key || warmed.Modules < minModules {
		t.Fatalf("warm: key %s with %d modules; want key %s and at least %d modules", warmed.Key, warmed.Modules, key.Key, minModules)
	}
	done = step("warm --contents zips")
	out, _, err = run(t, ctx, append([]string{"warm", "--contents", "zips", "--format", "json"}, append(regFlags, svc)...)...)
	if err != nil {
		t.Fatalf("warm --contents zips: %v", err)
	}
	zips := readDoc[*reports.Warm](t, out)
	done()
	if zips.Ref == warmed.Ref || zips.Modules != warmed.Modules {
		t.Errorf("warm --contents zips: %s with %d modules; want another image than %s with the same %d modules", zips.Ref, zips.Modules, warmed.Ref, warmed.Modules)
	}
	out, _, err = run(t, ctx, append([]string{"ref"}, append(regFlags, svc)...)...)
	if err != nil {
		t.Fatalf("ref: %v", err)
	}
	ref := strings.TrimSpace(out)
	if !strings.HasPrefix(ref, repo+":") && !strings.HasPrefix(ref, repo+"@") {
		t.Fatalf("ref printed %q; want an image of %s", ref, repo)
	}

	// From here on, the Dockerfile adapted to this machine.
	adapted := adapt(t, svc, base)

	// The build cache, for the settings of the service's own Dockerfile,
	// which warm finds under scripts/.
	done = step("warm --build-cache")
	out, errOut, err = run(t, ctx, append([]string{"warm", "--build-cache", "--format", "json"}, append(regFlags, svc)...)...)
	if err != nil {
		t.Fatalf("warm --build-cache: %v\n%s", err, errOut)
	}
	bc := readDoc[*reports.Warm](t, out)
	done()
	if bc.BuildCache == nil {
		t.Fatalf("warm --build-cache: no build cache in %s", out)
	}
	if !strings.HasPrefix(bc.BuildCache.SettingsFrom, "scripts/Dockerfile:") || !strings.Contains(bc.BuildCache.Settings, "CGO_ENABLED=0") ||
		!strings.Contains(bc.BuildCache.Settings, "-trimpath") || !strings.Contains(bc.BuildCache.Settings, "netgo,osusergo") {
		t.Errorf("warm --build-cache: settings %q from %q; want CGO_ENABLED=0, -trimpath and the tags netgo,osusergo from scripts/Dockerfile", bc.BuildCache.Settings, bc.BuildCache.SettingsFrom)
	}

	out, _, err = run(t, ctx, append([]string{"ref", "--build-cache"}, append(regFlags, svc)...)...)
	if err != nil {
		t.Fatalf("ref --build-cache: %v", err)
	}
	bcRef := strings.TrimSpace(out)
	if bcRef == ref || !strings.HasPrefix(bcRef, repo+":") {
		t.Fatalf("ref --build-cache printed %q; want an image of %s other than %s", bcRef, repo, ref)
	}

	// With the deps image, analyze says to start FROM it, and its fixes
	// also take off the cache mounts that would hide the image's module
	// and build caches (the build as shipped would download every module
	// again and compile every package). The fixed Dockerfile then builds
	// with the network off for every RUN, finding every module in the
	// image, and compiles only the service's own packages.
	// The Dockerfile a user gets for the deps image without the build
	// cache, for the builds by hand.
	prewarmedFix := fixWith(t, ctx, svc, adapted, ref)
	fixedDF := filepath.Join(svc, "scripts", "Dockerfile.deps")
	if err := os.WriteFile(fixedDF, []byte(adapted), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, ctx, "analyze", "--file", fixedDF, "--deps-image", bcRef, "--insecure", "--format", "json", svc)
	if err != nil {
		t.Fatalf("analyze --deps-image: %v", err)
	}
	findings = readDoc[*reports.Document](t, out)
	if !slices.ContainsFunc(findings.Findings, func(f *reports.Finding) bool { return f.Rule == "CC011" }) {
		t.Errorf("analyze --deps-image: no CC011 for the stage that could start FROM the deps image; findings:\n%s", describe(findings))
	}
	if out, errOut, err := run(t, ctx, "analyze", "--file", fixedDF, "--deps-image", bcRef, "--insecure", "--fix", svc); err != nil {
		t.Fatalf("analyze --deps-image --fix: %v\n%s%s", err, out, errOut)
	}
	data, err := os.ReadFile(fixedDF)
	if err != nil {
		t.Fatal(err)
	}
	fixed := string(data)
	if !strings.Contains(fixed, bcRef+" AS backend") || strings.Contains(fixed, "target=/go/pkg/mod") || strings.Contains(fixed, "target=/root/.cache/go-build") {
		t.Fatalf("analyze --deps-image --fix wrote a Dockerfile that does not start FROM %s or keeps a cache mount on /go/pkg/mod or GOCACHE:\n%s", bcRef, fixed)
	}
	done = step("buildkit build, offline")
	bk := &builder.BuildKit{Addr: addr, Buildctl: filepath.Join(bin, "buildctl")}
	offline := strings.ReplaceAll(fixed, "\nRUN ", "\nRUN --network=none ")
	if err := os.WriteFile(fixedDF, []byte(offline), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := bk.Build(ctx, builder.BuildOptions{Context: svc, Dockerfile: fixedDF})
	done()
	if err != nil {
		t.Fatalf("building FROM the deps image with the network off: %v\n%s\n%s", err, offline, tail(r))
	}
	compiled, ok := buildlog.CompiledPackages(r.Output, buildlog.BuildKitJSON)
	if !ok {
		t.Fatalf("the offline build's log shows no go build -v")
	}
	for _, p := range compiled {
		if !own.MatchString(p) {
			t.Errorf("the offline build FROM %s compiled %s, which is not the service's own: the build cache layer misses it", bcRef, p)
		}
	}
	t.Logf("REAL SERVICE offline build FROM the build cache image: %d packages compiled", len(compiled))
	if err := os.Remove(fixedDF); err != nil {
		t.Fatal(err)
	}

	// bench: cold, FROM the deps image, FROM the image with the build
	// cache, and a code change.
	benchArgs := append([]string{"bench", "--builder", "buildkit", "--buildkit-addr", addr, "--buildctl", filepath.Join(bin, "buildctl"),
		"-n", "1", "--format", "json", "--logs", t.TempDir(), "--file", filepath.Join(svc, "scripts/Dockerfile")}, append(regFlags, svc)...)
	done = step("bench --builder buildkit -n 1")
	res := runBench(t, ctx, benchArgs, minModules, own)
	done()
	if sc := res.Scenario(bench.Prewarmed); sc != nil && len(sc.DroppedMounts) == 0 {
		t.Errorf("bench took no cache mount off the pre-warmed build, though the Dockerfile mounts one on /go/pkg/mod")
	}
	t.Logf("REAL SERVICE %s@%s: %d modules; speedup %.2f× with the deps image, %.2f× with its build cache; whole test %.0f s",
		service, serviceVersion, warmed.Modules, res.Speedup, res.BuildCacheSpeedup, time.Since(start).Seconds())
	// Times are printed, not asserted (a loaded machine slows every
	// build): what the test asserts is what the builds did.
	if runs > 1 {
		inTurn(t, ctx, bk, svc, adapted, prewarmedFix, fixed, benchArgs, res, runs, minModules, own)
	}
}

// fetchService downloads the service's module through the Go module proxy
// and returns a writable copy of it.
func fetchService(t *testing.T) string {
	t.Helper()
	modcache := t.TempDir()
	// A stalled proxy fails the test in bounded time, naming the module.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", service+"@"+serviceVersion)
	cmd.Env = append(os.Environ(), "GOMODCACHE="+modcache, "GOFLAGS=-modcacherw")
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("go mod download %s@%s: no answer from the module proxy in 5 minutes", service, serviceVersion)
	}
	if err != nil {
		t.Fatalf("go mod download %s@%s: %v\n%s", service, serviceVersion, err, out)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Error != "" {
		t.Fatalf("go mod download %s@%s: %v %s", service, serviceVersion, err, m.Error)
	}
	svc := filepath.Join(t.TempDir(), "memos")
	if err := os.CopyFS(svc, os.DirFS(m.Dir)); err != nil {
		t.Fatal(err)
	}
	return svc
}

// adapt writes the service's Dockerfile adapted to this machine (see
// TestRealService) over scripts/Dockerfile and returns it.
func adapt(t *testing.T, svc, base string) string {
	t.Helper()
	p := filepath.Join(svc, "scripts", "Dockerfile")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, e := range []struct{ old, new string }{
		{"FROM --platform=$BUILDPLATFORM golang:1.25.7-alpine AS backend", "FROM --platform=$BUILDPLATFORM " + base + " AS backend"},
		{"RUN apk add --no-cache git ca-certificates\n", ""},
		{"    go build \\\n", "    go build -v \\\n"},
	} {
		if !strings.Contains(df, e.old) {
			t.Fatalf("%s@%s scripts/Dockerfile has no %q to adapt", service, serviceVersion, e.old)
		}
		df = strings.Replace(df, e.old, e.new, 1)
	}
	i := strings.Index(df, "\nFROM alpine:")
	if i < 0 {
		t.Fatalf("%s@%s scripts/Dockerfile has no final alpine stage", service, serviceVersion)
	}
	df = df[:i+1]
	if err := os.WriteFile(p, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return df
}

// run runs the cachecheck command line in-process.
func run(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cli.Run(ctx, args, nil, &out, &errb)
	return out.String(), errb.String(), err
}

// fixWith returns the Dockerfile df as analyze --deps-image image --fix
// writes it.
func fixWith(t *testing.T, ctx context.Context, svc, df, image string) string {
	t.Helper()
	p := filepath.Join(svc, "scripts", "Dockerfile.fix")
	if err := os.WriteFile(p, []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	if out, errOut, err := run(t, ctx, "analyze", "--file", p, "--deps-image", image, "--insecure", "--fix", svc); err != nil {
		t.Fatalf("analyze --deps-image %s --fix: %v\n%s%s", image, err, out, errOut)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// runBench runs bench (one run of each scenario) and checks what its builds
// did: the cold one downloaded the service's modules, the pre-warmed ones
// downloaded none, and the build-cache and code-change ones compiled only
// the service's own packages.
func runBench(t *testing.T, ctx context.Context, args []string, minModules int, own *regexp.Regexp) *reports.BenchRun {
	t.Helper()
	out, errOut, err := run(t, ctx, args...)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut)
	}
	res, err := reports.ReadBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bench.Cold, bench.Prewarmed, bench.BuildCache, bench.CodeChange} {
		sc := res.Scenario(name)
		if sc == nil || len(sc.Runs) != 1 {
			t.Fatalf("bench: scenario %s: %+v; want 1 run", name, sc)
		}
		if sc.Invalid != "" {
			t.Errorf("bench: scenario %s is invalid: %s", name, sc.Invalid)
		}
		b := sc.Runs[0]
		n := -1
		if b.CompiledPackages != nil {
			n = *b.CompiledPackages
		}
		dl := -1
		if b.ModulesDownloaded != nil {
			dl = *b.ModulesDownloaded
		}
		t.Logf("REAL SERVICE bench %-12s %6.1f s, %d modules downloaded, %d packages compiled", name, b.Seconds, dl, n)
		switch {
		case name == bench.Cold && dl < minModules:
			t.Errorf("bench %s downloaded %d modules; the service needs at least %d", name, dl, minModules)
		case (name == bench.Prewarmed || name == bench.BuildCache) && dl != 0:
			t.Errorf("bench %s downloaded %d modules FROM the deps image (%v); want none", name, dl, b.Downloaded)
		}
		if name == bench.BuildCache || name == bench.CodeChange {
			if b.CompiledPackages == nil {
				t.Errorf("bench %s: no compiled package count, though go build runs with -v", name)
			}
			for _, p := range b.Compiled {
				if !own.MatchString(p) {
					t.Errorf("bench %s compiled %s, which is not the service's own: the build cache layer misses it", name, p)
				}
			}
		}
	}
	return res
}

// inTurn runs the cold, pre-warmed and build-cache builds as a user would
// by hand with buildctl (--no-cache, after pruning BuildKit's cache
// mounts; the pre-warmed and build-cache Dockerfiles as analyze
// --deps-image --fix writes them), in turn with bench: first (the run
// already made) bench, then by hand, then bench again, runs times each, so
// that a slow spell of the machine falls on both. It prints the medians of
// both side by side.
func inTurn(t *testing.T, ctx context.Context, bk *builder.BuildKit, svc, cold, prewarmed, buildCache string, benchArgs []string, first *reports.BenchRun, runs, minModules int, own *regexp.Regexp) {
	t.Helper()
	cases := []struct{ name, df string }{{bench.Cold, cold}, {bench.Prewarmed, prewarmed}, {bench.BuildCache, buildCache}}
	dir := t.TempDir()
	for i, c := range cases {
		p := filepath.Join(dir, fmt.Sprintf("Dockerfile.%d", i))
		if err := os.WriteFile(p, []byte(c.df), 0o644); err != nil {
			t.Fatal(err)
		}
		cases[i].df = p
	}
	benchSecs := map[string][]float64{}
	handSecs := map[string][]float64{}
	record := func(res *reports.BenchRun) {
		for _, c := range cases {
			benchSecs[c.name] = append(benchSecs[c.name], res.Scenario(c.name).Runs[0].Seconds)
		}
	}
	record(first)
	for i := 1; i <= runs; i++ {
		for _, c := range cases {
			prune := exec.CommandContext(ctx, bk.Buildctl, "--addr", bk.Addr, "prune", "--filter", "type==exec.cachemount")
			if out, err := prune.CombinedOutput(); err != nil {
				t.Fatalf("buildctl prune: %v\n%s", err, out)
			}
			r, err := bk.Build(ctx, builder.BuildOptions{Context: svc, Dockerfile: c.df, NoCache: true})
			if err != nil {
				t.Fatalf("%s by hand: %v\n%s", c.name, err, tail(r))
			}
			t.Logf("REAL SERVICE by hand %-12s round %d %6.1f s", c.name, i, r.Duration.Seconds())
			handSecs[c.name] = append(handSecs[c.name], r.Duration.Seconds())
		}
		if i < runs {
			t.Logf("REAL SERVICE bench round %d", i+1)
			record(runBench(t, ctx, benchArgs, minModules, own))
		}
	}
	t.Logf("REAL SERVICE %-12s %10s %10s %7s  (medians of %d, run in turn)", "scenario", "bench", "buildctl", "ratio", runs)
	med := map[string][2]float64{}
	for _, c := range cases {
		b, h := median(benchSecs[c.name]), median(handSecs[c.name])
		med[c.name] = [2]float64{b, h}
		verdict := "within 10%"
		if d := b/h - 1; d > 0.1 || d < -0.1 {
			verdict = "MORE THAN 10% APART"
		}
		t.Logf("REAL SERVICE %-12s %9.1fs %9.1fs %7.3f  %s  (bench %s; by hand %s)", c.name, b, h, b/h, verdict, seconds(benchSecs[c.name]), seconds(handSecs[c.name]))
	}
	for k, who := range []string{"bench", "by hand"} {
		ratio := med[bench.Cold][k] / med[bench.BuildCache][k]
		verdict := "meets the 5× target"
		if ratio < 5 {
			verdict = "MISSES the 5× target"
		}
		t.Logf("REAL SERVICE build cache vs cold, %s: %.2f× (%s)", who, ratio, verdict)
	}
}

// seconds lists xs as "1.2, 3.4 s".
func seconds(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(s, ", ") + " s"
}

// median returns the median of xs.
func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// describe lists the findings of d, one a line.
func describe(d *reports.Document) string {
	var lines []string
	for _, f := range d.Findings {
		lines = append(lines, fmt.Sprintf("%s %s %s: %s (fix: %s)", f.Rule, f.Severity, f.Position(), f.Message, f.Fix))
	}
	return strings.Join(lines, "\n")
}

// readDoc reads a JSON document of kind D.
func readDoc[D reports.Doc](t *testing.T, s string) D {
	t.Helper()
	doc, err := reports.Read(strings.NewReader(s))
	if err != nil {
		t.Fatalf("reading %.200s: %v", s, err)
	}
	d, ok := doc.(D)
	if !ok {
		t.Fatalf("document of kind %s (%T), want %T", doc.Kind(), doc, d)
	}
	return d
}

// tail returns the end of what the build's steps printed (the logs of
// BuildKit's rawjson output), for a failure message.
func tail(r *builder.Result) string {
	if r == nil {
		return ""
	}
	var text strings.Builder
	for _, line := range strings.Split(string(r.Output), "\n") {
		var st struct {
			Logs []struct{ Data []byte } `json:"logs"`
		}
		if json.Unmarshal([]byte(line), &st) == nil {
			for _, l := range st.Logs {
				text.Write(l.Data)
			}
		} else if !strings.HasPrefix(line, "{") {
			text.WriteString(line + "\n")
		}
	}
	lines := strings.Split(text.String(), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
