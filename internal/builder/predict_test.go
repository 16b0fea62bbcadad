package builder

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/analyzer/buildlog"
	"github.com/cachecheck/cachecheck/internal/testenv"
)

// TestPredictionAgainstBuilders builds the fixture service
// (analyzer/testdata/fixtures/service: a Go service with real dependencies
// from the module proxy) with each real builder, then rebuilds it after no
// change, a code-only change and a dependency change, and compares
// analyzer.Predict's hit/miss for every layer step with what the builder
// did. The agreement rate of each builder is logged; any disagreement fails.
// Last, a compile error must fail the build at its go build step. With
// -capture, the builds' logs are kept (BUILDER-service-*.EXT).
//
// The classic docker builder refuses RUN --mount: it must fail on the
// fixture as it is, at its go build step, and then builds the fixture
// without the cache mount (see classicMount); the prediction is made for
// that Dockerfile too.
func TestPredictionAgainstBuilders(t *testing.T) {
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	bs := builders(t)
	goproxy := testenv.GoEnv(t, "GOPROXY")
	gosumdb := testenv.GoEnv(t, "GOSUMDB")

	type scenario struct {
		name   string
		change func(t *testing.T, dir string, args map[string]string)
		// downloadReused is the expected prediction for the module
		// download layer.
		downloadReused bool
	}
	scenarios := []scenario{
		{"unchanged", func(*testing.T, string, map[string]string) {}, true},
		{"code change", func(t *testing.T, dir string, _ map[string]string) {
			edit(t, filepath.Join(dir, "internal/greet/greet.go"), `"hello "`, `"hello, "`)
		}, true},
		{"dependency change", func(t *testing.T, dir string, _ map[string]string) {
			cmd := exec.Command("go", "get", "github.com/google/uuid@v1.5.0")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go get in the fixture: %v\n%s", err, out)
			}
		}, false},
		{"ignored file change", func(t *testing.T, dir string, _ map[string]string) {
			if err := os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("not in the context\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		// VERSION is declared after the download: only the go build
		// sees it.
		{"build arg change", func(t *testing.T, dir string, args map[string]string) { args["VERSION"] = "1.2.3" }, true},
	}

	for _, b := range bs {
		t.Run(b.Name(), func(t *testing.T) {
			ctx := context.Background()
			work := filepath.Join(t.TempDir(), "service")
			if err := os.CopyFS(work, os.DirFS("../../analyzer/testdata/fixtures/service")); err != nil {
				t.Fatal(err)
			}
			// Layers of this run's own, from the first step: other
			// tests build the same fixture on the same builder, at the
			// same time. BuildKit merges identical steps of concurrent
			// builds and reports them to one build only ("no such step"
			// here); a layer another test made (its dependency bump is
			// this one's) is a hit no prediction from this run's base
			// can see; and the classic builder takes the newest of the
			// images it may reuse, so a --no-cache build of the fixture
			// (bench's cold one) leaves this run's WORKDIR without the
			// children its next build looks for (CI run of 92c8a9c:
			// COPY go.mod go.sum missed after nothing in it changed).
			args := map[string]string{"BASE": ownBase(t, base), "GOPROXY": goproxy, "GOSUMDB": gosumdb}
			opts := BuildOptions{Context: work, BuildArgs: args}
			if IsClassic(b) {
				classicMount(t, ctx, b, opts)
			}
			r, err := b.Build(ctx, opts)
			capture(t, b, "service-cold", r)
			if err != nil {
				t.Fatalf("first build: %v", err)
			}
			agree, total := 0, 0
			for _, sc := range scenarios {
				prev := filepath.Join(t.TempDir(), "prev")
				if err := os.CopyFS(prev, os.DirFS(work)); err != nil {
					t.Fatal(err)
				}
				prevArgs := maps.Clone(args)
				sc.change(t, work, args)
				pred := predict(t, prev, prevArgs, work, args, predictOptions(b)...)
				if reused, found := pred.ModuleDownloadReused(); !found || reused != sc.downloadReused {
					t.Errorf("%s: predicted module download reused=%v (found %v), want %v", sc.name, reused, found, sc.downloadReused)
				}
				res, err := b.Build(ctx, opts)
				capture(t, b, "service-"+strings.ReplaceAll(sc.name, " ", "-"), res)
				if err != nil {
					t.Fatalf("%s: build: %v", sc.name, err)
				}
				a, n, report := compare(pred, res.Steps)
				agree += a
				total += n
				t.Logf("%s with %s: %d/%d steps agree (build %.1fs)\n%s", sc.name, b.Name(), a, n, res.Duration.Seconds(), report)
				if a != n {
					t.Errorf("%s: prediction disagrees with %s on %d of %d steps:\n%s", sc.name, b.Name(), n-a, n, report)
				}
			}
			if total == 0 {
				t.Fatal("no steps compared")
			}

			// A compile error: the build fails, and the go build step,
			// only it, carries the error.
			edit(t, filepath.Join(work, "internal/greet/greet.go"), `"hello, " + id`, `"hello, " + undefinedName`)
			r, err = b.Build(ctx, opts)
			capture(t, b, "service-error", r)
			if err == nil {
				t.Fatal("the build of a service that does not compile succeeded")
			}
			var failed []string
			for _, s := range r.Steps {
				if s.Error != "" {
					failed = append(failed, s.Instruction)
				}
			}
			if len(failed) != 1 || !strings.Contains(failed[0], "go build") {
				t.Errorf("failed build: steps carrying an error %q, want the go build step alone; err %v", failed, err)
			}
			line := fmt.Sprintf("AGREEMENT fixture=service builder=%s %d/%d = %.1f%%", b.Name(), agree, total, 100*float64(agree)/float64(total))
			t.Log(line)
			// go test prints the logs of passing tests only with -v; keep
			// the figure where CI can show it.
			if dir := os.Getenv("CACHECHECK_CI_TMP"); dir != "" {
				f, err := os.OpenFile(filepath.Join(dir, "prediction-agreement.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(f, line)
				f.Close()
			}
		})
	}
}

// classicMount builds the fixture as it is with b, the classic docker
// builder, which refuses RUN --mount: the build must fail at the go build
// step, the refusal its error. Then it takes the cache mount off the
// fixture's Dockerfile in opts.Context, which is what a Dockerfile for the
// classic builder has: the scenarios build that.
func classicMount(t *testing.T, ctx context.Context, b Builder, opts BuildOptions) {
	t.Helper()
	r, err := b.Build(ctx, opts)
	capture(t, b, "service-mount", r)
	if err == nil {
		t.Fatalf("%s built RUN --mount", b.Name())
	}
	var failed []buildlog.Step
	for _, s := range r.Steps {
		if s.Error != "" {
			failed = append(failed, s)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Instruction, "--mount=type=cache") || !strings.Contains(failed[0].Instruction, "go build") ||
		!strings.Contains(failed[0].Error, "--mount option requires BuildKit") {
		t.Fatalf("%s on RUN --mount: failed steps %v, want the go build step alone, refused for its --mount; err %v", b.Name(), failed, err)
	}
	edit(t, filepath.Join(opts.Context, "Dockerfile"), "RUN --mount=type=cache,target=/root/.cache/go-build \\\n    ", "RUN ")
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// predictOptions are the options of analyzer.Predict that decide as b
// does.
func predictOptions(b Builder) []analyzer.PredictOption {
	if IsClassic(b) {
		return []analyzer.PredictOption{analyzer.WithClassicDockerBuilder()}
	}
	return nil
}

func predict(t *testing.T, baseDir string, baseArgs map[string]string, headDir string, args map[string]string, opts ...analyzer.PredictOption) *analyzer.Prediction {
	t.Helper()
	base, err := analyzer.Load(os.DirFS(baseDir), analyzer.WithBuildArgs(baseArgs))
	if err != nil {
		t.Fatal(err)
	}
	head, err := analyzer.Load(os.DirFS(headDir), analyzer.WithBuildArgs(args))
	if err != nil {
		t.Fatal(err)
	}
	p, err := analyzer.Predict(base, head, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// compare lines up the predicted layer steps of each stage with the
// builder's steps of the same stage (FROM and configuration-only steps
// such as buildah's ARG left out) and counts the verdicts that agree.
func compare(p *analyzer.Prediction, steps []buildlog.Step) (agree, total int, report string) {
	// Group the steps by stage, in the order stages first appear (the log
	// readers return each stage's steps in Dockerfile order).
	// The classic docker builder's steps before the first FROM (its ARGs)
	// belong to no stage, and make none.
	var stages [][]buildlog.Step
	group := map[string]int{}
	for _, s := range steps {
		layer := false
		switch s.Kind() {
		case "RUN", "COPY", "ADD", "WORKDIR":
			layer = true
		case "FROM":
		default:
			continue
		}
		g, ok := group[s.Stage]
		if !ok {
			g = len(stages)
			group[s.Stage] = g
			stages = append(stages, nil)
		}
		if layer {
			stages[g] = append(stages[g], s)
		}
	}
	var b strings.Builder
	for i, st := range p.Stages {
		var actual []buildlog.Step
		if i < len(stages) {
			actual = stages[i]
		}
		j := 0
		for _, ps := range st.Steps {
			if ps.Kind == "FROM" {
				continue
			}
			total++
			if j >= len(actual) {
				fmt.Fprintf(&b, "  %-8s %-45.45q predicted %-4s builder: no such step\n", st.Stage, ps.Text, verdict(ps.Hit))
				continue
			}
			a := actual[j]
			j++
			mark := "ok"
			if a.Kind() != ps.Kind {
				mark = "MISALIGNED with " + a.Instruction
			} else if a.Cached == ps.Hit {
				agree++
			} else {
				mark = "DISAGREE"
			}
			fmt.Fprintf(&b, "  %-8s %-45.45q predicted %-4s builder %-4s %s %s\n", st.Stage, ps.Text, verdict(ps.Hit), verdict(a.Cached), mark, ps.Reason)
		}
	}
	return agree, total, b.String()
}

func verdict(hit bool) string {
	if hit {
		return "HIT"
	}
	return "MISS"
}

// TestPredictConfigChange checks where the classic docker builder decides
// differently from BuildKit, against both and against the engine's own
// BuildKit: after a changed ENV the classic builder rebuilds the COPY that
// follows it (it caches every instruction, one after another), BuildKit
// only the RUN that sees it; after a changed LABEL the classic builder
// rebuilds what follows, BuildKit nothing. analyzer.Predict, with
// WithClassicDockerBuilder for the classic builder, must agree with each.
func TestPredictConfigChange(t *testing.T) {
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	classic := dockerBuilder(t)
	withKit := *classic
	withKit.BuildKit = true
	bk := &BuildKit{Addr: testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd")}
	const df = "ARG BASE\nFROM ${BASE}\nARG NONCE\nRUN echo $NONCE > /nonce\nENV MODE=a\nCOPY a.txt /a.txt\nLABEL step=two\nRUN cat /a.txt > /b.txt\n"
	changes := []struct{ name, old, new string }{
		{"ENV", "MODE=a", "MODE=b"},
		{"LABEL", "step=two", "step=three"},
	}
	for _, b := range []Builder{classic, &withKit, bk} {
		t.Run(b.Name(), func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "ctx")
			// The nonce keeps earlier runs' cache out of this one.
			writeFiles(t, dir, map[string]string{"Dockerfile": df, "a.txt": "a\n"})
			args := map[string]string{"BASE": base, "NONCE": fmt.Sprint(time.Now().UnixNano())}
			opts := BuildOptions{Context: dir, BuildArgs: args}
			if _, err := b.Build(ctx, opts); err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				prev := filepath.Join(t.TempDir(), "prev")
				if err := os.CopyFS(prev, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				edit(t, filepath.Join(dir, "Dockerfile"), c.old, c.new)
				pred := predict(t, prev, args, dir, args, predictOptions(b)...)
				res, err := b.Build(ctx, opts)
				if err != nil {
					t.Fatalf("%s changed: %v", c.name, err)
				}
				a, n, report := compare(pred, res.Steps)
				t.Logf("%s changed, %s: %d/%d steps agree\n%s", c.name, b.Name(), a, n, report)
				if a != n || n != 3 {
					t.Errorf("%s changed: prediction disagrees with %s on %d of %d steps (want 3 compared):\n%s", c.name, b.Name(), n-a, n, report)
				}
				// The check can fail: the builders decide differently,
				// as the model says.
				var got []string
				for _, s := range res.Steps {
					switch s.Kind() {
					case "RUN", "COPY":
						got = append(got, fmt.Sprintf("%s:%v", s.Kind(), s.Cached))
					}
				}
				want := map[string]map[bool]string{
					"ENV":   {true: "RUN:true COPY:false RUN:false", false: "RUN:true COPY:true RUN:false"},
					"LABEL": {true: "RUN:true COPY:true RUN:false", false: "RUN:true COPY:true RUN:true"},
				}[c.name][IsClassic(b)]
				if strings.Join(got, " ") != want {
					t.Errorf("%s changed, %s cached %v, want %s", c.name, b.Name(), got, want)
				}
			}
		})
	}
}

// ownBase pushes, next to base, an image of the same layers whose config
// carries a label naming the test and the time, and returns it by digest:
// every layer a build makes FROM it is the test run's own, on every
// builder, whatever other tests build at the same time.
func ownBase(t *testing.T, base string) string {
	t.Helper()
	ref, err := name.ParseReference(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("reading the test base image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	cf.Config.Labels["test.cachecheck.run"] = fmt.Sprintf("%s %d", t.Name(), time.Now().UnixNano())
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	own := ref.Context().Digest(d.String())
	if err := remote.Write(own, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("pushing the test's own base image: %v", err)
	}
	return own.String()
}
