package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// realPool are real public modules, with one package of each that a
// module of the generated monorepo imports.
var realPool = []struct{ path, version, pkg string }{
	{"github.com/google/uuid", "v1.6.0", ""},
	{"github.com/BurntSushi/toml", "v1.6.0", ""},
	{"github.com/google/go-cmp", "v0.7.0", "/cmp"},
	{"go.uber.org/multierr", "v1.11.0", ""},
	{"github.com/dustin/go-humanize", "v1.1.0", ""},
	{"github.com/gorilla/mux", "v1.8.1", ""},
	{"github.com/go-chi/chi/v5", "v5.5.0", ""},
	{"github.com/rs/zerolog", "v1.35.1", ""},
	{"golang.org/x/time", "v0.16.0", "/rate"},
	{"github.com/cenkalti/backoff/v4", "v4.3.0", ""},
	{"github.com/hashicorp/go-version", "v1.9.0", ""},
	{"github.com/Masterminds/semver/v3", "v3.5.0", ""},
	{"github.com/pkg/errors", "v0.9.1", ""},
	{"gopkg.in/yaml.v3", "v3.0.1", ""},
	{"github.com/cespare/xxhash/v2", "v2.3.0", ""},
	{"github.com/fatih/color", "v1.18.0", ""},
	{"golang.org/x/mod", "v0.43.0", "/semver"},
	{"github.com/sirupsen/logrus", "v1.10.2", ""},
}

// realMonorepo writes a repository of n modules under services/, each
// requiring 3 to 7 modules of realPool (overlapping, as the services of a
// real monorepo do), tidied with the go command through the module proxy
// into a module cache of the test's. It returns the root and the
// environment for cachecheck: that module cache as a file:// GOPROXY (the
// real modules, without fetching them again for every warm).
func realMonorepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	modcache := t.TempDir()
	root := t.TempDir()
	r := rand.New(rand.NewPCG(17, uint64(n)))
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	// The first tidy fills the module cache; the rest run 4 at a time.
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, "services", fmt.Sprintf("svc%02d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		picks := r.Perm(len(realPool))[:3+r.IntN(5)]
		slices.Sort(picks)
		var gomod, imports strings.Builder
		fmt.Fprintf(&gomod, "module example.com/mono/svc%02d\n\ngo 1.23\n\nrequire (\n", i)
		for _, p := range picks {
			m := realPool[p]
			fmt.Fprintf(&gomod, "\t%s %s\n", m.path, m.version)
			fmt.Fprintf(&imports, "\t_ %q\n", m.path+m.pkg)
		}
		gomod.WriteString(")\n")
		main := fmt.Sprintf("package main\n\nimport (\n%s)\n\nfunc main() {}\n", imports.String())
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
			t.Fatal(err)
		}
		tidy := func() {
			cmd := exec.Command("go", "mod", "tidy")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOMODCACHE="+modcache, "GOFLAGS=-modcacherw", "GOWORK=off", "GOTOOLCHAIN=local")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go mod tidy in %s: %v\n%s", dir, err, out)
			}
		}
		if i == 0 {
			tidy()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tidy()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The go command writes no .info for a version go.mod names exactly;
	// a file:// proxy must serve one for each .mod.
	download := filepath.Join(modcache, "cache", "download")
	err := filepath.WalkDir(download, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".mod") || filepath.Base(filepath.Dir(path)) != "@v" {
			return err
		}
		info := strings.TrimSuffix(path, ".mod") + ".info"
		if _, err := os.Stat(info); err == nil {
			return nil
		}
		v := strings.TrimSuffix(filepath.Base(path), ".mod")
		return os.WriteFile(info, []byte(`{"Version":"`+v+`"}`), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOPROXY", "GOSUMDB", "GOFLAGS", "GOMODCACHE", "HOME", "TMPDIR", "GOCACHE", "GOPATH":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GOPROXY=file://"+download, "GOSUMDB=off", "GOTOOLCHAIN=local")
	return root, env
}

type shardDoc struct {
	Shard string
	Units []struct {
		Dir    string
		Result string
		Error  string
		Warm   *struct {
			Tag   string
			Ref   string
			Bytes struct{ Written int64 }
		}
	}
	Built, Hit, Failed int
}

