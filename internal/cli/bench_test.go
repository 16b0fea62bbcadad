package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/bench"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/testenv"
)

// TestBenchBuilders runs "cachecheck bench -n 1" on the fixture service (39
// modules in its build list, fetched through the Go module proxy) with
// BuildKit and with buildah, then checks what the scenarios did:
//   - the cold runs were cold (bench itself fails otherwise);
//   - the deps image really holds every module: the derived Dockerfile
//     builds without the layer cache with GOPROXY=off;
//   - in the code-change scenario, the analyzer's predicted hit/miss of
//     every layer step matches the builder's;
//   - both builders cached the same steps.
func TestBenchBuilders(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the loopback registry (.ci/setup.d/10-registry.sh)")
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	addr := testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd (.ci/setup.d/30-buildkit.sh)")
	bin := testenv.Getenv(t, "CACHECHECK_BUILDKIT_BIN", "buildctl (.ci/setup.d/30-buildkit.sh)")
	broot := testenv.Getenv(t, "CACHECHECK_BUILDAH_ROOT", "buildah's storage (.ci/setup.d/30-buildkit.sh)")
	goproxy, gosumdb := goEnv(t, "GOPROXY"), goEnv(t, "GOSUMDB")

	type run struct {
		name string
		args []string
		b    builder.Builder
	}
	runs := []run{
		{"buildkit", []string{"--buildkit-addr", addr, "--buildctl", filepath.Join(bin, "buildctl")}, &builder.BuildKit{Addr: addr, Buildctl: filepath.Join(bin, "buildctl")}},
		{"buildah", []string{"--buildah-root", broot}, &builder.Buildah{Root: filepath.Join(broot, "root"), RunRoot: filepath.Join(broot, "runroot")}},
	}
	cached := map[string]string{} // builder -> the code change's cached layer steps
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			ctx := context.Background()
			svc := filepath.Join(t.TempDir(), "service")
			if err := os.CopyFS(svc, os.DirFS("../../analyzer/testdata/fixtures/service")); err != nil {
				t.Fatal(err)
			}
			logs := t.TempDir()
			var out, errb bytes.Buffer
			args := append([]string{"bench", "--builder", r.name, "--to", reg + "/bench-test/service-deps", "--insecure", "-n", "1",
				"--format", "json", "--logs", logs,
				"--build-arg", "BASE=" + base, "--build-arg", "GOPROXY=" + goproxy, "--build-arg", "GOSUMDB=" + gosumdb}, r.args...)
			if err := Run(ctx, append(args, svc), nil, &out, &errb); err != nil {
				t.Fatalf("bench: %v\n%s", err, errb.String())
			}
			res, err := bench.ReadJSON(&out)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{bench.Cold, bench.Prewarmed, bench.CodeChange} {
				sc := res.Scenario(name)
				if sc == nil || len(sc.Runs) != 1 || len(sc.Runs[0].Steps) == 0 {
					t.Fatalf("scenario %s: %+v, want one run with steps", name, sc)
				}
				if _, err := os.Stat(sc.Runs[0].Log); err != nil {
					t.Errorf("scenario %s: log not saved: %v", name, err)
				}
			}
			if !strings.Contains(res.DepsImage, reg+"/bench-test/service-deps:") {
				t.Errorf("deps image %q, want one in the test repository", res.DepsImage)
			}
			if _, err := os.Stat(filepath.Join(svc, ".cachecheck")); err == nil {
				t.Error("bench wrote into the user's context")
			}
			t.Logf("%s: cold %.1fs, prewarmed %.1fs, code change %.1fs, speedup %.2f", r.name,
				res.Scenario(bench.Cold).Median, res.Scenario(bench.Prewarmed).Median, res.Scenario(bench.CodeChange).Median, res.Speedup)

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
			os.WriteFile(dfPath, []byte(df), 0o644)
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
			pred, err := analyzer.Predict(build, head)
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
	if len(cached) == 2 && cached["buildkit"] != cached["buildah"] {
		t.Errorf("code change: buildkit cached %s, buildah %s", cached["buildkit"], cached["buildah"])
	}
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
