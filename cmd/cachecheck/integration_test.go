package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// These tests run the cachecheck binary against the real distribution
// registries .ci/setup.d starts, and check what it pushed with skopeo, an
// independent client.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// cachecheckBin builds the cachecheck command once per test binary.
func cachecheckBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cachecheck-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cachecheck")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// run runs cachecheck in dir with env and returns stdout, stderr and the
// exit code.
func run(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(cachecheckBin(t), args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

type warmResult struct {
	Hit     bool   `json:"hit"`
	Tag     string `json:"tag"`
	Ref     string `json:"ref"`
	Digest  string `json:"digest"`
	Modules int    `json:"modules"`
	Layers  struct{ New, Reused int }
}

func warm(t *testing.T, dir string, env []string, args ...string) warmResult {
	t.Helper()
	stdout, stderr, code := run(t, dir, env, append([]string{"warm", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("cachecheck warm %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	var r warmResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("warm output: %v\n%s", err, stdout)
	}
	return r
}

// fixtureEnv returns the fixture's environment without SOURCE_DATE_EPOCH,
// DOCKER_CONFIG and SSL_CERT_FILE, plus extra.
func fixtureEnv(f *modloadtest.Fixture, extra ...string) []string {
	var env []string
	for _, kv := range f.Env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SOURCE_DATE_EPOCH", "DOCKER_CONFIG", "SSL_CERT_FILE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// copyApp copies the fixture's application into a new directory, with new
// modification times.
func copyApp(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(rel, ".cachecheck") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("skopeo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestWarmPlainRegistry(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	f := modloadtest.NewFixture(t, "v1.0.0")
	env := fixtureEnv(f)
	repo := fmt.Sprintf("%s/plain/app-deps-%d", reg, time.Now().UnixNano())

	first := warm(t, f.App, env, "--to", repo)
	if first.Hit || first.Layers.New == 0 {
		t.Fatalf("first warm = %+v, want a miss with new layers", first)
	}
	if want := repo + ":" + first.Tag + "@" + first.Digest; first.Ref != want {
		t.Errorf("ref %q, want %q", first.Ref, want)
	}
	if again := warm(t, f.App, env, "--to", repo); !again.Hit || again.Digest != first.Digest {
		t.Errorf("second warm = %+v, want a hit on %s", again, first.Digest)
	}

	// skopeo, another client, reads and copies what was pushed.
	var inspect struct{ Digest string }
	out := skopeo(t, "inspect", "--tls-verify=false", "docker://"+repo+":"+first.Tag)
	if err := json.Unmarshal([]byte(out), &inspect); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if inspect.Digest != first.Digest {
		t.Errorf("skopeo inspect digest %s, want %s", inspect.Digest, first.Digest)
	}
	oci := t.TempDir()
	skopeo(t, "copy", "--insecure-policy", "--src-tls-verify=false", "docker://"+repo+"@"+first.Digest, "oci:"+oci+":deps")

	// Pull it back, unpack it in an empty directory, build offline from it.
	ref, err := name.ParseReference(repo + "@" + first.Digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	t.Cleanup(func() { modloadtest.RemoveAll(root) })
	testenv.Untar(t, mutate.Extract(img), root)
	app := copyApp(t, f.App)
	build := exec.Command("go", "build", "-o", os.DevNull, "./...")
	build.Dir = app
	build.Env = append(fixtureEnv(f), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOMODCACHE="+filepath.Join(root, "go", "pkg", "mod"), "GOCACHE="+t.TempDir())
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("offline build from the pulled deps image: %v\n%s", err, out)
	}

	// Reproducible: another copy of the module, later, to another
	// repository and to an OCI layout, gives the same manifest digest.
	time.Sleep(1100 * time.Millisecond)
	other := copyApp(t, f.App)
	second := warm(t, other, env, "--to", repo+"-again")
	if second.Hit || second.Digest != first.Digest {
		t.Errorf("warm of a copy = %+v, want a miss with digest %s", second, first.Digest)
	}
	layout := warm(t, other, env, "--to", "oci:"+filepath.Join(t.TempDir(), "oci"))
	if layout.Digest != first.Digest {
		t.Errorf("warm to an OCI layout: digest %s, want the registry's %s", layout.Digest, first.Digest)
	}

	// ref prints what warm printed.
	stdout, stderr, code := run(t, f.App, env, "ref", "--to", repo)
	if code != 0 || strings.TrimSpace(stdout) != first.Ref {
		t.Errorf("ref = %q (exit %d, %s), want %q", stdout, code, stderr, first.Ref)
	}
}

// dockerConfig writes a Docker config holding user:password for host and
// returns its directory, for DOCKER_CONFIG.
func dockerConfig(t *testing.T, host, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWarmSecureRegistry(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY_SECURE", "the registry with TLS and htpasswd")
	user := testenv.Getenv(t, "CACHECHECK_REGISTRY_USER", "the registry with TLS and htpasswd")
	password := testenv.Getenv(t, "CACHECHECK_REGISTRY_PASSWORD", "the registry with TLS and htpasswd")
	ca := testenv.Getenv(t, "CACHECHECK_REGISTRY_CA", "the registry with TLS and htpasswd")
	certDir := testenv.Getenv(t, "CACHECHECK_REGISTRY_CERT_DIR", "the registry with TLS and htpasswd")
	f := modloadtest.NewFixture(t, "v1.0.0")
	repo := fmt.Sprintf("%s/secure/app-deps-%d", reg, time.Now().UnixNano())
	good := fixtureEnv(f, "DOCKER_CONFIG="+dockerConfig(t, reg, user, password), "SSL_CERT_FILE="+ca)
	basicAuth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))

	// TLS is verified: without the CA, the certificate is refused.
	_, stderr, code := run(t, f.App, fixtureEnv(f, "DOCKER_CONFIG="+dockerConfig(t, reg, user, password)), "warm", "--to", repo)
	if code != 1 || !strings.Contains(stderr, "certificate") {
		t.Errorf("warm without the CA: exit %d, %s; want exit 1 and a certificate error", code, stderr)
	}

	// --insecure skips the verification.
	if _, stderr, code := run(t, f.App, fixtureEnv(f, "DOCKER_CONFIG="+dockerConfig(t, reg, user, password)), "warm", "-q", "--insecure", "--to", repo+"-insecure"); code != 0 {
		t.Errorf("warm --insecure without the CA: exit %d, %s", code, stderr)
	}

	// A wrong password: a clear 401, no tag, no credentials printed.
	wrong := fixtureEnv(f, "DOCKER_CONFIG="+dockerConfig(t, reg, user, "wrong-"+password), "SSL_CERT_FILE="+ca)
	stdout, stderr, code := run(t, f.App, wrong, "warm", "--to", repo)
	if code != 1 || !strings.Contains(stderr, "401") && !strings.Contains(stderr, "UNAUTHORIZED") {
		t.Errorf("warm with a wrong password: exit %d, %s; want exit 1 and a 401", code, stderr)
	}
	for _, secret := range []string{password, basicAuth} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("warm with a wrong password printed a credential: %s%s", stdout, stderr)
		}
	}
	_, stderr, code = run(t, f.App, good, "ref", "--to", repo)
	if code != 1 || !strings.Contains(stderr, "no deps image") {
		t.Errorf("ref after the refused warm: exit %d, %s; want no deps image", code, stderr)
	}

	// The right password: published; skopeo reads it with the CA.
	stdout, stderr, code = run(t, f.App, good, "warm", "--format", "json", "--to", repo)
	if code != 0 {
		t.Fatalf("warm: exit %d\n%s", code, stderr)
	}
	var r warmResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	logs := stdout + stderr
	out := skopeo(t, "inspect", "--cert-dir", certDir, "--creds", user+":"+password, "docker://"+repo+":"+r.Tag)
	if !strings.Contains(out, r.Digest) {
		t.Errorf("skopeo inspect does not show digest %s:\n%s", r.Digest, out)
	}
	skopeo(t, "copy", "--insecure-policy", "--src-cert-dir", certDir, "--src-creds", user+":"+password,
		"docker://"+repo+"@"+r.Digest, "oci:"+t.TempDir()+":deps")
	stdout, stderr, _ = run(t, f.App, good, "ref", "--to", repo)
	logs += stdout + stderr

	// No credential in any pushed blob, the config, the history, the
	// manifest, or what cachecheck printed.
	blobs := skopeoBlobs(t, certDir, user, password, repo+"@"+r.Digest)
	if len(blobs) < 3 {
		t.Fatalf("copied %d blobs, want a manifest, a config and layers", len(blobs))
	}
	for name, data := range blobs {
		for _, secret := range []string{password, basicAuth} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("blob %s holds a credential", name)
			}
		}
	}
	for _, secret := range []string{password, basicAuth} {
		if strings.Contains(logs, secret) {
			t.Errorf("cachecheck printed a credential")
		}
	}
}

// skopeoBlobs copies ref into a directory with skopeo and returns every
// file of it, layers decompressed.
func skopeoBlobs(t *testing.T, certDir, user, password, ref string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	skopeo(t, "copy", "--insecure-policy", "--src-cert-dir", certDir, "--src-creds", user+":"+password,
		"docker://"+ref, "dir:"+dir)
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
		if un, err := gunzip(data); err == nil {
			out[e.Name()+" (uncompressed)"] = un
		}
	}
	return out
}

func gunzip(data []byte) ([]byte, error) {
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(data)
	return cmd.Output()
}

// TestWarmTarballSkopeo: skopeo reads the docker load tarball warm writes.
// skopeo comes with the registry setup, hence the variable.
func TestWarmTarballSkopeo(t *testing.T) {
	testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry (and skopeo)")
	f := modloadtest.NewFixture(t, "v1.0.0")
	file := filepath.Join(t.TempDir(), "deps.tar")
	w := warm(t, f.App, fixtureEnv(f), "--to", "tarball:"+file)
	out := skopeo(t, "inspect", "docker-archive:"+file)
	if !strings.Contains(out, `"Layers"`) || !strings.Contains(out, "org.cachecheck.key") {
		t.Errorf("skopeo inspect of the tarball:\n%s", out)
	}
	if !strings.HasPrefix(w.Ref, "cachecheck-deps:ck1-") {
		t.Errorf("tarball ref %q, want cachecheck-deps:ck1-…", w.Ref)
	}
}