// TestWarmAllMatrix is the nightly job across a CI matrix, measured: a
// monorepo of 44 modules with real public dependencies, warmed by 4 shards
// run as 4 concurrent processes (each with its own TMPDIR and HOME) into
// one registry, against a single runner's warm --all into another. Every
// key is published by exactly one shard, every image is whole and the
// single runner's image of the key, the bytes sent are the images' blobs
// once but for layers two shards upload at the same moment, and --check
// then passes (and fails, naming it, for a module added since).
func TestWarmAllMatrix(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	const modules, shards = 44, 4
	root, env := realMonorepo(t, modules)
	stamp := time.Now().UnixNano()
	single := fmt.Sprintf("%s/matrix/single-%d", reg, stamp)
	sharded := fmt.Sprintf("%s/matrix/sharded-%d", reg, stamp)
	ownEnv := func() []string {
		return append(slices.Clone(env), "HOME="+t.TempDir(), "TMPDIR="+t.TempDir())
	}

	t0 := time.Now()
	stdout, stderr, code := run(t, root, ownEnv(), "warm", "--all", "--format", "json", "--insecure", "--to", single, ".")
	singleSecs := time.Since(t0).Seconds()
	if code != 0 {
		t.Fatalf("warm --all: exit %d\n%s", code, stderr)
	}
	var one shardDoc
	if err := json.Unmarshal([]byte(stdout), &one); err != nil {
		t.Fatal(err)
	}
	if one.Built != modules {
		t.Fatalf("warm --all built %d of %d modules", one.Built, modules)
	}
	var singleBytes int64
	for _, u := range one.Units {
		singleBytes += u.Warm.Bytes.Written
	}

	// The plan: one shard per key to warm, at most 4.
	stdout, stderr, code = run(t, root, ownEnv(), "warm", "--all", "--plan", "--format", "json", "--max-shards", fmt.Sprint(shards), "--insecure", "--to", sharded, ".")
	if code != 0 || strings.TrimSpace(stdout) != `{"include":[{"shard":"1/4"},{"shard":"2/4"},{"shard":"3/4"},{"shard":"4/4"}]}` {
		t.Fatalf("warm --all --plan: exit %d, %s\n%s", code, stdout, stderr)
	}

	// The matrix: 4 processes at once.
	docs := make([]shardDoc, shards)
	secs := make([]float64, shards)
	var wg sync.WaitGroup
	t0 = time.Now()
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			spec := fmt.Sprintf("%d/%d", i+1, shards)
			stdout, stderr, code := run(t, root, ownEnv(), "warm", "--all", "--shard", spec, "--format", "json", "--insecure", "--to", sharded, ".")
			secs[i] = time.Since(t0).Seconds()
			if code != 0 {
				t.Errorf("warm --all --shard %s: exit %d\n%s", spec, code, stderr)
				return
			}
			if err := json.Unmarshal([]byte(stdout), &docs[i]); err != nil {
				t.Errorf("warm --all --shard %s: %v\n%s", spec, err, stdout)
			}
		}()
	}
	wg.Wait()
	matrixSecs := time.Since(t0).Seconds()
	if t.Failed() {
		t.FailNow()
	}
	warmedBy := map[string][]string{}
	var shardedBytes int64
	var tags []string
	shardOf := map[string]int{} // tag → the shard that published it
	for i, d := range docs {
		for _, u := range d.Units {
			warmedBy[u.Dir] = append(warmedBy[u.Dir], d.Shard)
			if u.Result != "built" || u.Warm == nil {
				t.Errorf("shard %d/%d: %s %s %s; want built", i+1, shards, u.Dir, u.Result, u.Error)
				continue
			}
			shardedBytes += u.Warm.Bytes.Written
			tags = append(tags, u.Warm.Tag)
			shardOf[u.Warm.Tag] = i
		}
		t.Logf("MATRIX shard %d/%d: %d modules built in %.1f s", i+1, shards, d.Built, secs[i])
	}
	for _, u := range one.Units {
		if by := warmedBy[u.Dir]; len(by) != 1 {
			t.Errorf("%s warmed by shards %v; want exactly one", u.Dir, by)
		}
	}
	if len(warmedBy) != modules {
		t.Errorf("the shards warmed %d modules, want %d", len(warmedBy), modules)
	}

	// Every image the shards published is whole (manifest, config and
	// layers, each of the size and digest its descriptor says) and the
	// very image the single runner published for that key.
	seen := map[v1.Hash]bool{}
	shardsOf := map[v1.Hash]map[int]bool{} // layer → the shards whose images hold it
	sizeOf := map[v1.Hash]int64{}
	var atRest int64 // the bytes of the published images, each blob once
	var layersAtRest int64
	for _, tag := range tags {
		ref, err := name.ParseReference(sharded+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if err := validate.Image(img, validate.Fast); err != nil {
			t.Errorf("%s is not whole: %v", ref, err)
		}
		singleRef, err := name.ParseReference(single+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		want, err := remote.Head(singleRef)
		if err != nil {
			t.Errorf("the single runner published no %s: %v", tag, err)
		} else if got, err := img.Digest(); err != nil || got != want.Digest {
			t.Errorf("%s: the shard published %v, the single runner %v; want the same image", tag, got, want.Digest)
		}
		rawConfig, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		rawManifest, err := img.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		atRest += int64(len(rawConfig) + len(rawManifest))
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if shardsOf[d] == nil {
				shardsOf[d] = map[int]bool{}
			}
			shardsOf[d][shardOf[tag]] = true
			if seen[d] {
				continue
			}
			seen[d] = true
			if sizeOf[d], err = l.Size(); err != nil {
				t.Fatal(err)
			}
			atRest += sizeOf[d]
			layersAtRest += sizeOf[d]
			if err := blobIsWhole(l, d); err != nil {
				t.Errorf("%s: layer %s: %v", ref, d, err)
			}
		}
	}

	// Bytes sent: a layer that units of several shards share goes once
	// from the shard that gets there first, and the others find it, unless
	// two upload it at the same moment (each has checked that it is not
	// there yet): the registry keeps one, but both were sent. So the shards
	// send at most the images' blobs once each, plus each shared layer
	// once more for every further shard that holds it.
	var racy int64
	for d, by := range shardsOf {
		racy += int64(len(by)-1) * sizeOf[d]
	}
	ratio := float64(shardedBytes) / float64(singleBytes)
	t.Logf("MATRIX %d modules, single runner: %.1f s, %s sent; %d shards at once: %.1f s, %s sent (%.3f× the single runner's bytes); the images' blobs %s, of which layers in several shards' images %s a further shard",
		modules, singleSecs, mib(singleBytes), shards, matrixSecs, mib(shardedBytes), ratio, mib(atRest), mib(racy))
	if shardedBytes > atRest+racy {
		t.Errorf("the shards sent %s; want at most the images' blobs once, %s, and the shared layers once per further shard, %s: a blob was sent that was already there", mib(shardedBytes), mib(atRest), mib(racy))
	}
	// Within one process, warms that share a layer wait for each other's
	// upload of it: the single runner sends every blob once.
	if singleBytes > atRest {
		t.Errorf("the single runner sent %s; want at most the images' blobs once, %s", mib(singleBytes), mib(atRest))
	}
	if shardedBytes < layersAtRest {
		t.Errorf("the shards sent %s, less than the images' layers, %s, which were all sent to a new repository: the count of bytes sent is wrong", mib(shardedBytes), mib(layersAtRest))
	}

	// The summary job.
	stdout, stderr, code = run(t, root, ownEnv(), "warm", "--all", "--check", "--insecure", "--to", sharded, ".")
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("%d of %d units have their image", modules, modules)) {
		t.Fatalf("warm --all --check after the matrix: exit %d\n%s%s", code, stdout, stderr)
	}
	// The next night, nothing to warm: a matrix of one shard.
	stdout, stderr, code = run(t, root, ownEnv(), "warm", "--all", "--plan", "--format", "json", "--insecure", "--to", sharded, ".")
	if code != 0 || strings.TrimSpace(stdout) != `{"include":[{"shard":"1/1"}]}` {
		t.Errorf("warm --all --plan after the matrix: exit %d, %s; want one shard\n%s", code, stdout, stderr)
	}
	// A module added since has no image: --check fails and names it.
	added := filepath.Join(root, "services", "svc-new")
	if err := os.MkdirAll(added, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(added, "go.mod"), []byte("module example.com/mono/new\n\ngo 1.23\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run(t, root, ownEnv(), "warm", "--all", "--check", "--insecure", "--to", sharded, ".")
	if code != 1 || !strings.Contains(stderr, "1 of 45 units have no image") || !strings.Contains(stderr, "services/svc-new") {
		t.Errorf("warm --all --check with a module not warmed: exit %d, want 1 naming services/svc-new\n%s%s", code, stdout, stderr)
	}
}

// blobIsWhole reads the layer's blob and checks its digest and size.
func blobIsWhole(l v1.Layer, want v1.Hash) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() || n != size {
		return fmt.Errorf("read %d bytes of digest %s, want %d bytes of %s", n, got, size, want)
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
