package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"gopkg.in/yaml.v3"
)

// The examples against a real docker engine (.ci/setup.d/32-docker.sh):
// the pull-request workflow's docker build line runs as it is written,
// and a tarball: deps image is loaded with docker load and built on.

// dockerEngine is the engine .ci/setup.d/32-docker.sh starts.
type dockerEngine struct {
	host, bin, network string
}

func newDockerEngine(t *testing.T) dockerEngine {
	t.Helper()
	return dockerEngine{
		host:    testenv.Getenv(t, "CACHECHECK_DOCKER_HOST", "dockerd (.ci/setup.d/32-docker.sh)"),
		bin:     testenv.Getenv(t, "CACHECHECK_DOCKER_BIN", "the docker command (.ci/setup.d/32-docker.sh)"),
		network: testenv.Getenv(t, "CACHECHECK_DOCKER_NETWORK", "the network of docker builds (.ci/setup.d/32-docker.sh)"),
	}
}

// docker runs the docker command against the engine.
func (e dockerEngine) docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.host)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// exampleStep returns the run script of the step named name in a workflow
// of testdata/examples.
func exampleStep(t *testing.T, workflow, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, workflow))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", workflow, err)
	}
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.Name == name && s.Run != "" {
				return s.Run
			}
		}
	}
	t.Fatalf("%s has no step %q with a run script", workflow, name)
	return ""
}

// TestExampleDockerBuild runs the pull-request workflow's "build from the
// deps image" script, docker build --build-arg DEPS_IMAGE=$(cachecheck ref
// --nearest …), as it is written, with the cachecheck binary and the docker
// command on PATH and the workflow's DEPS_REPO and BASE_IMAGE in the
// loopback registry, against the engine, with its classic builder (the
// engine has no bridge network, without which its BuildKit runs a RUN step
// only with --network host: "network bridge not found"; the other tests
// build with BuildKit that way). The fixture's modules exist only on its
// local proxy, which
// the build is not told of, so the build succeeds only FROM the deps image
// warmed for it; with an empty DEPS_REPO, ref falls back to the base image
// and the same script fails.
func TestExampleDockerBuild(t *testing.T) {
	e := newDockerEngine(t)
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test Go base image")
	script := exampleStep(t, filepath.Join("github", "pull-request.yml"), "build from the deps image")
	if !strings.Contains(script, "docker build") || !strings.Contains(script, "DEPS_IMAGE=$(cachecheck ref") {
		t.Fatalf("the workflow's build step is not a docker build FROM cachecheck ref:\n%s", script)
	}
	f := modloadtest.NewFixture(t, "v1.0.0")
	repo := fmt.Sprintf("%s/examples/docker-deps-%d", reg, time.Now().UnixNano())
	w := warm(t, f.App, fixtureEnv(f), "--to", repo, "--base", base)

	// The workflow runs in a checkout holding the application and
	// testdata/examples/Dockerfile.from.
	work := copyApp(t, f.App)
	df, err := os.ReadFile(filepath.Join(examplesDir, "Dockerfile.from"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "testdata", "examples"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "testdata", "examples", "Dockerfile.from"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for name, target := range map[string]string{"cachecheck": cachecheckBin(t), "docker": e.bin} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	runScript := func(t *testing.T, kit, depsRepo string) (string, error) {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = work
		cmd.Env = append(fixtureEnv(f), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"DOCKER_HOST="+e.host, "DOCKER_BUILDKIT="+kit, "DEPS_REPO="+depsRepo, "BASE_IMAGE="+base)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := runScript(t, "0", repo)
	if err != nil {
		t.Fatalf("the workflow's build step FROM %s: %v\n%s", w.Ref, err, out)
	}
	// The build pulled the deps image warm pushed.
	if !strings.Contains(out, repo[len(reg)+1:]) {
		t.Errorf("the build log does not name the deps image's repository %s (warmed %s):\n%s", repo, w.Ref, out)
	}
	t.Logf("the workflow's build step:\n%s", out)
	// The check can fail: with no deps image, ref gives the base image,
	// and go mod download cannot fetch the fixture's modules.
	out, err = runScript(t, "0", repo+"-empty")
	if err == nil {
		t.Errorf("the workflow's build step FROM the base image, without the modules, succeeded:\n%s", out)
	} else if !strings.Contains(out, "go mod download") || !strings.Contains(out, "example.com/") && !strings.Contains(out, "corp.example/") {
		t.Errorf("the build FROM the base image failed, but not at go mod download for a module of the fixture: %v\n%s", err, out)
	}
}

// TestDockerLoadTarball warms the fixture application on the test base
// image into a tarball: target, loads it into the engine with docker load,
// and builds Dockerfile.from FROM the loaded image with the classic builder
// and GOPROXY=off: every module comes from the tarball.
func TestDockerLoadTarball(t *testing.T) {
	e := newDockerEngine(t)
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test Go base image")
	f := modloadtest.NewFixture(t, "v1.0.0")
	file := filepath.Join(t.TempDir(), "deps.tar")
	w := warm(t, f.App, fixtureEnv(f), "--to", "tarball:"+file, "--base", base)
	out, err := e.docker(t, "load", "-i", file)
	if err != nil || !strings.Contains(out, w.Ref) {
		t.Fatalf("docker load -i %s: %v, want it to load %s:\n%s", file, err, w.Ref, out)
	}
	label, err := e.docker(t, "image", "inspect", "--format", `{{index .Config.Labels "org.cachecheck.key"}}`, w.Ref)
	if err != nil || !strings.HasPrefix(strings.TrimSpace(label), "ck1-") {
		t.Errorf("docker image inspect %s: key label %q, %v", w.Ref, label, err)
	}
	df := filepath.Join(t.TempDir(), "Dockerfile")
	data, err := os.ReadFile(filepath.Join(examplesDir, "Dockerfile.from"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(df, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	b := &builder.Docker{Bin: e.bin, Host: e.host, Network: e.network}
	res, err := b.Build(ctx, builder.BuildOptions{Context: f.App, Dockerfile: df, NoCache: true,
		BuildArgs: map[string]string{"DEPS_IMAGE": w.Ref, "GOPROXY": "off"}})
	if err != nil {
		t.Fatalf("classic build of Dockerfile.from FROM the loaded %s with GOPROXY=off: %v", w.Ref, err)
	}
	ran := false
	for _, s := range res.Steps {
		if strings.Contains(s.Instruction, "go mod download") {
			ran = !s.Cached
		}
	}
	if !ran {
		t.Errorf("the build did not run go mod download:\n%s", res.Output)
	}
}
