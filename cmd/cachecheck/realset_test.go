package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
)

// realSet is a real public module whose own module set is warmed: 161
// modules, 1.1 GB extracted, with go:embed-free templates (*.tmpl), lock files
// (viper's flake.lock, Gopkg.lock, Cargo.lock) and the like among them.
const realSet = "github.com/google/ko@v0.19.1"

// TestWarmRealModuleSet warms the module set of realSet into the real
// registry with both contents, reads the image back with independent tools
// (skopeo copies it into an OCI layout, GNU tar unpacks its layers in
// order), then, offline against the unpacked module cache, runs `go mod
// verify` and builds the main package.
func TestWarmRealModuleSet(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry (and skopeo)")
	start := time.Now()
	work := t.TempDir()
	t.Cleanup(func() { modloadtest.RemoveAll(work) })
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")

	// The source of the module, and its module set through the Go module
	// proxy once; the warms below take the modules from that download,
	// served as a file proxy, so the set crosses the network once.
	srcCache := filepath.Join(work, "src-cache")
	out := goCmd(t, work, append(slices.Clone(env), "GOMODCACHE="+srcCache), "mod", "download", "-json", realSet)
	var m struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("go mod download %s: %v\n%s", realSet, err, out)
	}
	src := copyApp(t, m.Dir)
	setCache := filepath.Join(work, "set-cache")
	setEnv := append(slices.Clone(env), "GOMODCACHE="+setCache)
	goCmd(t, src, setEnv, "mod", "download")
	n := strings.Count(goCmd(t, src, append(setEnv, "GOPROXY=off"), "mod", "download", "-json"), `"Path"`)
	if n < 100 {
		t.Fatalf("%s downloads %d modules, want at least 100", realSet, n)
	}
	t.Logf("%s: %d modules downloaded in %.0f s", realSet, n, time.Since(start).Seconds())

	warmEnv := append(slices.Clone(env),
		"GOPROXY=file://"+filepath.ToSlash(filepath.Join(setCache, "cache", "download")),
		"GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=")
	gocache := filepath.Join(work, "gocache")
	for _, contents := range []string{"full", "zips"} {
		t.Run(contents, func(t *testing.T) {
			t0 := time.Now()
			w := warm(t, src, warmEnv, "--to", reg+"/realset", "--insecure", "--contents", contents, "-q")
			if w.Modules != n {
				t.Errorf("warm published %d modules, want %d", w.Modules, n)
			}
			tWarm := time.Since(t0)

			// An independent reader: skopeo copies the image into an OCI
			// layout; tar unpacks each layer blob in manifest order.
			layout := filepath.Join(work, "layout-"+contents)
			skopeo(t, "copy", "--src-tls-verify=false", "docker://"+reg+"/realset:"+w.Tag, "oci:"+layout+":deps")
			root := filepath.Join(work, "root-"+contents)
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, blob := range layerBlobs(t, layout) {
				if out, err := exec.Command("tar", "-x", "-z", "-f", blob, "-C", root).CombinedOutput(); err != nil {
					t.Fatalf("tar -x %s: %v\n%s", blob, err, out)
				}
			}
			modCache := filepath.Join(root, "go", "pkg", "mod")
			offline := append(slices.Clone(env), "GOMODCACHE="+modCache, "GOPROXY=off", "GOFLAGS=-mod=mod", "GOCACHE="+gocache)
			if contents == "zips" {
				// The go command extracts the trees from the zips, offline.
				goCmd(t, src, offline, "mod", "download")
			}
			if out := goCmd(t, src, offline, "mod", "verify"); strings.TrimSpace(out) != "all modules verified" {
				t.Errorf("go mod verify on the unpacked image:\n%s", out)
			}
			t1 := time.Now()
			goCmd(t, src, offline, "build", "-trimpath", "-o", filepath.Join(work, "ko-"+contents), ".")
			t.Logf("--contents %s: warm %.0f s, offline build %.0f s", contents, tWarm.Seconds(), time.Since(t1).Seconds())
		})
	}
}

// layerBlobs returns the files of the layers of the image tagged "deps" in
// an OCI layout, in the order of its manifest.
func layerBlobs(t *testing.T, layout string) []string {
	t.Helper()
	blob := func(digest string) string {
		alg, hex, _ := strings.Cut(digest, ":")
		return filepath.Join(layout, "blobs", alg, hex)
	}
	var index struct {
		Manifests []struct{ Digest string }
	}
	var manifest struct {
		Layers []struct{ Digest string }
	}
	readJSON(t, filepath.Join(layout, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("%s: %d manifests, want 1", layout, len(index.Manifests))
	}
	readJSON(t, blob(index.Manifests[0].Digest), &manifest)
	var blobs []string
	for _, l := range manifest.Layers {
		blobs = append(blobs, blob(l.Digest))
	}
	return blobs
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// goCmd runs the go command in dir with env and returns its standard
// output, failing the test with its standard error if it fails.
func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr)
	}
	return string(out)
}
