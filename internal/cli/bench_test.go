package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/internal/bench"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/reports"
	"golang.org/x/mod/modfile"
)

// TestBenchBuilders runs "cachecheck bench -n 1" on the fixture service (39
// modules in its build list, fetched through the Go module proxy; its
// Dockerfile with go build -v, so that the logs name the packages
// compiled) with BuildKit, buildah, and the docker engine's classic
// builder and BuildKit, then checks what the scenarios did:
//   - the cold runs were cold (bench itself fails otherwise);
//   - the deps image really holds every module: the derived Dockerfile
//     builds without the layer cache with GOPROXY=off; the pre-warmed
//     scenarios downloaded no module and are valid, the cold one
//     downloaded every module go.mod requires (counted from go mod
//     download -x in the log); a module cache mount is taken off the
//     derived Dockerfile, and its ENV GOPROXY=off beats the ARG GOPROXY
//     of the fixture (FROM the base image, the build fails naming it);
//   - the buildcache scenario ran FROM the deps image with a build cache,
//     and its saved log shows go build compiling the service's own packages
//     only, where the cold run's log shows every dependency compiled;
//   - in the code-change scenario, the analyzer's predicted hit/miss of
//     every layer step matches the builder's;
//   - every builder cached the steps BuildKit cached;
//   - the classic docker builder, which refuses RUN --mount, built every
//     scenario without the fixture's cache mount, and the notes say so;
//   - BuildKit only, with --bump of a requirement (google/uuid v1.6.0 ->
//     v1.5.0): the bump scenarios ran, bump-nearest FROM a pre-bump deps
//     image, bump-fresh FROM a new one, and the user's context is as it was.
//
// podman is left out: its run adds about 4 minutes (240 s measured on the
// shared 2-core machine under load); internal/builder's tests build the
// fixture with it.
func TestBenchBuilders(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the loopback registry (.ci/setup.d/10-registry.sh)")
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	addr := testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd (.ci/setup.d/30-buildkit.sh)")
	bin := testenv.Getenv(t, "CACHECHECK_BUILDKIT_BIN", "buildctl (.ci/setup.d/30-buildkit.sh)")
	broot := testenv.Getenv(t, "CACHECHECK_BUILDAH_ROOT", "buildah's storage (.ci/setup.d/30-buildkit.sh)")
	dhost := testenv.Getenv(t, "CACHECHECK_DOCKER_HOST", "dockerd (.ci/setup.d/32-docker.sh)")
	dbin := testenv.Getenv(t, "CACHECHECK_DOCKER_BIN", "the docker command (.ci/setup.d/32-docker.sh)")
	dnet := testenv.Getenv(t, "CACHECHECK_DOCKER_NETWORK", "the network of docker builds (.ci/setup.d/32-docker.sh)")
	goproxy, gosumdb := testenv.GoEnv(t, "GOPROXY"), testenv.GoEnv(t, "GOSUMDB")
	const fixture = "../../analyzer/testdata/fixtures/service"
	fixtureDockerfile, err := os.ReadFile(filepath.Join(fixture, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// go build -v prints every package it compiles.
	verbose := strings.Replace(string(fixtureDockerfile), "go build -trimpath", "go build -v -trimpath", 1)
	if verbose == string(fixtureDockerfile) {
		t.Fatal("the fixture's Dockerfile has no \"go build -trimpath\" to add -v to")
	}
	listDir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(listDir, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	deps := modloadtest.Deps(t, listDir, "./cmd/api")
	if len(deps) < 100 {
		t.Fatalf("go list -deps ./cmd/api gives %d dependency packages; the fixture should have far more", len(deps))
	}
	// A repository of its own per test run: the bump's fresh deps image
	// of an earlier run would be an exact match for bump-nearest.
	repo := fmt.Sprintf("%s/bench-test-%d/service-deps", reg, time.Now().UnixNano())
	const bump = "github.com/google/uuid@v1.5.0" // the fixture requires v1.6.0

	type run struct {
		name string
		args []string
		b    builder.Builder
	}
	runs := []run{
		{"buildkit", []string{"--buildkit-addr", addr, "--buildctl", filepath.Join(bin, "buildctl"), "--bump", bump}, &builder.BuildKit{Addr: addr, Buildctl: filepath.Join(bin, "buildctl")}},
		{"buildah", []string{"--buildah-root", broot}, &builder.Buildah{Root: filepath.Join(broot, "root"), RunRoot: filepath.Join(broot, "runroot")}},
		{"docker", []string{"--docker", dbin, "--docker-network", dnet}, &builder.Docker{Bin: dbin, Host: dhost, Network: dnet}},
		{"docker-buildkit", []string{"--docker", dbin, "--docker-network", dnet}, &builder.Docker{Bin: dbin, Host: dhost, Network: dnet, BuildKit: true}},
	}
	// The classic docker builder refuses RUN --mount: what the test builds
	// with it directly goes without the fixture's cache mount, as bench's
	// builds do.
	const goBuildMount = "--mount=type=cache,target=/root/.cache/go-build "
	cached := map[string]string{} // builder -> the code change's cached layer steps
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			ctx := context.Background()
			if _, ok := r.b.(*builder.Docker); ok {
				// bench's docker builds go to $DOCKER_HOST's engine.
				t.Setenv("DOCKER_HOST", dhost)
			}
			classic := builder.IsClassic(r.b)
			forBuilder := func(dockerfile string) string {
				if classic {
					return strings.ReplaceAll(dockerfile, goBuildMount, "")
				}
				return dockerfile
			}
			svc := filepath.Join(t.TempDir(), "service")
			if err := os.CopyFS(svc, os.DirFS(fixture)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(svc, "Dockerfile"), []byte(verbose), 0o644); err != nil {
				t.Fatal(err)
			}
			logs := t.TempDir()
			var out, errb bytes.Buffer
			args := append([]string{"bench", "--builder", r.name, "--to", repo, "--insecure", "-n", "1",
				"--format", "json", "--logs", logs,
				"--build-arg", "BASE=" + base, "--build-arg", "GOPROXY=" + goproxy, "--build-arg", "GOSUMDB=" + gosumdb}, r.args...)
			if err := Run(ctx, append(args, svc), nil, &out, &errb); err != nil {
				t.Fatalf("bench: %v\n%s", err, errb.String())
			}
			res, err := reports.ReadBench(&out)
			if err != nil {
				t.Fatal(err)
			}
			scenarios := []string{bench.Cold, bench.Prewarmed, bench.BuildCache, bench.CodeChange}
			if slices.Contains(r.args, "--bump") {
				scenarios = append(scenarios, bench.BumpCold, bench.BumpNearest, bench.BumpFresh)
			}
			for _, name := range scenarios {
				sc := res.Scenario(name)
				if sc == nil || len(sc.Runs) != 1 || len(sc.Runs[0].Steps) == 0 {
					t.Fatalf("scenario %s: %+v, want one run with steps", name, sc)
				}
				if _, err := os.Stat(sc.Runs[0].Log); err != nil {
					t.Errorf("scenario %s: log not saved: %v", name, err)
				}
			}
			if !strings.Contains(res.DepsImage, repo+":") {
				t.Errorf("deps image %q, want one in the test repository", res.DepsImage)
			}
			if _, err := os.Stat(filepath.Join(svc, ".cachecheck")); err == nil {
				t.Error("bench wrote into the user's context")
			}
			for _, f := range []string{"go.mod", "go.sum", "Dockerfile"} {
				want, _ := os.ReadFile(filepath.Join(fixture, f))
				if f == "Dockerfile" {
					want = []byte(verbose)
				}
				if got, err := os.ReadFile(filepath.Join(svc, f)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("bench changed %s in the user's context (err %v)", f, err)
				}
			}
			// Downloads: the cold run downloaded every module go.mod
			// requires, and nothing else (go mod download, at go 1.17
			// and later, downloads the main module's requirements, and
			// then go build needs nothing more; go.sum's other zip hashes
			// are for tests of dependencies); every build FROM a deps
			// image warmed for the key downloaded nothing and is valid.
			gomod, err := os.ReadFile(filepath.Join(fixture, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			mf, err := modfile.ParseLax("go.mod", gomod, nil)
			if err != nil {
				t.Fatal(err)
			}
			dl := map[string]int{}
			for _, name := range scenarios {
				sc := res.Scenario(name)
				n := sc.Runs[0].ModulesDownloaded
				if n == nil {
					t.Errorf("scenario %s: no modules_downloaded: the log did not tell", name)
					continue
				}
				dl[name] = *n
				switch name {
				case bench.Prewarmed, bench.BuildCache, bench.BumpFresh:
					if *n != 0 || sc.Invalid != "" {
						t.Errorf("scenario %s FROM %s: %d modules downloaded (%q), invalid %q; want none, valid", name, sc.Image, *n, sc.Runs[0].Downloaded, sc.Invalid)
					}
					if !strings.Contains(sc.Note, "GOPROXY=off") {
						t.Errorf("scenario %s: note %q, want GOPROXY=off", name, sc.Note)
					}
				}
				if sc.Invalid != "" {
					t.Errorf("scenario %s invalid: %s", name, sc.Invalid)
				}
			}
			if got, want := dl[bench.Cold], len(mf.Require); got != want {
				t.Errorf("cold scenario: %d modules downloaded, want the %d go.mod requires", got, want)
			}
			if slices.Contains(r.args, "--bump") && (dl[bench.BumpCold] != len(mf.Require) || dl[bench.BumpNearest] < 1 || dl[bench.BumpNearest] >= dl[bench.BumpCold]) {
				t.Errorf("bump: %d modules downloaded without a deps image, %d FROM the nearest; want %d, and 1 or more but fewer", dl[bench.BumpCold], dl[bench.BumpNearest], len(mf.Require))
			}
			t.Logf("%s: modules downloaded per scenario: %v", r.name, dl)
			t.Logf("%s: cold %.1fs, prewarmed %.1fs, build cache %.1fs, code change %.1fs, speedup %.2f, with the build cache %.2f", r.name,
				res.Scenario(bench.Cold).Median, res.Scenario(bench.Prewarmed).Median, res.Scenario(bench.BuildCache).Median,
				res.Scenario(bench.CodeChange).Median, res.Speedup, res.BuildCacheSpeedup)

			// The build cache: the cold run compiled every dependency, the
			// buildcache run the service's own packages only, as the saved
			// logs show.
			compiled := func(name string) []string {
				t.Helper()
				sc := res.Scenario(name)
				data, err := os.ReadFile(sc.Runs[0].Log)
				if err != nil {
					t.Fatal(err)
				}
				pkgs, ok := buildlog.CompiledPackages(data, buildlog.Detect(data))
				if !ok {
					t.Fatalf("scenario %s: the log %s shows no go build -v step", name, sc.Runs[0].Log)
				}
				if n := sc.Runs[0].CompiledPackages; n == nil || *n != len(pkgs) {
					t.Errorf("scenario %s: compiled_packages %v, the log shows %d", name, n, len(pkgs))
				}
				return pkgs
			}
			var missing []string
			cold := compiled(bench.Cold)
			for _, p := range deps {
				if !slices.Contains(cold, p) {
					missing = append(missing, p)
				}
			}
			if len(missing) > 0 {
				t.Errorf("the cold run's log does not show %d of the %d dependency packages compiled (the log reader misses them?): %v", len(missing), len(deps), missing)
			}
			bc := res.Scenario(bench.BuildCache)
			if bc.Skipped != "" || bc.Image == "" || bc.Image == res.DepsImage || !strings.Contains(bc.Image, repo+":") {
				t.Errorf("buildcache scenario: skipped %q, image %q; want it run FROM a deps image with a build cache in %s (not %s)", bc.Skipped, bc.Image, repo, res.DepsImage)
			}
			if want := []string{"Dockerfile:12 (/root/.cache/go-build): hides the deps image's build cache (GOCACHE /root/.cache/go-build)"}; !slices.Equal(bc.DroppedMounts, want) {
				t.Errorf("buildcache scenario: dropped mounts %q, want %q", bc.DroppedMounts, want)
			}
			own := compiled(bench.BuildCache)
			t.Logf("%s: go build compiled %d packages cold, %v with the build cache", r.name, len(cold), own)
			if !slices.Contains(own, "example.com/service/cmd/api") {
				t.Errorf("buildcache scenario: go build -v did not print example.com/service/cmd/api; printed %q", own)
			}
			for _, p := range own {
				if !strings.HasPrefix(p, "example.com/service/") {
					t.Errorf("buildcache scenario: go build compiled the dependency %q", p)
				}
			}
			if !slices.Equal(bc.Runs[0].Compiled, own) {
				t.Errorf("buildcache scenario: compiled %q in the result, %q in the log", bc.Runs[0].Compiled, own)
			}

			// The classic builder's scenarios went without the go build's
			// cache mount (but buildcache, where it is a dropped mount),
			// and their notes say so; the others kept it.
			refused := "without 1 RUN flag, which the classic docker builder refuses (Dockerfile:12 " + strings.TrimSpace(goBuildMount) + ")"
			for _, name := range scenarios {
				sc := res.Scenario(name)
				data, err := os.ReadFile(strings.TrimSuffix(sc.Runs[0].Log, ".log") + ".Dockerfile")
				if err != nil {
					t.Fatal(err)
				}
				mounted := strings.Contains(string(data), "--mount=")
				want := !classic && name != bench.BuildCache
				if mounted != want || strings.Contains(sc.Note, refused) != (classic && name != bench.BuildCache) {
					t.Errorf("scenario %s: a RUN --mount in its Dockerfile: %v, want %v; note %q", name, mounted, want, sc.Note)
				}
			}

			// The dependency bump.
			if slices.Contains(r.args, "--bump") {
				near, fresh := res.Scenario(bench.BumpNearest), res.Scenario(bench.BumpFresh)
				if near.Image != res.DepsImage && near.Image != bc.Image {
					t.Errorf("bump-nearest FROM %q, want a pre-bump deps image (%s or %s)", near.Image, res.DepsImage, bc.Image)
				}
				if fresh.Image == "" || fresh.Image == res.DepsImage || fresh.Image == near.Image || !strings.Contains(fresh.Image, repo+":") {
					t.Errorf("bump-fresh FROM %q, want a new deps image in %s (pre-bump %s)", fresh.Image, repo, res.DepsImage)
				}
				if cold := res.Scenario(bench.BumpCold); cold.Image != "" {
					t.Errorf("bump-cold FROM %q, want no deps image", cold.Image)
				}
				t.Logf("%s: bump cold %.1fs, nearest %.1fs, fresh %.1fs", r.name, res.Scenario(bench.BumpCold).Median, near.Median, fresh.Median)
			}

			// No module downloaded with pre-warming: the derived
			// Dockerfile builds, without the layer cache, offline.
			build, err := analyzer.Load(os.DirFS(svc), analyzer.WithBuildArgs(map[string]string{"BASE": base}))
			if err != nil {
				t.Fatal(err)
			}
			df, _, err := bench.DerivedDockerfile(build, res.DepsImage)
			if err != nil {
				t.Fatal(err)
			}
			dfPath := filepath.Join(t.TempDir(), "Dockerfile")
			os.WriteFile(dfPath, []byte(forBuilder(df)), 0o644)
			off, err := r.b.Build(ctx, builder.BuildOptions{Context: svc, Dockerfile: dfPath, NoCache: true,
				BuildArgs: map[string]string{"BASE": base, "GOPROXY": "off", "GOSUMDB": "off"}})
			if err != nil {
				t.Fatalf("pre-warmed build with GOPROXY=off: %v", err)
			}
			download := false
			for _, s := range off.Steps {
				if strings.Contains(s.Instruction, "go mod download") {
					download = true
					if s.Cached {
						t.Errorf("offline build: %q cached, want it run (and find every module)", s.Instruction)
					}
				}
			}
			if !download {
				t.Error("offline build: no go mod download step in the log")
			}

			// A module cache mount is taken off, and the derived
			// Dockerfile builds offline FROM the deps image with the
			// proxy passed as a build arg; FROM the base image, which
			// holds no module, the ENV GOPROXY=off it adds beats that
			// ARG GOPROXY and the build fails, naming GOPROXY=off.
			mounted := strings.Replace(verbose, "RUN go mod download", "RUN --mount=type=cache,target=/go/pkg/mod go mod download", 1)
			mbuild, err := analyzer.Parse("Dockerfile", []byte(mounted), analyzer.WithBuildArgs(map[string]string{"BASE": base}))
			if err != nil {
				t.Fatal(err)
			}
			online := map[string]string{"BASE": base, "GOPROXY": goproxy, "GOSUMDB": gosumdb}
			for _, from := range []string{res.DepsImage, base} {
				mdf, _, err := bench.DerivedDockerfile(mbuild, from)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(mdf, "/go/pkg/mod") {
					t.Errorf("derived Dockerfile keeps the module cache mount:\n%s", mdf)
				}
				os.WriteFile(dfPath, []byte(forBuilder(mdf)), 0o644)
				res, err := r.b.Build(ctx, builder.BuildOptions{Context: svc, Dockerfile: dfPath, NoCache: true, BuildArgs: online})
				var offErrs []string
				if res != nil {
					text, _ := buildlog.RunOutput(res.Output, res.Format)
					offErrs = buildlog.OfflineErrors(text)
				}
				if from == base {
					if err == nil || len(offErrs) == 0 {
						t.Errorf("derived Dockerfile FROM the base image, with --build-arg GOPROXY=%s: error %v, GOPROXY=off errors %q; want the build refused its downloads", goproxy, err, offErrs)
					} else {
						t.Logf("%s: FROM the base image, GOPROXY=off refused: %s (%d such errors)", r.name, offErrs[0], len(offErrs))
					}
				} else if err != nil {
					t.Errorf("derived Dockerfile with the module cache mount, FROM the deps image, with --build-arg GOPROXY=%s: %v", goproxy, err)
				}
			}

			// The code change: prediction against the builder.
			cc := res.Scenario(bench.CodeChange)
			changed := filepath.Join(t.TempDir(), "service")
			os.CopyFS(changed, os.DirFS(svc))
			f, err := os.OpenFile(filepath.Join(changed, cc.Changed), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatalf("changed file %q: %v", cc.Changed, err)
			}
			fmt.Fprintf(f, "\n// cachecheck bench: change 1\n")
			f.Close()
			head, err := analyzer.Load(os.DirFS(changed), analyzer.WithBuildArgs(map[string]string{"BASE": base}))
			if err != nil {
				t.Fatal(err)
			}
			var popts []analyzer.PredictOption
			if classic {
				popts = append(popts, analyzer.WithClassicDockerBuilder())
			}
			pred, err := analyzer.Predict(build, head, popts...)
			if err != nil {
				t.Fatal(err)
			}
			var predicted []string
			for _, st := range pred.Stages {
				for _, s := range st.Steps {
					if s.Kind == "RUN" || s.Kind == "COPY" || s.Kind == "ADD" || s.Kind == "WORKDIR" {
						predicted = append(predicted, fmt.Sprintf("%s %v", s.Kind, s.Hit))
					}
				}
			}
			var actual []string
			for _, s := range cc.Runs[0].Steps {
				k := strings.ToUpper(strings.Fields(s.Instruction)[0])
				if k == "RUN" || k == "COPY" || k == "ADD" || k == "WORKDIR" {
					actual = append(actual, fmt.Sprintf("%s %v", k, s.Cached))
				}
			}
			if strings.Join(predicted, ",") != strings.Join(actual, ",") {
				t.Errorf("code change: predicted %v, %s did %v", predicted, r.name, actual)
			}
			cached[r.name] = strings.Join(actual, ",")
		})
	}
	for _, r := range runs[1:] {
		if c, ok := cached[r.name]; ok && cached["buildkit"] != "" && c != cached["buildkit"] {
			t.Errorf("code change: buildkit cached %s, %s %s", cached["buildkit"], r.name, c)
		}
	}
}
