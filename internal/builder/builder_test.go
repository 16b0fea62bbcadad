package builder

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var captureDir = flag.String("capture", "", "write each build's raw output into this directory as BUILDER-NAME.EXT (for analyzer/buildlog/testdata)")

// builders returns the builders .ci/test.sh starts.
func builders(t *testing.T) []Builder {
	t.Helper()
	addr := testenv.Getenv(t, "CACHECHECK_BUILDKIT_ADDR", "buildkitd")
	bs := []Builder{&BuildKit{Addr: addr}}
	if testenv.Getenv(t, "CACHECHECK_BUILDAH", "buildah") == "1" {
		root := testenv.Getenv(t, "CACHECHECK_BUILDAH_ROOT", "buildah's storage")
		bs = append(bs, &Buildah{Root: filepath.Join(root, "root"), RunRoot: filepath.Join(root, "runroot")})
	}
	root := testenv.Getenv(t, "CACHECHECK_PODMAN_ROOT", "podman (.ci/setup.d/31-podman.sh)")
	bs = append(bs, &Podman{Root: filepath.Join(root, "root"), RunRoot: filepath.Join(root, "runroot")})
	classic := dockerBuilder(t)
	withKit := *classic
	withKit.BuildKit = true
	return append(bs, classic, &withKit)
}

// dockerBuilder returns the classic builder of the docker engine
// .ci/setup.d/32-docker.sh starts.
func dockerBuilder(t *testing.T) *Docker {
	t.Helper()
	return &Docker{
		Host:    testenv.Getenv(t, "CACHECHECK_DOCKER_HOST", "dockerd (.ci/setup.d/32-docker.sh)"),
		Bin:     testenv.Getenv(t, "CACHECHECK_DOCKER_BIN", "the docker command (.ci/setup.d/32-docker.sh)"),
		Network: testenv.Getenv(t, "CACHECHECK_DOCKER_NETWORK", "the network of docker builds (.ci/setup.d/32-docker.sh)"),
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// logExt is the extension the build log tests read a builder's
// output by (analyzer/buildlog/read_test.go).
var logExt = map[string]string{"buildkit": ".rawjson", "buildah": ".log", "podman": ".podman", "docker": ".docker", "docker-buildkit": ".plain"}

// capture writes the output of b's build into the -capture directory as
// BUILDER-NAME.EXT.
func capture(t *testing.T, b Builder, name string, r *Result) {
	t.Helper()
	if *captureDir == "" || r == nil {
		return
	}
	if err := os.WriteFile(filepath.Join(*captureDir, b.Name()+"-"+name+logExt[b.Name()]), r.Output, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuild builds a small Dockerfile twice and then with one file changed:
// the second build must be cached throughout, the third must rebuild from
// the COPY of the changed file on, and a failing RUN must be reported as
// that step's error.
func TestBuild(t *testing.T) {
	base := testenv.Getenv(t, "CACHECHECK_BASE_IMAGE", "the test base image (.ci/setup.d/20-baseimage.sh)")
	for _, b := range builders(t) {
		t.Run(b.Name(), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			// The nonce keeps earlier runs' cache out of this one (the
			// temporary directory's name alone repeats from run to run).
			nonce := fmt.Sprintf("%s-%d", filepath.Base(dir), time.Now().UnixNano())
			writeFiles(t, dir, map[string]string{
				"Dockerfile": "ARG BASE\nFROM ${BASE} AS build\nARG NONCE\nRUN echo $NONCE > /nonce\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\nRUN cat /a.txt /b.txt > /ab.txt\n",
				"a.txt":      "a\n",
				"b.txt":      "b\n",
			})
			opts := BuildOptions{Context: dir, BuildArgs: map[string]string{"BASE": base, "NONCE": nonce}}
			kinds := func(r *Result) string {
				var s []string
				for _, st := range r.Steps {
					if st.Kind() == "FROM" || st.Kind() == "ARG" {
						continue
					}
					c := "miss"
					if st.Cached {
						c = "hit"
					}
					s = append(s, st.Kind()+":"+c)
				}
				return strings.Join(s, " ")
			}
			r, err := b.Build(ctx, opts)
			capture(t, b, "cold", r)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := kinds(r), "RUN:miss COPY:miss COPY:miss RUN:miss"; got != want {
				t.Errorf("cold build: %s, want %s", got, want)
			}
			r, err = b.Build(ctx, opts)
			capture(t, b, "warm", r)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := kinds(r), "RUN:hit COPY:hit COPY:hit RUN:hit"; got != want {
				t.Errorf("unchanged rebuild: %s, want %s", got, want)
			}
			writeFiles(t, dir, map[string]string{"b.txt": "b changed\n"})
			r, err = b.Build(ctx, opts)
			capture(t, b, "change", r)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := kinds(r), "RUN:hit COPY:hit COPY:miss RUN:miss"; got != want {
				t.Errorf("after changing b.txt: %s, want %s", got, want)
			}

			// With a tag, BuildKit pushes the image to the registry.
			if bk, ok := b.(*BuildKit); ok {
				reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the loopback registry")
				tag := reg + "/cachecheck/buildertest:" + nonce
				if _, err := bk.Build(ctx, BuildOptions{Context: dir, BuildArgs: opts.BuildArgs, Tag: tag}); err != nil {
					t.Fatal(err)
				}
				ref, err := name.ParseReference(tag)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := remote.Head(ref); err != nil {
					t.Errorf("the image BuildKit pushed to %s: %v", tag, err)
				}
			}

			writeFiles(t, dir, map[string]string{"Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo failing; exit 3\n"})
			r, err = b.Build(ctx, opts)
			capture(t, b, "error", r)
			if err == nil {
				t.Fatal("a build whose RUN exits 3 succeeded")
			}
			if r == nil || len(r.Steps) == 0 || r.Steps[len(r.Steps)-1].Error == "" {
				t.Fatalf("failed build: no step carries the error; steps %v; err %v", r.Steps, err)
			}
		})
	}
}
